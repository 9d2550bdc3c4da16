"""Landmark files (CSV, 3D Slicer .mrk.json): round trips, frames, pairing and one-line refusals."""

import json

import numpy as np
import pytest

from shapeviewer.core.errors import InputError
from shapeviewer.io.landmarks import (
    LandmarkError,
    Landmarks,
    check_on_surface,
    pair_landmarks,
    read_landmarks,
    write_landmarks,
)

POINTS = np.array([[1.5, -2.0, 3.25], [0.0, 4.0, -1.0], [10.0, 0.125, 7.0]])


def slicer_file(path, system="LPS", controls=None):
    controls = controls or [
        {"id": str(i), "label": f"F-{i}", "position": list(p), "positionStatus": "defined"}
        for i, p in enumerate(POINTS, start=1)
    ]
    doc = {
        "@schema": "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/Resources/"
        "Schema/markups-schema-v1.0.3.json#",
        "markups": [{"type": "Fiducial", "coordinateSystem": system, "controlPoints": controls}],
    }
    path.write_text(json.dumps(doc))
    return path


def test_csv_round_trip_keeps_labels_and_exact_values(tmp_path):
    marks = Landmarks(["nose", "left eye", "chin, low"], POINTS)
    path = write_landmarks(tmp_path / "a.csv", marks)
    assert path.read_text().splitlines()[0] == "label,x,y,z"
    back = read_landmarks(path)
    assert back.labels == marks.labels and np.array_equal(back.points, POINTS)


def test_csv_without_header_with_or_without_labels(tmp_path):
    (tmp_path / "l.csv").write_text("# made by hand\n\na, 1.5,-2,3.25\nb,0,4,-1\nc,10,0.125,7\n")
    (tmp_path / "n.csv").write_text("1.5 ,-2,3.25\n0,4,-1\n10,0.125,7\n")
    (tmp_path / "h.csv").write_text("Label,X,Y,Z\n1,1.5,-2,3.25\n2,0,4,-1\n3,10,0.125,7\n")
    for name, labels in (("l.csv", ["a", "b", "c"]), ("n.csv", ["1", "2", "3"]), ("h.csv", ["1", "2", "3"])):
        marks = read_landmarks(tmp_path / name)
        assert marks.labels == labels and np.array_equal(marks.points, POINTS)


def test_slicer_lps_is_converted_to_ras_by_negating_x_and_y(tmp_path):
    lps = read_landmarks(slicer_file(tmp_path / "p.mrk.json", "LPS"))
    assert lps.frame == "RAS" and lps.file_frame == "LPS" and lps.labels == ["F-1", "F-2", "F-3"]
    assert np.array_equal(lps.points, POINTS * [-1, -1, 1])
    ras = read_landmarks(slicer_file(tmp_path / "r.mrk.json", "RAS"))
    assert np.array_equal(ras.points, POINTS)
    kept = read_landmarks(tmp_path / "p.mrk.json", frame="LPS")
    assert kept.frame == "LPS" and np.array_equal(kept.points, POINTS)


def test_slicer_round_trip_in_either_frame(tmp_path):
    marks = Landmarks(["a", "b", "c"], POINTS)
    write_landmarks(tmp_path / "out.mrk.json", marks, frame="LPS")
    doc = json.loads((tmp_path / "out.mrk.json").read_text())
    markup = doc["markups"][0]
    assert doc["@schema"].endswith("markups-schema-v1.0.3.json#") and markup["coordinateSystem"] == "LPS"
    assert markup["controlPoints"][0]["position"] == [-1.5, 2.0, 3.25]
    back = read_landmarks(tmp_path / "out.mrk.json")
    assert back.labels == ["a", "b", "c"] and np.allclose(back.points, POINTS)


@pytest.mark.parametrize(
    "text,words",
    [
        ("a,1,2,nan\n", "landmark 'a' has a non-finite coordinate"),
        ("a,1,2,three\n", "line 1: 'three' is not a number"),
        ("a,1,2,3\nb,1,2,3,4\n", "line 2: 5 fields"),
        ("label,x,y,z\n", "no landmarks"),
        ("", "no landmarks"),
    ],
)
def test_bad_csv_files_are_one_line_errors(tmp_path, text, words):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(LandmarkError, match=words) as info:
        read_landmarks(tmp_path / "bad.csv")
    assert "bad.csv" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "content,words",
    [
        ("{not json", "not valid JSON"),
        ('{"markups": []}', "no 'markups' list"),
        ("[1, 2]", "no 'markups' list"),
        ('{"markups": [{"controlPoints": [{"label": "A", "position": [1, 2]}]}]}', "'A' has position"),
        ('{"markups": [{"controlPoints": [{"label": "B", "positionStatus": "undefined"}]}]}', "'B' has no position"),
        ('{"markups": [{"coordinateSystem": "XYZ", "controlPoints": [{"position": [1, 2, 3]}]}]}', "neither LPS"),
        ('{"markups": [{"controlPoints": [{"label": "C", "position": [1, 2, 1e999]}]}]}', "'C' has a non-finite"),
    ],
)
def test_bad_slicer_files_are_one_line_errors(tmp_path, content, words):
    (tmp_path / "bad.mrk.json").write_text(content)
    with pytest.raises(LandmarkError, match=words):
        read_landmarks(tmp_path / "bad.mrk.json")


def test_missing_file_and_binary_file(tmp_path):
    with pytest.raises(LandmarkError, match="no such file"):
        read_landmarks(tmp_path / "none.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(LandmarkError, match="not a text file"):
        read_landmarks(tmp_path / "bin.csv")
    assert issubclass(LandmarkError, InputError)  # the CLI's exit status 2, the app's dialog


def test_pairs_by_label_when_both_hold_the_same_labels_else_by_order():
    src = Landmarks(["a", "b", "c"], POINTS)
    tgt = Landmarks(["c", "a", "b"], POINTS[[2, 0, 1]] + 1.0)
    s, t = pair_landmarks(src, tgt)
    assert t.labels == ["a", "b", "c"] and np.array_equal(t.points, POINTS + 1.0)
    other = Landmarks(["x", "y", "z"], POINTS[::-1])
    assert np.array_equal(pair_landmarks(src, other)[1].points, POINTS[::-1])
    with pytest.raises(LandmarkError, match="3 source landmarks .* and 2 target landmarks"):
        pair_landmarks(src, Landmarks(["a", "b"], POINTS[:2]))


def test_a_landmark_off_the_surface_is_named_with_its_distance(human):
    v, f = human.vertices, human.faces
    on = Landmarks(["1", "2", "3"], v[[0, 50, 100]], name="src.csv")
    assert check_on_surface(on, v, f).max() < 1e-12
    size = np.linalg.norm(np.ptp(v, axis=0))
    off = Landmarks(["1", "tip", "3"], v[[0, 50, 100]] + [[0, 0, 0], [0.3 * size, 0, 0], [0, 0, 0]], name="src.csv")
    with pytest.raises(
        LandmarkError,
        match=r"source landmark 'tip' \(src.csv\) lies [\d.]+ from the source surface, [\d.]+% of its size "
        r"\(at most 5%",
    ):
        check_on_surface(off, v, f)


def test_landmarks_in_the_other_frame_get_a_hint(human):
    v = human.vertices + [5.0, 5.0, 0.0]  # away from the origin, so that negating x and y matters
    mirrored = Landmarks(["1", "2", "3"], v[[0, 50, 100]] * [-1, -1, 1], frame="RAS")
    with pytest.raises(LandmarkError, match="are the landmarks in LPS rather than RAS"):
        check_on_surface(mirrored, v, human.faces, "target")


def test_slicer_fcsv_files_are_read_in_their_declared_frame(tmp_path):
    rows = "\n".join(f"vtkMRMLMarkupsFiducialNode_{i},{x},{y},{z},0,0,0,1,1,1,0,P{i},,vtkMRMLModelNode4"
                     for i, (x, y, z) in enumerate(POINTS))  # fmt: skip
    head = "# Markups fiducial file version = 4.11\n# CoordinateSystem = {}\n"
    head += "# columns = id,x,y,z,ow,ox,oy,oz,vis,sel,lock,label,desc,associatedNodeID\n"
    (tmp_path / "lps.fcsv").write_text(head.format("LPS") + rows + "\n")
    (tmp_path / "old.fcsv").write_text(head.format("0") + rows + "\n")  # Slicer 4: 0 is RAS
    lps = read_landmarks(tmp_path / "lps.fcsv")
    assert lps.labels == ["P0", "P1", "P2"] and np.array_equal(lps.points, POINTS * [-1, -1, 1])
    assert np.array_equal(read_landmarks(tmp_path / "old.fcsv").points, POINTS)
    (tmp_path / "bad.fcsv").write_text(head.format("LPS") + "id0,1,2\n")
    with pytest.raises(LandmarkError, match="line 4: 3 fields"):
        read_landmarks(tmp_path / "bad.fcsv")
