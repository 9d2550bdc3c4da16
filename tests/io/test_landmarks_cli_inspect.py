"""The register command's alignment and landmark options and its inspection outputs (shapeviewer.cli_inspect)."""

import argparse
import json

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from shapeviewer.cli_inspect import (
    DISTANCE_TO_SOURCE,
    DISTANCE_TO_TARGET,
    add_alignment_options,
    inspect_registration,
    landmark_inputs,
    prepare_alignment,
    settings_with_landmarks,
    summary_line,
    write_distance_maps,
)
from shapeviewer.core.alignment import RigidTransform
from shapeviewer.core.errors import InputError
from shapeviewer.core.model import ModelSettings
from shapeviewer.core.registration import Registration, RegistrationSettings
from shapeviewer.io.landmarks import LandmarkError, Landmarks, write_landmarks
from shapeviewer.io.meshes import Mesh
from shapeviewer.io.results import write_result_dir
from shapeviewer.io.vtk_reader import read_point_array

POSE = RigidTransform(Rotation.from_rotvec([0.0, 0.0, 0.7]).as_matrix(), np.array([0.5, -0.2, 0.1]))
INDEX = [0, 30, 60, 90, 120]


class _Exit(argparse.ArgumentParser):
    def error(self, message):
        raise SystemExit(2)


def parse(*words):
    parser = _Exit()
    add_alignment_options(parser)
    return parser.parse_args(list(words))


@pytest.fixture
def pair(human, tmp_path):
    target = Mesh(POSE.apply(human.vertices), human.faces, "target.ply")
    write_landmarks(tmp_path / "src.csv", Landmarks([f"L{i}" for i in INDEX], human.vertices[INDEX]))
    write_landmarks(tmp_path / "tgt.mrk.json", Landmarks([f"L{i}" for i in INDEX], target.vertices[INDEX]), "LPS")
    return human, target, tmp_path / "src.csv", tmp_path / "tgt.mrk.json"


def test_options_parse_and_refuse_bad_values():
    args = parse("--align", "similarity", "--landmarks", "a.csv", "b.mrk.json", "--landmark-weight", "2.5")
    assert (
        args.align == "similarity"
        and args.landmark_weight == 2.5
        and [p.name for p in args.landmarks]
        == [
            "a.csv",
            "b.mrk.json",
        ]
    )
    assert landmark_inputs(args)[1].name == "b.mrk.json"
    defaults = parse()
    assert defaults.align == "none" and defaults.landmarks is None and landmark_inputs(defaults) == []
    for words in (
        ["--landmark-weight", "-1"],
        ["--landmark-weight", "nan"],
        ["--align", "affine"],
        ["--landmarks", "a"],
    ):
        with pytest.raises(SystemExit):
            parse(*words)


def test_landmarks_drive_the_alignment_and_icp_without_them(pair):
    source, target, src, tgt = pair
    plan = prepare_alignment(parse("--align", "rigid", "--landmarks", str(src), str(tgt)), source, target)
    assert plan.alignment.method == "landmarks" and np.abs(plan.alignment.matrix - POSE.matrix).max() < 1e-9
    assert plan.landmark_weight == 0.0 and "5 landmark pairs (reported only)" in plan.notes()[0]
    kwargs = plan.registration_kwargs()
    assert kwargs["alignment"] is plan.alignment and np.allclose(kwargs["target_landmarks"], target.vertices[INDEX])
    icp = prepare_alignment(parse("--align", "rigid"), source, target)
    assert icp.alignment.method == "icp" and icp.source_landmarks is None
    assert prepare_alignment(parse(), source, target).alignment is None
    weighted = prepare_alignment(parse("--landmarks", str(src), str(tgt), "--landmark-weight", "3"), source, target)
    assert settings_with_landmarks(RegistrationSettings(), weighted).landmark_weight == 3.0


def test_bad_landmark_inputs_are_one_line_errors(pair, tmp_path):
    source, target, src, tgt = pair
    with pytest.raises(InputError, match="--landmark-weight needs --landmarks"):
        prepare_alignment(parse("--landmark-weight", "1"), source, target)
    write_landmarks(tmp_path / "four.csv", Landmarks(list("abcd"), source.vertices[:4]))
    with pytest.raises(LandmarkError, match="4 source landmarks .* 5 target landmarks"):
        prepare_alignment(parse("--landmarks", str(tmp_path / "four.csv"), str(tgt)), source, target)
    write_landmarks(tmp_path / "off.csv", Landmarks([f"L{i}" for i in INDEX], source.vertices[INDEX] + [0, 0, 2.0]))
    with pytest.raises(LandmarkError, match="source landmark 'L0'"):
        prepare_alignment(parse("--landmarks", str(tmp_path / "off.csv"), str(tgt)), source, target)
    write_landmarks(tmp_path / "two.csv", Landmarks(["a", "b"], source.vertices[:2]))
    write_landmarks(tmp_path / "two_t.csv", Landmarks(["a", "b"], target.vertices[:2]))
    files = [str(tmp_path / "two.csv"), str(tmp_path / "two_t.csv")]  # too few to fit: they choose ICP's start
    plan = prepare_alignment(parse("--align", "rigid", "--landmarks", *files), source, target)
    assert plan.alignment.method == "icp"
    assert "ICP on the surfaces, started from the pose that brings the 2 landmark pairs closest" in plan.notes()[1]


def test_the_result_folder_gets_distance_maps_alignment_and_landmark_errors(pair, tmp_path):
    source, target, src, tgt = pair
    plan = prepare_alignment(parse("--align", "rigid", "--landmarks", str(src), str(tgt)), source, target)
    s = RegistrationSettings(model=ModelSettings(steps=3, dtype="float64"), iterations=2)
    s = settings_with_landmarks(s, plan)
    reg = Registration(
        (source.vertices, source.faces), (target.vertices, target.faces), s, **plan.registration_kwargs()
    )
    final = list(reg.run())[-1]
    inspection = inspect_registration(reg, final, target, plan)
    info = inspection.json
    assert info["surface_distance"]["source_to_target"]["max"] < 1e-6  # aligned exactly: nothing left to do
    assert np.allclose(info["alignment"]["matrix"], POSE.matrix) and info["landmarks"]["rms"] < 1e-6
    assert [p["label"] for p in info["landmarks"]["pairs"]] == [f"L{i}" for i in INDEX]
    assert info["landmarks"]["rms_before_alignment"] > 0.1
    assert "Hausdorff" in summary_line(inspection) and "landmark RMS error" in summary_line(inspection)
    result = dict(reg.describe(), **info)
    meshes = {"deformed.vtp": (final.trajectory[-1], source.faces), "target.vtp": (target.vertices, target.faces)}
    out = write_result_dir(tmp_path / "out", final.trajectory, source.faces, final.momenta, np.ones(3), None, result,
                           meshes=meshes)  # fmt: skip
    write_distance_maps(out, inspection, meshes)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no work file left
    d = read_point_array(out / "deformed.vtp", DISTANCE_TO_TARGET)
    assert d.shape == (source.n_vertices,) and np.allclose(d, inspection.point_data["deformed.vtp"][DISTANCE_TO_TARGET])
    assert read_point_array(out / "target.vtp", DISTANCE_TO_SOURCE).shape == (target.n_vertices,)
    saved = json.loads((out / "result.json").read_text())
    back = RigidTransform.from_json(saved["alignment"])
    assert np.allclose(back.inverse().apply(final.trajectory[0]), source.vertices, atol=1e-9)
