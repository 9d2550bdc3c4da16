"""'shapeviewer batch template|pairwise --align': each job's pre-alignment, and the jobs flagged as not credible
(a geodesic that collapses a shape turned away from its target finishes 'done', with a warning)."""

import csv
import json

import numpy as np
import pytest

from shapeviewer.cli import main
from shapeviewer.io.meshes import read_mesh, write_mesh
from shapeviewer.io.results import read_result_dir
from tests.batch.conftest import FAST, stretched

TURN_DEGREES = 120.0


def summary(out):
    with open(out / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def turned(path, out_path):
    """A copy of the mesh at ``path`` turned by TURN_DEGREES about y and shifted by its size along x."""
    mesh = read_mesh(path)
    a = np.radians(TURN_DEGREES)
    rotation = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    centre = mesh.vertices.mean(0)
    size = np.linalg.norm(mesh.vertices.max(0) - mesh.vertices.min(0))
    write_mesh(out_path, (mesh.vertices - centre) @ rotation.T + centre + [size, 0.0, 0.0], mesh.faces)
    return out_path


@pytest.mark.parametrize("kind", ["template", "pairwise"])
def test_both_batch_kinds_offer_align_and_say_what_moves(kind, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["batch", kind, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--align {none,rigid,similarity}" in text
    moves = "move each SUBJECT onto TEMPLATE" if kind == "template" else "move each pair's SOURCE"
    assert moves in text


def test_a_turned_copy_is_flagged_without_align_and_matched_with_it(tmp_path, data_dir, scheduler, capsys):
    source = data_dir / "human.ply"
    copy = turned(source, tmp_path / "human_turned.ply")
    plain, aligned = tmp_path / "plain", tmp_path / "aligned"
    shapes = [str(source), str(copy)]
    args = ["batch", "pairwise", *shapes, *FAST, "--scheduler", scheduler]

    assert main([*args, "--out", str(plain)]) == 0
    err = capsys.readouterr().err
    (row,) = summary(plain)
    assert row["status"] == "done"  # the job finished...
    assert "shrank to" in row["warning"] and "try --align rigid" in row["warning"]  # ...but is not credible
    assert "1 of the 1 finished jobs flagged as not credible" in err and row["warning"] in err
    deformed = read_mesh(plain / "jobs" / row["job"] / "deformed.vtp")
    assert np.ptp(deformed.vertices, axis=0).max() < 0.7 * np.ptp(read_mesh(copy).vertices, axis=0).max()

    assert main([*args, "--out", str(plain)]) == 0  # resumed: the flag comes back from the folder
    assert "finished in an earlier run" in capsys.readouterr().err and summary(plain)[0]["warning"] == row["warning"]

    assert main([*args, "--out", str(aligned), "--align", "rigid"]) == 0
    err = capsys.readouterr().err
    (matched,) = summary(aligned)
    assert matched["status"] == "done" and matched["warning"] == "" and "not credible" not in err
    assert float(matched["distance"]) < 0.01 * float(row["distance"])
    result = read_result_dir(aligned / "jobs" / matched["job"])  # what 'shapeviewer movie' and the app read
    assert result.info["alignment"]["rotation_degrees"] == pytest.approx(TURN_DEGREES, abs=0.5)
    assert np.abs(result.trajectory[-1] - result.target[0]).max() < 1e-3 * np.ptp(result.target[0])
    assert json.loads((aligned / "batch.json").read_text())["options"]["align"] == "rigid"


def test_template_batch_aligns_the_subjects_and_keeps_the_template_still(tmp_path, data_dir, scheduler, capsys):
    """The template is every job's source: --align moves each subject onto it, so the momenta of turned
    subjects are those of the same subjects unturned, at the one template the PCA lives on."""
    template = data_dir / "human.ply"
    (tmp_path / "upright").mkdir()
    (tmp_path / "turned").mkdir()
    upright = stretched(template, tmp_path / "upright", (0.8, 1.2))
    for path in upright:
        turned(path, tmp_path / "turned" / path.name)
    momenta = {}
    for pose in ("upright", "turned"):
        out = tmp_path / f"batch_{pose}"
        args = ["batch", "template", str(template), str(tmp_path / pose), "--out", str(out), *FAST]
        assert main([*args, "--align", "rigid", "--scheduler", scheduler]) == 0
        assert "not credible" not in capsys.readouterr().err
        rows = summary(out)
        assert [r["job"] for r in rows] == ["sx0.80", "sx1.20"]
        assert all(r["status"] == "done" and r["warning"] == "" for r in rows)
        for name in ("sx0.80", "sx1.20"):
            result = read_result_dir(out / "jobs" / name)
            assert np.allclose(result.trajectory[0], read_mesh(template).vertices)  # the template did not move
            assert result.info["target_file"] == str(tmp_path / pose / f"{name}.ply")
            assert "alignment" not in result.info  # the source's own pre-alignment: none
            momenta[pose, name] = np.load(out / "jobs" / name / "momenta.npy")
        moved = read_result_dir(out / "jobs" / "sx1.20").info["target_alignment"]
        assert moved["rotation_degrees"] == pytest.approx(TURN_DEGREES if pose == "turned" else 0.0, abs=3.0)
        assert np.load(out / "pca" / "modes.npy").shape == (1, 127, 3)
    for name in ("sx0.80", "sx1.20"):
        scale = np.abs(momenta["upright", name]).max()
        assert np.abs(momenta["turned", name] - momenta["upright", name]).max() < 0.05 * scale


@pytest.mark.parametrize(
    "status, advice",
    [("finished", "the run ended at its iteration budget: try more --iterations (or --align rigid, should the poses"),
     ("converged", "poses differ? try --align rigid")],
)  # fmt: skip
def test_a_small_drop_is_blamed_on_the_iteration_budget_when_the_run_spent_it(tmp_path, status, advice):
    """A run cut by --iterations (status 'finished') fell little because it stopped, not because the poses differ."""
    from shapeviewer.batch.worker import credibility_warning

    warning = credibility_warning(tmp_path, {"status": status, "fidelity_drop": 0.14})
    assert warning.startswith("mismatch fell by only 14%: " + advice)
