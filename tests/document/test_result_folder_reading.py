"""A result folder read back as the app shows it: the geodesic, and the mask and settings that produced it."""

import json

import numpy as np
import pytest

from shapeviewer.cli import main
from shapeviewer.core.registration import RegistrationSettings
from shapeviewer.document.result_folders import read_result_folder, run_settings, settings_differences
from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.meshes import write_mesh
from shapeviewer.io.results import ResultReadError

FAST = ["--backend", "torch", "--steps", "4", "--dtype", "float64", "--iterations", "3"]


@pytest.fixture(scope="module")
def masked_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("masked")
    source, target = make_demo_pair(resolution=10)
    paths = folder / "source.ply", folder / "target.ply"
    for mesh, path in zip((source, target), paths, strict=True):
        write_mesh(path, mesh.vertices, mesh.faces)
    x = source.vertices[:, 0]
    weights = np.clip(2.0 * (x - x.min()) / np.ptp(x) - 0.5, 0.0, 1.0)
    np.save(folder / "ramp.npy", weights)
    out = folder / "out"
    argv = ["register", *map(str, paths), "--out", str(out), "--mask", str(folder / "ramp.npy"), *FAST]
    assert main(argv) == 0
    return out, weights


def copy_of(folder, tmp_path):
    import shutil

    return shutil.copytree(folder, tmp_path / folder.name)


def test_the_folder_gives_back_the_runs_mask_and_settings(masked_folder):
    folder, weights = masked_folder
    opened = read_result_folder(folder)
    np.testing.assert_array_equal(opened.mask, weights)
    s = opened.settings
    assert s.iterations == 3 and s.model.steps == 4 and s.model.backend == "torch" and s.model.dtype == "float64"
    info = json.loads((folder / "result.json").read_text())
    assert s.model.kernel == info["kernel"]  # no --kernel: the default the run resolved for this source
    assert s.fidelity_scale == pytest.approx(info["fidelity_scale"])
    assert s.model.control_points == "auto" and s.levels is None
    assert opened.notes == [] and opened.settings_notes == [] and opened.settings_recorded


def test_an_older_folder_opens_without_mask_and_with_the_settings_it_reported(masked_folder, tmp_path):
    folder = copy_of(masked_folder[0], tmp_path)
    (folder / "mask.npy").unlink()
    info = json.loads((folder / "result.json").read_text())
    del info["mask"], info["settings"]
    info["device"] = "cuda:0"
    (folder / "result.json").write_text(json.dumps(info))
    opened = read_result_folder(folder)
    assert opened.mask is None and opened.result.n_frames == 5
    assert any("holds no mask.npy" in note for note in opened.notes)
    assert any("Max iterations" in note for note in opened.settings_notes) and not opened.settings_recorded
    s = opened.settings
    assert s.model.kernel == info["kernel"] and s.model.steps == 4 and s.model.device == "cuda"
    assert s.model.control_points == info["control_points"] and s.levels == 1
    assert s.iterations == RegistrationSettings().iterations  # not recorded: the default, said in the notes


@pytest.mark.parametrize(
    "name, message",
    [("missing.npy", "does not hold it"), ("../ramp.npy", "not a .npy file of the folder"), (3, "not a .npy")],
)
def test_a_mask_named_but_not_there_is_refused(masked_folder, tmp_path, name, message):
    folder = copy_of(masked_folder[0], tmp_path)
    info = json.loads((folder / "result.json").read_text())
    info["mask"] = name
    (folder / "result.json").write_text(json.dumps(info))
    with pytest.raises(ResultReadError, match=message):
        read_result_folder(folder)


def test_a_mask_of_another_length_is_refused(masked_folder, tmp_path):
    folder = copy_of(masked_folder[0], tmp_path)
    np.save(folder / "mask.npy", np.ones(7))
    with pytest.raises(ResultReadError, match="mask"):
        read_result_folder(folder)


def test_settings_that_cannot_be_used_are_said_and_the_rest_kept():
    info = {
        "kernel": "gaussian(0.3)",
        "settings": {
            "model": {"kernel": "gaussian(", "steps": "ten", "integrator": "rk4", "future_option": 1},
            "fidelity": "hausdorff",
            "iterations": 12,
            "regularization": -1.0,
        },
    }
    settings, notes = run_settings(info)
    assert settings.iterations == 12 and settings.model.integrator == "rk4"
    defaults = RegistrationSettings()
    assert settings.model.steps == defaults.model.steps and settings.fidelity == defaults.fidelity
    assert settings.model.kernel is None and settings.regularization == defaults.regularization
    said = " | ".join(notes)
    for where in ("model.kernel", "model.steps", "model.future_option", "fidelity", "regularization"):
        assert f"setting {where} =" in said


def test_settings_differences_name_what_the_panel_changed():
    wanted = RegistrationSettings(iterations=8, fidelity_scale=0.51313)
    wanted.model.steps, wanted.model.control_points = 900, "all"
    shown = RegistrationSettings(iterations=8, fidelity_scale=0.5131)  # four decimals: close enough
    shown.model.steps, shown.model.control_points = 500, 120
    assert settings_differences(wanted, shown, n_vertices=120) == ["steps: the run used 900, the panel shows 500"]
    left_to_the_panel = RegistrationSettings()  # kernel and fidelity scale None: the panel's own defaults
    shown = RegistrationSettings(fidelity_scale=0.2)
    shown.model.kernel = "cauchy(0.3)"
    assert settings_differences(left_to_the_panel, shown, n_vertices=120) == []


def test_a_frame_missing_from_the_middle_is_named(masked_folder, tmp_path):
    folder = copy_of(masked_folder[0], tmp_path)
    (folder / "frames" / "frame_002.vtp").unlink()
    with pytest.raises(ResultReadError, match=r"missing frame_002\.vtp; expected frame_000\.vtp\.\.frame_004\.vtp"):
        read_result_folder(folder)
