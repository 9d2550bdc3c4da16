"""Each hostile session of issue 12 is refused with one line naming the file; no bomb fills memory, no pickle runs."""

import io
import json
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest
from test_session_forge import (
    arrays_of,
    assert_valid,
    good_bytes,
    members,
    meta_of,
    npy,
    npy_raw,
    with_arrays,
    with_meta,
    zip_of,
)

from shapeviewer.io.session import SessionReadError, read_session

GOOD = good_bytes()
META = meta_of(GOOD)
HUGE = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 3), }"


def _meta(**changes) -> bytes:
    return with_meta(GOOD, {**META, **changes})


def _result(**changes) -> bytes:
    return _meta(result={**META["result"], **changes})


def _central(data: bytes, member: str) -> int:
    """Offset of ``member``'s central directory entry."""
    start = data.find(b"PK\x01\x02")
    while data[start + 46 : start + 46 + len(member)] != member.encode():
        start = data.find(b"PK\x01\x02", start + 4)
    return start


def _set_flag(data: bytes, member: str, bit: int) -> bytes:
    """Set a general-purpose flag bit of ``member`` in its local header and the central directory."""
    out = bytearray(data)
    local = zipfile.ZipFile(io.BytesIO(data)).getinfo(member).header_offset
    for at in (_central(data, member) + 8, local + 6):
        struct.pack_into("<H", out, at, struct.unpack_from("<H", out, at)[0] | bit)
    return bytes(out)


def _corrupt_deflate(data: bytes, member: str) -> bytes:
    out = bytearray(data)
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    start = info.header_offset + 30 + len(member) + len(info.extra)
    for i in range(start + 2, start + min(info.compress_size, 40)):
        out[i] ^= 0xA5
    return bytes(out)


def _declared_size(data: bytes, member: str, size: int) -> bytes:
    """Rewrite ``member``'s uncompressed size in the central directory (a lying header)."""
    out = bytearray(data)
    struct.pack_into("<I", out, _central(data, member) + 24, size)
    return bytes(out)


def _nested_bomb(size: int) -> bytes:
    inner = zip_of({"source_vertices.npy": bytes(size)}, zipfile.ZIP_STORED)
    return zip_of({"session.json": json.dumps(META).encode(), "arrays.npz": inner})


class Evil:
    """Unpickling it would create a file: the reader must never unpickle."""

    marker = ""

    def __reduce__(self):
        return open, (self.marker, "w")


CASES = {
    "json list": (with_meta(GOOD, [1, 2]), "not a dictionary"),
    "json null": (with_meta(GOOD, None), "not a dictionary"),
    "json latin-1": (
        with_meta(GOOD, json.dumps(META, ensure_ascii=False).replace("a.ply", "é").encode("latin1")),
        "UTF-8",
    ),
    "json utf-16": (with_meta(GOOD, json.dumps(META).encode("utf-16")), "UTF-8"),
    "json deep": (with_meta(GOOD, b"[" * 100_000 + b"]" * 100_000), "nested too deeply|not valid JSON"),
    "json empty": (with_meta(GOOD, b""), "not valid JSON"),
    "frame Infinity": (with_meta(GOOD, json.dumps({**META, "frame": float("inf")}).encode()), "playback frame"),
    "frame NaN": (with_meta(GOOD, json.dumps({**META, "frame": float("nan")}).encode()), "playback frame"),
    "frame negative": (_meta(frame=-1), "playback frame"),
    "frame fractional": (_meta(frame=1.5), "playback frame"),
    "frame beyond": (_meta(frame=4), "playback frame"),
    "frame bool": (_meta(frame=True), "playback frame"),
    "frame string": (_meta(frame="2"), "playback frame"),
    "version 0": (_meta(version=0), "format version"),
    "version string": (_meta(version="1"), "format version"),
    "corrupt deflate json": (_corrupt_deflate(GOOD, "session.json"), "unreadable|damaged|JSON|UTF-8"),
    "corrupt deflate npz": (_corrupt_deflate(GOOD, "arrays.npz"), "unreadable|damaged"),
    "encrypted json": (_set_flag(GOOD, "session.json", 1), "encrypted"),
    "encrypted npz": (_set_flag(GOOD, "arrays.npz", 1), "encrypted"),
    "npy huge shape": (with_arrays(GOOD, trajectory=npy_raw(HUGE)), "too large|impossible shape"),
    "npy negative shape": (with_arrays(GOOD, mask=npy_raw(HUGE.replace("1000000000, 3", "-4,"))), "header|shape"),
    "npy short": (with_arrays(GOOD, mask=npy_raw(HUGE.replace("1000000000, 3", "4,"), b"\0" * 8)), "holds 8 bytes"),
    "npy object": (with_arrays(GOOD, mask=npy(np.array([1, "a"], dtype=object))), "dtype object"),
    "npy garbage": (with_arrays(GOOD, mask=b"\x93NUMPY garbage"), "npy version|unreadable"),
    "lying file size": (_declared_size(GOOD, "session.json", 2**31), "zip bomb or a damaged header"),
    "nested bomb": (_nested_bomb(50_000_000), "zip bomb"),
    "no vertices": (with_arrays(GOOD, source_vertices=np.zeros((0, 3))), "malformed"),
    "nan vertices": (with_arrays(GOOD, target_vertices=np.full((4, 3), np.nan)), "non-finite"),
    "complex vertices": (with_arrays(GOOD, source_vertices=np.ones((4, 3), complex)), "dtype complex"),
    "fractional faces": (with_arrays(GOOD, source_faces=np.full((4, 3), 0.5)), "integer indices"),
    "faces out of range": (with_arrays(GOOD, target_faces=np.full((4, 3), 4)), "outside"),
    "no faces": (with_arrays(GOOD, source_faces=np.zeros((0, 3), int)), "malformed"),
    "nan mask": (with_arrays(GOOD, mask=np.full(4, np.nan)), "non-finite"),
    "negative mask": (with_arrays(GOOD, mask=-np.ones(4)), "negative"),
    "string mask": (with_arrays(GOOD, mask=np.array(["a", "b", "c", "d"])), "dtype <U1"),
    "short mask": (with_arrays(GOOD, mask=np.ones(3)), "mask has"),
    "nan geodesic": (with_arrays(GOOD, trajectory=np.full((4, 4, 3), np.nan)), "non-finite"),
    "0-frame geodesic": (with_arrays(GOOD, trajectory=np.zeros((0, 4, 3))), "does not fit"),
    "misfit geodesic": (with_arrays(GOOD, trajectory=np.zeros((4, 5, 3))), "does not fit"),
    "no geodesic": (with_arrays(GOOD, trajectory=None), "no stored geodesic"),
    "momenta shape": (with_arrays(GOOD, momenta=np.ones((3, 3))), "momenta have shape"),
    "momenta nan": (with_arrays(GOOD, momenta=np.full((2, 3), np.inf)), "non-finite"),
    "momenta complex": (with_arrays(GOOD, momenta=np.ones((2, 3), complex)), "dtype complex"),
    "control 2-D": (with_arrays(GOOD, control_index=np.ones((2, 1), int)), "control point indices have shape"),
    "unknown result key": (_result(colour=1), "unknown keys: colour"),
    "result list": (_meta(result=[1]), "the result is not a dictionary"),
    "iteration string": (_result(iteration="5"), "iteration"),
    "loss string": (_result(loss="low"), "loss"),
    "history strings": (_result(history={"loss": ["a"]}), "history"),
    "levels dict": (_result(levels={"a": 1}), "levels"),
    "settings list": (_meta(settings=[1]), "settings is not a dictionary"),
    "settings unknown": (_meta(settings={"colour": 1}), "unknown keys: colour"),
    "settings type": (_meta(settings={"iterations": [1]}), r"settings\.iterations"),
    "settings invalid": (_meta(settings={"tolerance": 2.0}), "invalid settings"),
    "unknown key": (_meta(colour=1), "unknown keys: colour"),
    "camera short": (_meta(camera=[[0, 0, 1]]), "camera"),
    "camera string": (_meta(camera=[[0, 0, "1"], [0, 0, 0], [0, 1, 0]]), "camera"),
    "camera degenerate": (_meta(camera=[[0, 0, 0], [0, 0, 0], [0, 1, 0]]), "degenerate"),
    "name number": (_meta(source_name=3), "source_name"),
    "path list": (_meta(target_path=["x"]), "target_path"),
    "rezipped stored (harmless)": (zip_of(members(GOOD), zipfile.ZIP_STORED), None),
    "missing npz": (zip_of({"session.json": members(GOOD)["session.json"]}), "lacks arrays.npz"),
    "missing array": (with_arrays(GOOD, source_faces=None), "lacks source_faces"),
    "empty file": (b"", "is empty"),
    "bzip2": (zip_of(members(GOOD), zipfile.ZIP_BZIP2), "unsupported compression"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_hostile_file_is_refused_in_one_line(tmp_path, case):
    data, message = CASES[case]
    path = tmp_path / f"{case.replace(' ', '_')}.svsession"
    path.write_bytes(data)
    if message is None:
        assert_valid(read_session(path))
        return
    with pytest.raises(SessionReadError, match=message) as err:
        read_session(path)
    text = str(err.value)
    assert text.startswith(str(path)) and "\n" not in text


def test_duplicate_members_are_refused(tmp_path):
    items = members(GOOD)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z, pytest.warns(UserWarning, match="Duplicate"):
        z.writestr("session.json", items["session.json"])
        z.writestr("arrays.npz", items["arrays.npz"])
        z.writestr("session.json", json.dumps({**META, "frame": 3}))
    (tmp_path / "d.svsession").write_bytes(out.getvalue())
    with pytest.raises(SessionReadError, match="holds session.json 2 times"):
        read_session(tmp_path / "d.svsession")


def test_a_folder_or_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(SessionReadError, match="is a folder"):
        read_session(tmp_path)
    with pytest.raises(SessionReadError, match="does not exist"):
        read_session(tmp_path / "nothing.svsession")


def test_no_pickle_is_ever_loaded(tmp_path):
    Evil.marker = str(tmp_path / "pickle_ran")
    data = with_arrays(GOOD, momenta=npy(np.array([Evil()], dtype=object)))
    (tmp_path / "p.svsession").write_bytes(data)
    with pytest.raises(SessionReadError, match="never unpickled"):
        read_session(tmp_path / "p.svsession")
    assert not (tmp_path / "pickle_ran").exists()


def test_members_named_outside_are_never_extracted(tmp_path, monkeypatch):
    """Only named members are read, in memory: ``..`` and absolute names reach no file system."""
    inner = arrays_of(GOOD) | {"../../escape.npy": npy(np.ones(3)), "/tmp/sv_abs.npy": npy(np.ones(3))}
    items = members(GOOD) | {"arrays.npz": zip_of(inner), "../escape.txt": b"x", "/tmp/sv_abs.txt": b"x"}
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    (work / "t.svsession").write_bytes(zip_of(items))
    monkeypatch.chdir(work)
    for method in ("extract", "extractall"):
        monkeypatch.setattr(zipfile.ZipFile, method, lambda *a, **k: pytest.fail("a member was extracted"))
    assert_valid(read_session(work / "t.svsession"))
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["a", "b", "t.svsession"]


@pytest.mark.parametrize(
    "kind",
    ["huge header", "json zeros", "npz zeros", "nested", "lying size"],
)
def test_an_8_kb_file_costs_little_memory(tmp_path, kind):
    zeros = bytes(8_000_000)
    data = {
        "huge header": with_arrays(GOOD, trajectory=npy_raw(HUGE)),
        "json zeros": zip_of({"session.json": zeros, "arrays.npz": members(GOOD)["arrays.npz"]}),
        "npz zeros": with_arrays(GOOD, trajectory=npy_raw(HUGE.replace("1000000000, 3", "1000000,"), zeros)),
        "nested": _nested_bomb(8_000_000),
        "lying size": _declared_size(GOOD, "arrays.npz", 2**31),
    }[kind]
    assert len(data) < 12_000
    (tmp_path / "b.svsession").write_bytes(data)
    tracemalloc.start()
    try:
        with pytest.raises(SessionReadError):
            read_session(tmp_path / "b.svsession")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40_000_000, f"{kind}: {peak / 1e6:.0f} MB"
