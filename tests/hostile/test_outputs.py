"""Output paths that cannot or must not be written: refused before any work; a full disk leaves nothing."""

import json

import numpy as np
import pytest

from tests.hostile.hostile import FAST, assert_refused, count, digest, run


def _register(valid, out):
    return ["register", valid["source.ply"], valid["target.ply"], *FAST, "--out", out]


CASES = ["file", "dev_null", "proc", "sys", "etc", "usr", "root", "read_only", "read_only_parent", "source",
         "containing_source", "foreign_folder", "under_a_file", "current_folder"]  # fmt: skip


def _place(case, valid, tmp_path):
    """The --out of each case, and what must not change."""
    if case == "file":
        (tmp_path / "f").write_text("mine")
        return tmp_path / "f"
    if case == "dev_null":
        return "/dev/null"
    if case == "proc":
        return "/proc/shapeviewer-results"
    if case == "sys":
        return "/sys/results"
    if case in ("etc", "usr"):  # root may write there: the check, not the permissions, must refuse
        return f"/{case}/shapeviewer-results"
    if case == "root":
        return "/"
    if case in ("read_only", "read_only_parent"):
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        return folder if case == "read_only" else folder / "new"
    if case == "source":
        return valid["source.ply"]
    if case == "containing_source":
        return valid["source.ply"].parent
    if case == "foreign_folder":
        (tmp_path / "docs").mkdir()
        (tmp_path / "docs" / "thesis.tex").write_text("years of work")
        return tmp_path / "docs"
    if case == "current_folder":
        (tmp_path / "here").mkdir()
        return tmp_path / "here"  # the test moves into it
    (tmp_path / "f").write_text("mine")
    return tmp_path / "f" / "out"


@pytest.mark.parametrize("command", ["register", "shoot", "demo"])
@pytest.mark.parametrize("case", CASES)
def test_a_bad_output_folder_is_refused_before_any_work(valid, tmp_path, case, command, monkeypatch):
    out = _place(case, valid, tmp_path)
    if case == "current_folder":
        monkeypatch.chdir(out)
        out = "."
    if command == "register":
        argv = _register(valid, out)
    elif command == "shoot":
        np.save(tmp_path / "p.npy", np.zeros((50, 3)))
        argv = ["shoot", valid["source.ply"], "--momenta", tmp_path / "p.npy", "--out", out, "--steps", "2"]
    else:
        argv = ["demo", "--out", out, "--iterations", "1"]
    before = digest(tmp_path, valid["source.ply"].parent)
    code, lines = run(argv)
    assert code == 2 and len(lines) == 1 and lines[0].startswith("shapeviewer: error: "), lines
    assert "registering" not in lines[0] and "Traceback" not in lines[0]
    assert digest(tmp_path, valid["source.ply"].parent) == before
    count()


@pytest.mark.parametrize("out", ["", " "])
def test_an_empty_output_path_is_refused(valid, tmp_path, out):
    assert_refused(_register(valid, out), tmp_path / "nothing", [valid["source.ply"]], "empty")


def test_movie_out_onto_the_result_or_a_folder_is_refused(valid, tmp_path):
    result = tmp_path / "r"
    assert run(_register(valid, result))[0] == 0
    for out in ("", result, tmp_path, "/dev/null.mp4", "/proc/m.mp4"):
        before = digest(result)
        code, lines = run(["movie", result, "--out", out, "--size", "64x48"])
        assert code == 2 and len(lines) == 1, lines
        assert digest(result) == before
        count()


def test_a_full_disk_leaves_no_half_result_and_keeps_the_earlier_one(valid, full_disk, tmp_path):
    out = full_disk / "r"
    code, lines = run(_register(valid, out))
    assert code == 1 and "cannot write results" in lines[-1] and "Traceback" not in "\n".join(lines)
    assert sorted(p.name for p in full_disk.iterdir()) == ["filler"]  # no folder, no partial one
    count()


def test_an_earlier_result_survives_a_failed_write(valid, tmp_path, monkeypatch):
    import errno

    from shapeviewer.io import results

    out = tmp_path / "r"
    assert run(_register(valid, out))[0] == 0
    before = digest(out)

    def fail(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(results, "write_json", fail)
    code, lines = run(_register(valid, out))
    assert code == 1 and "No space left on device" in lines[-1]  # the writing failed, not the input
    assert digest(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    count()


def test_a_stale_partial_folder_of_a_killed_run_is_removed(valid, tmp_path):
    stale = tmp_path / ".r.partial.999999999.x"
    stale.mkdir()
    (stale / "result.json").write_text("{}")
    assert run(_register(valid, tmp_path / "r"))[0] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]
    assert json.loads((tmp_path / "r" / "result.json").read_text())["iterations"] >= 1


def test_user_trees_under_usr_stay_usable():
    from shapeviewer.io.output_paths import OutputPathError, check_output_folder

    for allowed in ("/usr/src/app/results", "/usr/local/share/study/out"):  # a container's WORKDIR, say
        check_output_folder(allowed, [])
    with pytest.raises(OutputPathError, match="/usr is a system folder"):
        check_output_folder("/usr/share/results", [])
