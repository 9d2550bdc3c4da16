"""The command line as users and other tools call it."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from shapeviewer.cli import main
from shapeviewer.io.meshes import read_mesh

FAST = ["--steps", "4", "--dtype", "float64"]


def run_cli(*args, timeout=600):
    return subprocess.run(
        [sys.executable, "-m", "shapeviewer", *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


def test_shoot_writes_frames_measure_scaling_and_summary(tmp_path, human):
    momenta = np.zeros((human.n_vertices, 3))
    momenta[:, 0] = 0.01
    np.save(tmp_path / "p.npy", momenta)
    out = tmp_path / "out"
    src = human_path(human)
    assert main(["shoot", str(src), "--momenta", str(tmp_path / "p.npy"), "--out", str(out), *FAST]) == 0
    frames = sorted((out / "frames").glob("frame_*.vtp"))
    assert [f.name for f in frames] == [f"frame_{i:03d}.vtp" for i in range(5)]
    assert not np.allclose(read_mesh(frames[-1]).vertices, read_mesh(frames[0]).vertices)
    result = json.loads((out / "result.json").read_text())
    for key in ("hamiltonian", "distance", "steps", "integrator", "kernel", "cometric", "backend", "device", "dtype"):
        assert key in result
    assert result["distance"] == pytest.approx(np.sqrt(2 * result["hamiltonian"]))
    assert np.load(out / "mu.npy").shape == (human.n_vertices,)
    assert np.load(out / "lambda.npy").shape == (human.n_vertices,)
    assert np.allclose(np.load(out / "momenta.npy"), momenta)
    assert result["mask"] == "mask.npy" and np.array_equal(np.load(out / "mask.npy"), np.ones(human.n_vertices))


def human_path(human):
    from tests.conftest import DATA

    return DATA / "human.ply"


@pytest.mark.slow
def test_register_finger0_onto_finger1_drops_fidelity_by_95_percent(tmp_path, data_dir):
    out = tmp_path / "reg"
    proc = run_cli("register", data_dir / "finger0.ply", data_dir / "finger1.ply", "--out", out,
                   "--control-points", "300", "--iterations", "25")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["fidelity_final"] <= 0.05 * result["fidelity_initial"]
    assert len(result["loss_history"]) >= 2 and result["iterations"] >= 1
    assert proc.stderr.count("iter ") >= result["iterations"]
    assert f"mismatch down {100 * result['fidelity_drop']:.1f}%, distance" in proc.stderr.splitlines()[-1]
    assert read_mesh(out / "deformed.vtp").n_vertices == 2046
    assert len(list((out / "frames").glob("*.vtp"))) == result["steps"] + 1


def bad(tmp_path, **arrays):
    for name, arr in arrays.items():
        np.save(tmp_path / f"{name}.npy", arr)


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing_source", "no such file"),
        ("corrupt_source", "corrupt"),
        ("bad_kernel", "unknown kernel 'gausian' at position 0"),
        ("short_mask", "mask"),
        ("nan_mask", "non-finite"),
        ("wrong_momenta", "momenta have shape (3, 3)"),
        ("nan_momenta", "non-finite"),
        ("bad_steps", "--steps"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(tmp_path, human, capsys, case, message):
    src = human_path(human)
    n = human.n_vertices
    np.save(tmp_path / "p.npy", np.zeros((n, 3)))
    args = ["shoot", str(src), "--momenta", str(tmp_path / "p.npy"), "--out", str(tmp_path / "o")]
    if case == "missing_source":
        args[1] = str(tmp_path / "nothing.ply")
    elif case == "corrupt_source":
        (tmp_path / "c.ply").write_text("ply\nformat ascii 1.0\ngarbage")
        args[1] = str(tmp_path / "c.ply")
    elif case == "bad_kernel":
        args += ["--kernel", "gausian(0.1)"]
    elif case in ("short_mask", "nan_mask"):
        mask = np.ones(5) if case == "short_mask" else np.full(n, np.nan)
        np.save(tmp_path / "w.npy", mask)
        args += ["--mask", str(tmp_path / "w.npy")]
    elif case in ("wrong_momenta", "nan_momenta"):
        np.save(tmp_path / "p.npy", np.zeros((3, 3)) if case == "wrong_momenta" else np.full((n, 3), np.nan))
    elif case == "bad_steps":
        args += ["--steps", "zero"]
    with pytest.raises(SystemExit) if case == "bad_steps" else contextlib.nullcontext() as info:
        code = main(args)
    code = info.value.code if case == "bad_steps" else code
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert message in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "o" / "result.json").exists()


def test_nan_in_a_mesh_file_is_bad_input_from_a_real_process(tmp_path):
    path = tmp_path / "nan.off"
    path.write_text("OFF\n3 1 0\n0 0 0\nnan 0 0\n0 1 0\n3 0 1 2\n")
    proc = run_cli("register", path, path, "--out", tmp_path / "o")
    assert proc.returncode == 2
    assert "non-finite" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_ctrl_c_writes_results_so_far_and_exits_130(tmp_path, data_dir):
    out = tmp_path / "int"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shapeviewer", "register", str(data_dir / "finger0.ply"),
         str(data_dir / "finger1.ply"), "--out", str(out), "--control-points", "200", "--iterations", "200"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    lines = []
    deadline = time.time() + 300
    while time.time() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if line.startswith("iter    2"):
            break
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "cancelled" and result["iterations"] >= 2
    assert (out / "deformed.vtp").exists()


def test_demo_registers_the_bundled_pair(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--iterations", "3"]) == 0
    result = json.loads((tmp_path / "demo" / "result.json").read_text())
    assert result["fidelity_final"] < result["fidelity_initial"]
    assert "iter    3" in capsys.readouterr().err


@pytest.mark.slow
def test_the_painted_tip_mask_registers_from_the_command_line(tmp_path, data_dir):
    """The command of the report, which ended with 'the loss became nan' (dense here: the same mathematics)."""
    out = tmp_path / "tip"
    proc = run_cli("register", data_dir / "finger0.ply", data_dir / "finger1.ply", "--mask",
                   data_dir / "finger0_tipmask.npy", "--kernel", "cauchy(0.5) + 0.5*gaussian(0.2)",
                   "--control-points", "300", "--iterations", "3", "--backend", "torch", "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "1087 vertices of weight 0 follow the flow passively" in proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["status"] in ("finished", "converged") and result["fidelity_drop"] > 0.1
    assert result["control_points"] == 300 and result["passive_vertices"] == 1087
    assert np.isfinite(read_mesh(out / "deformed.vtp").vertices).all()


def test_a_mask_the_kernel_cannot_reach_is_refused_with_one_line(tmp_path, human):
    mask = np.zeros(human.n_vertices)
    mask[0] = 1.0
    np.save(tmp_path / "one.npy", mask)
    proc = run_cli("register", human_path(human), human_path(human), "--mask", tmp_path / "one.npy",
                   "--kernel", "gaussian(0.02)", "--out", tmp_path / "out")  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "does not reach" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "option, message",
    [
        (["--levels", "0"], "expected a number >= 1"),
        (["--levels", "many"], "expected a whole number"),
        (["--tolerance", "1.5"], "expected a fraction in [0, 1)"),
        (["--control-points", "some"], "expected a whole number"),
    ],
)
def test_bad_level_and_stopping_options_are_refused(tmp_path, human, option, message):
    proc = run_cli("register", human_path(human), human_path(human), "--out", tmp_path / "o", *option)
    assert proc.returncode == 2 and message in proc.stderr


@pytest.mark.slow
def test_levels_are_reported_in_result_json(tmp_path, data_dir):
    out = tmp_path / "levels"
    proc = run_cli("register", data_dir / "cactus3.ply", data_dir / "cactus11.ply", "--levels", "2",
                   "--fidelity-scale", "0.05", "--control-points", "100", "--iterations", "2", "--steps", "4",
                   "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "coarse to fine over 2 of 2 levels" in proc.stderr and "level 2/2" in proc.stderr
    level_2 = "level 2/2 (5261 vertices)"
    assert proc.stderr.index(f"{level_2}: setting up") < proc.stderr.index(f"{level_2}  iter")
    levels = json.loads((out / "result.json").read_text())["levels"]
    assert [lv["source_vertices"] for lv in levels] == [pytest.approx(2500, abs=10), 5261]
    assert levels[0]["fidelity_scale"] == pytest.approx(0.1)
    assert all(lv["run"] and lv["iterations"] >= 1 and lv["seconds"] > 0 for lv in levels)
    assert read_mesh(out / "deformed.vtp").n_vertices == 5261


def test_a_bad_out_is_refused_before_the_registration_starts(tmp_path, data_dir, capsys):
    (tmp_path / "file").write_text("mine")
    args = ["register", str(data_dir / "finger0.ply"), str(data_dir / "finger1.ply"), "--iterations", "1"]
    for out in (tmp_path / "file", data_dir / "finger0.ply", "/dev/null", "/proc/results"):
        assert main([*args, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "registering" not in err, err
    assert (tmp_path / "file").read_text() == "mine"


@pytest.mark.parametrize(
    "option, message",
    [
        (["--kernel", ""], "empty kernel string"),
        (["--kernel=gaussian(1e400)"], "out of range"),
        (["--kernel", "1e38*gaussian(1)"], "out of range"),
        (["--steps", "1000000000"], "limit of 1000"),
        (["--sinkhorn-iters", "100000"], "limit of 1000"),
        (["--iterations", str(10**30)], "limit of 10000"),
        (["--fidelity-scale", "1e-30"], "--fidelity-scale 1e-30"),
    ],
)
def test_options_out_of_range_name_the_problem_in_one_line(tmp_path, human, capsys, option, message):
    args = ["register", str(human_path(human)), str(human_path(human)), "--out", str(tmp_path / "o"), *option]
    with contextlib.suppress(SystemExit):
        assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_auto_backend_without_a_compiler_uses_torch_with_a_notice(tmp_path, human, capsys, monkeypatch):
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable))
    monkeypatch.setenv("CXX", "/nowhere/g++")
    args = ["register", str(human_path(human)), str(human_path(human)), "--out", str(tmp_path / "o"), *FAST]
    assert main([*args, "--iterations", "1", "--backend", "auto"]) == 0
    err = capsys.readouterr().err
    assert "no C++ compiler for KeOps" in err and "torch on cpu" in err


def test_results_are_written_whole_with_the_usual_permissions(tmp_path, human):
    np.save(tmp_path / "p.npy", np.zeros((human.n_vertices, 3)))
    out = tmp_path / "out"
    assert main(["shoot", str(human_path(human)), "--momenta", str(tmp_path / "p.npy"), "--out", str(out), *FAST]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "p.npy"]  # no partial folder left
    assert out.stat().st_mode & 0o755 == 0o755


def test_a_session_file_opens_the_app_on_it(tmp_path, monkeypatch, capsys):
    """'shapeviewer FILE.svsession' (how a file manager opens it) and 'shapeviewer gui FILE.svsession'."""
    import shapeviewer.qt.app as app

    opened = []
    monkeypatch.setattr(app, "run_gui", lambda *args: opened.append(args) or 0)
    monkeypatch.setenv("DISPLAY", ":99")
    session = tmp_path / "work.svsession"
    session.write_bytes(b"PK")
    assert main([str(session)]) == 0 and main(["gui", str(session)]) == 0
    assert opened == [(None, None, session, None), (None, None, session, None)]
    assert main([str(tmp_path / "missing.svsession")]) == 2
    assert "missing.svsession: no such session file" in capsys.readouterr().err


def test_gui_opens_a_result_folder_and_says_what_a_plain_folder_is_not(tmp_path, monkeypatch, capsys):
    import shapeviewer.qt.app as app

    opened = []
    monkeypatch.setattr(app, "run_gui", lambda *args: opened.append(args) or 0)
    monkeypatch.setenv("DISPLAY", ":99")
    result = tmp_path / "out"
    result.mkdir()
    (result / "target.vtp").write_text("")
    monkeypatch.chdir(result)
    assert main(["gui", "."]) == 0 and opened == [(None, None, None, result)]  # named: resolved, not "."
    assert main(["gui", str(tmp_path)]) == 2
    assert "holds no target.vtp: not a result folder of 'shapeviewer register'" in capsys.readouterr().err
    assert main(["gui", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such file or folder" in capsys.readouterr().err


def test_register_aligns_a_turned_copy_and_writes_distance_maps(tmp_path, human):
    """--align rigid undoes a known turn before the registration; result.json and deformed.vtp carry the
    transform and the surface distances."""
    from shapeviewer.io.meshes import write_mesh

    angle = np.radians(40)
    turn = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    target = tmp_path / "turned.ply"
    write_mesh(target, human.vertices @ turn.T + [0.3, -0.2, 0.1], human.faces)
    source = tmp_path / "human.ply"
    write_mesh(source, human.vertices, human.faces)
    out = tmp_path / "aligned"
    code = main(["register", str(source), str(target), "--out", str(out), "--align", "rigid", "--iterations", "2",
                 "--backend", "torch"])  # fmt: skip
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert abs(result["alignment"]["rotation_degrees"] - 40) < 0.5
    assert result["surface_distance"]["source_to_target"]["rms"] < 0.01 * result["shape_size"]
    import pyvista as pv

    assert {"distance_to_target", "displacement"} <= set(pv.read(out / "deformed.vtp").point_data)


def test_a_mask_given_to_lddmm_is_said_to_be_unused(tmp_path, small_pair):
    """LDDMM has no measure: a painted mask changes nothing there, and the user is told so instead of left to guess."""
    n = read_mesh(small_pair[0]).n_vertices
    mask = tmp_path / "mask.npy"
    np.save(mask, np.linspace(0.0, 1.0, n))
    out = tmp_path / "lddmm"
    proc = run_cli("register", *small_pair, "--mask", mask, "--cometric", "lddmm", "--iterations", "1",
                   "--backend", "torch", "--out", out)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "the mask is not used" in proc.stderr
    assert json.loads((out / "result.json").read_text())["mask_unused"] is True


def test_landmarks_are_taken_on_the_command_line(tmp_path, human, capsys):
    from shapeviewer.io.landmarks import Landmarks, write_landmarks

    index = [0, 40, 80, 120]
    write_landmarks(tmp_path / "src.csv", Landmarks([f"L{i}" for i in index], human.vertices[index]))
    write_landmarks(tmp_path / "tgt.csv", Landmarks([f"L{i}" for i in index], human.vertices[index]))
    out = tmp_path / "o"
    args = ["register", str(human_path(human)), str(human_path(human)), "--out", str(out), *FAST]
    landmarks = ["--landmarks", str(tmp_path / "src.csv"), str(tmp_path / "tgt.csv")]
    assert main([*args, "--iterations", "1", *landmarks, "--align", "rigid"]) == 0, capsys.readouterr().err
    info = json.loads((out / "result.json").read_text())
    assert info["landmarks"]["count"] == 4 and info["landmarks"]["rms"] < 1e-6
    with pytest.raises(SystemExit, match="2"):  # '--opt=--' is still refused
        main([*args, "--iterations", "1", "--kernel=--"])
    assert "--kernel: expected one value, got '--'" in capsys.readouterr().err


def test_a_result_that_is_not_credible_says_so_after_its_last_line(tmp_path, human, capsys):
    from shapeviewer.io.meshes import write_mesh

    write_mesh(tmp_path / "big.ply", 10.0 * human.vertices + 3.0, human.faces)  # 100x the area: rigid cannot fix it
    out = tmp_path / "o"
    args = ["register", str(human_path(human)), str(tmp_path / "big.ply"), "--out", str(out), *FAST]
    assert main([*args, "--iterations", "2", "--align", "rigid"]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("shapeviewer: warning: the result may not be credible: deformed source")
    assert last.endswith("sizes differ? try --align similarity")
    assert "sizes differ" in json.loads((out / "result.json").read_text())["warning"]
    assert main([*args, "--iterations", "2", "--align", "similarity"]) == 0  # once scaled, nothing to say
    assert "warning" not in capsys.readouterr().err and "warning" not in json.loads((out / "result.json").read_text())


def test_with_a_similarity_the_scales_given_are_checked_in_the_targets_units(tmp_path, human, capsys):
    from shapeviewer.io.meshes import write_mesh

    write_mesh(tmp_path / "big.ply", 100.0 * human.vertices, human.faces)
    size = 100.0 * float(np.linalg.norm(np.ptp(human.vertices, axis=0)))
    kernel = f"--kernel=gaussian({5e-5 * size:.6g})"  # 5e-3 of the source's size, 5e-5 of the target's
    args = ["register", str(human_path(human)), str(tmp_path / "big.ply"), "--out", str(tmp_path / "o"), kernel]
    assert main([*args, "--align", "similarity"]) == 2
    err = capsys.readouterr().err
    assert "kernel scale gaussian" in err and "x the target's size" in err and not (tmp_path / "o").exists()


def test_options_a_run_cannot_follow_are_said_not_dropped(tmp_path, human, capsys):
    args = ["register", str(human_path(human)), str(human_path(human)), "--out", str(tmp_path / "o"), *FAST]
    assert main([*args, "--iterations", "1", "--levels", "3", "--cometric", "lddmm", "--sinkhorn-iters", "5"]) == 0
    err = capsys.readouterr().err
    assert f"note: --levels 3: 1 level ({human.n_vertices} vertices): a coarser level needs" in err
    assert "note: --sinkhorn-iters and --sinkhorn-tol apply to the normalized cometric" in err
    assert main([*args, "--iterations", "1"]) == 0
    assert "note:" not in capsys.readouterr().err


def test_without_a_compiler_the_fallback_is_said_once(tmp_path, human):
    """A fresh process: the note of the command line, not also the backends' warning saying the same."""
    env = {**os.environ, "PATH": os.path.dirname(sys.executable), "CXX": "/nowhere/g++"}
    proc = subprocess.run(
        [sys.executable, "-m", "shapeviewer", "register", str(human_path(human)), str(human_path(human)),
         "--out", str(tmp_path / "o"), *FAST, "--iterations", "1"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("C++ compiler") == 1 and "note: no C++ compiler for KeOps" in proc.stderr
