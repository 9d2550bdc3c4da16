"""What a result folder of 'register' and of every 'batch' job keeps: enough to reopen the registration as it
was run (its mask and its settings), not only its geodesic."""

import json

import numpy as np
import pytest

from shapeviewer.batch import command
from shapeviewer.batch.worker import run_job
from shapeviewer.cli import build_parser, main
from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.meshes import read_mesh, write_mesh

FAST = ["--backend", "torch", "--steps", "4", "--dtype", "float64", "--iterations", "3"]


@pytest.fixture
def pair(tmp_path, small_pair):
    """The small demo pair, and a mask on its source: zeros, a ramp, ones."""
    x = read_mesh(small_pair[0]).vertices[:, 0]
    weights = np.clip(2.0 * (x - x.min()) / np.ptp(x) - 0.5, 0.0, 1.0)  # zeros, a ramp, ones
    np.save(tmp_path / "mask.npy", weights)
    return (*small_pair, tmp_path / "mask.npy", weights)


def register(pair, out, *more) -> dict:
    source, target, *_ = pair
    assert main(["register", str(source), str(target), "--out", str(out), *FAST, *more]) == 0
    return json.loads((out / "result.json").read_text())


def test_a_masked_run_keeps_its_mask_and_the_settings_it_was_given(pair, tmp_path):
    *_, mask_file, weights = pair
    info = register(pair, tmp_path / "out", "--mask", str(mask_file), "--kernel", "gaussian(0.4)")
    assert info["mask"] == "mask.npy"
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "mask.npy"), weights)
    settings = info["settings"]
    assert settings["iterations"] == 3 and settings["tolerance"] == 0.01 and settings["levels"] is None
    model = settings["model"]
    assert model["kernel"] == "gaussian(0.4)" and model["steps"] == 4 and model["backend"] == "torch"
    assert model["control_points"] == "auto" and model["dtype"] == "float64"


def test_a_run_without_mask_keeps_its_uniform_weights_and_can_be_rewritten(pair, tmp_path):
    out = tmp_path / "out"
    info = register(pair, out)
    assert info["mask"] == "mask.npy"
    np.testing.assert_array_equal(np.load(out / "mask.npy"), np.ones(len(pair[3])))
    assert info["settings"]["model"]["kernel"] is None  # left to the source's size; info["kernel"] says which
    info = register(pair, out, "--mask", str(pair[2]))  # the same folder again: mask.npy is one of its own files
    np.testing.assert_array_equal(np.load(out / "mask.npy"), pair[3])


def test_every_job_of_a_masked_template_batch_keeps_the_mask(pair, tmp_path, monkeypatch):
    source, target, mask_file, weights = pair
    stretched = tmp_path / "stretched.ply"
    mesh = make_demo_pair(resolution=10)[0]
    write_mesh(stretched, mesh.vertices * [1.2, 1.0, 1.0], mesh.faces)
    monkeypatch.setattr(command, "_run_on_cluster", lambda args, jobs, *_: ([run_job(j, args) for j in jobs], False))
    out = tmp_path / "batch"
    argv = ["batch", "template", str(source), str(target), str(stretched), "--mask", str(mask_file), "--out", str(out)]
    assert command.run_batch_command(build_parser().parse_args([*argv, *FAST])) == 0
    jobs = sorted(p.parent for p in out.rglob("result.json"))
    assert len(jobs) == 2
    for job in jobs:
        info = json.loads((job / "result.json").read_text())
        assert info["mask"] == "mask.npy" and info["settings"]["iterations"] == 3
        np.testing.assert_array_equal(np.load(job / "mask.npy"), weights)


def test_control_points_name_the_source_vertex_of_each_row_of_the_momenta(pair, tmp_path):
    """momenta.npy alone cannot be used outside shapeviewer: control_points.npy says where each row sits."""
    from shapeviewer.core.model import DeformationModel, ModelSettings

    source = read_mesh(pair[0])
    register(pair, tmp_path / "out", "--control-points", "40", "--cometric", "lddmm")
    index, momenta = np.load(tmp_path / "out" / "control_points.npy"), np.load(tmp_path / "out" / "momenta.npy")
    assert index.dtype == np.int64 and index.shape == (40,) and momenta.shape == (40, 3)
    settings = ModelSettings(control_points=40, cometric="lddmm", backend="torch", steps=4, dtype="float64")
    model = DeformationModel(source.vertices, source.faces, None, settings)
    np.testing.assert_array_equal(index, model.control_index)  # the vertices the run's model chose
    register(pair, tmp_path / "all")  # every vertex a control point
    np.testing.assert_array_equal(np.load(tmp_path / "all" / "control_points.npy"), np.arange(source.n_vertices))
