"""Generated hostile sessions: every mutation of a valid file opens a fully valid Session or raises SessionReadError.

Never another exception, never a half-valid Session (``assert_valid`` checks what comes back). The cases are
derandomised, so CI sees the same ones; ``COUNTS`` tallies the outcomes per class (printed by the last test).
"""

import collections
import io
import json
import struct
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_session_forge import arrays_of, assert_valid, good_bytes, members, meta_of, with_arrays, with_meta, zip_of

from shapeviewer.io.session import SessionReadError, read_session

GOOD = good_bytes()
META = meta_of(GOOD)
ARRAYS = sorted(name[:-4] for name in arrays_of(GOOD))
COUNTS = collections.defaultdict(collections.Counter)
GENERATED = settings(
    max_examples=60, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)  # fmt: skip


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


def opens_or_refuses(work, kind: str, data: bytes) -> None:
    """The property: a fully valid Session, or one line naming the file; anything else fails the test."""
    path = work / "case.svsession"
    path.write_bytes(data)
    try:
        session = read_session(path)
    except SessionReadError as exc:
        assert str(exc).startswith(f"{path}: ") and "\n" not in str(exc)
        COUNTS[kind]["refused"] += 1
        return
    assert_valid(session)
    COUNTS[kind]["opened"] += 1


@pytest.mark.parametrize("cut", range(0, 81))
def test_truncated(work, cut):
    opens_or_refuses(work, "truncated", GOOD[: len(GOOD) * cut // 81])


@GENERATED
@given(flips=st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(1, 255)), min_size=1, max_size=8))
def test_flipped_bytes(work, flips):
    data = bytearray(GOOD)
    for at, mask in flips:
        data[at] ^= mask
    opens_or_refuses(work, "flipped bytes", bytes(data))


@GENERATED
@given(member=st.sampled_from(["session.json", "arrays.npz", *ARRAYS]), content=st.binary(max_size=400))
def test_member_replaced_by_random_bytes(work, member, content):
    data = with_arrays(GOOD, **{member: content}) if member in ARRAYS else zip_of(members(GOOD) | {member: content})
    opens_or_refuses(work, "random member", data)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
RESULT_KEYS = sorted(META["result"])


@GENERATED
@given(key=st.sampled_from(sorted(META) + ["result." + k for k in RESULT_KEYS] + ["extra"]), value=JSON)
def test_random_json_value_for_each_key(work, key, value):
    meta = json.loads(json.dumps(META))
    where, _, sub = key.partition(".")
    (meta[where] if sub else meta)[sub or where] = value
    opens_or_refuses(work, "random json value", with_meta(GOOD, json.dumps(meta).encode()))


DTYPES = st.sampled_from(["<f8", ">f8", "<f4", "<f2", "<i8", ">i4", "<u1", "|b1", "<c16", "<U2", "|S3", "<m8"])


@GENERATED
@given(
    name=st.sampled_from(ARRAYS),
    arr=DTYPES.flatmap(lambda dt: hnp.arrays(dt, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))),
)
def test_wrong_arrays(work, name, arr):
    opens_or_refuses(work, "wrong array", with_arrays(GOOD, **{name: arr}))


@GENERATED
@given(name=st.sampled_from(ARRAYS), source=st.sampled_from(ARRAYS), scale=st.sampled_from([-1, 0, 1e308, np.nan]))
def test_arrays_swapped_or_scaled(work, name, source, scale):
    """Well-formed arrays in the wrong place or with wrong values (same dtype family as the writer's)."""
    arr = np.load(io.BytesIO(arrays_of(GOOD)[f"{source}.npy"]))
    with np.errstate(all="ignore"):
        arr = arr * scale if arr.dtype.kind == "f" else arr
    opens_or_refuses(work, "wrong array", with_arrays(GOOD, **{name: arr}))


def _bomb(layers: int, size: int, member: str) -> bytes:
    """``size`` zero bytes in ``member``, compressed ``layers`` times over."""
    content = bytes(size)
    for _ in range(layers - 1):
        content = zip_of({f"{member}.npy": content})
    if member in ARRAYS:
        return zip_of({"session.json": members(GOOD)["session.json"], "arrays.npz": content})
    return zip_of({member: content, "arrays.npz": members(GOOD)["arrays.npz"]})


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("size", [10**6, 3 * 10**7])
@pytest.mark.parametrize("member", ["session.json", "trajectory"])
def test_zip_bombs(work, layers, size, member):
    opens_or_refuses(work, "zip bomb", _bomb(layers, size, member))


@pytest.mark.parametrize("declared", [0, 1, 10**6, 2**31, 2**32 - 1])
@pytest.mark.parametrize("member", ["session.json", "arrays.npz"])
def test_lying_sizes(work, declared, member):
    """A central directory claiming another uncompressed size: refused before or while reading, never trusted."""
    data = bytearray(GOOD)
    at = data.find(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(member)] != member.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<I", data, at + 24, declared)
    opens_or_refuses(work, "zip bomb", bytes(data))


TRAVERSAL = ["../x", "../../etc/passwd", "/etc/passwd", "/tmp/sv_abs", "a/../../b", "..", "C:\\x", "\\\\host\\x"]


@pytest.mark.parametrize("name", TRAVERSAL)
@pytest.mark.parametrize("where", ["outer", "inner", "replacing"])
def test_path_traversal_names(work, monkeypatch, name, where):
    for method in ("extract", "extractall"):
        monkeypatch.setattr(zipfile.ZipFile, method, lambda *a, **k: pytest.fail("a member was extracted"))
    items, inner = members(GOOD), arrays_of(GOOD)
    if where == "outer":
        items[name] = b"x"
    elif where == "inner":
        inner[f"{name}.npy"] = inner["mask.npy"]
    else:
        items[name + "/session.json"] = items.pop("session.json")
    before = sorted(work.parent.rglob("*"))
    opens_or_refuses(work, "path traversal", zip_of(items | {"arrays.npz": zip_of(inner)}))
    assert sorted(work.parent.rglob("*")) == before


@pytest.mark.parametrize("bit", [0x1, 0x40, 0x1 | 0x40, 0x8, 0x800])
@pytest.mark.parametrize("member", ["session.json", "arrays.npz"])
def test_flag_bits(work, bit, member):
    """Encryption (0x1, 0x40 strong) is refused; other flags (data descriptor, UTF-8 names) are harmless or refused."""
    data = bytearray(GOOD)
    at = data.find(b"PK\x01\x02")
    while data[at + 46 : at + 46 + len(member)] != member.encode():
        at = data.find(b"PK\x01\x02", at + 4)
    struct.pack_into("<H", data, at + 8, struct.unpack_from("<H", data, at + 8)[0] | bit)
    if bit & 0x1:
        with pytest.raises(SessionReadError, match="encrypted"):
            read_session(_write(work, bytes(data)))
    opens_or_refuses(work, "flag bits", bytes(data))


def _write(work, data: bytes):
    path = work / "case.svsession"
    path.write_bytes(data)
    return path


def test_zz_outcomes_per_class():
    """The tally (run with -s to see it): at least 300 generated cases, all opened or refused."""
    total = sum(sum(c.values()) for c in COUNTS.values())
    print("\n" + "\n".join(f"{kind:20} {dict(c)}" for kind, c in sorted(COUNTS.items())) + f"\ntotal {total}")
    assert total >= 300 or total == 0  # 0: run alone (-k) without the generators
