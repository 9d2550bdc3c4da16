"""The landmark pairs of the document: labels that pair, undo and redo, what a run needs, and refusals."""

import numpy as np
import pytest

from shapeviewer.core.errors import InputError
from shapeviewer.document import Document
from shapeviewer.document.landmarks import LandmarkPairs
from shapeviewer.io.demo import make_demo_pair
from shapeviewer.io.landmarks import Landmarks


def test_labels_fill_gaps_pair_across_meshes_and_every_edit_undoes():
    lm = LandmarkPairs()
    seen = []
    lm.changed.connect(seen.append)
    assert [lm.add("source", [i, 0, 0]) for i in range(3)] == ["1", "2", "3"]
    lm.delete("source", "2")
    assert lm.add("source", [9, 9, 9]) == "2"
    lm.add("target", [0, 1, 0])
    assert lm.paired_labels() == ["1"]
    assert lm.pairing_problem() == "source landmark 3, 2 has no partner on the target (same label)"
    lm.move("target", "1", [0, 2, 0])
    labels, src, tgt = lm.pairs()
    assert labels == ["1"] and src.tolist() == [[0, 0, 0]] and tgt.tolist() == [[0, 2, 0]]
    lm.undo()
    assert lm.points["target"]["1"].tolist() == [0, 1, 0]
    lm.redo()
    assert lm.points["target"]["1"].tolist() == [0, 2, 0]
    for _ in range(20):
        lm.undo()
    assert not lm and not lm.can_undo and lm.can_redo
    assert seen[:2] == ["source", "source"]


def test_refusals_name_the_problem():
    lm = LandmarkPairs()
    with pytest.raises(InputError, match="finite"):
        lm.add("source", [np.nan, 0, 0])
    with pytest.raises(InputError, match="no source landmark 4"):
        lm.delete("source", "4")
    with pytest.raises(InputError, match="'a' is used twice"):
        lm.replace("target", Landmarks(["a", "a"], np.zeros((2, 3)), name="t.csv"))
    assert lm.pairing_problem() == "no landmark is placed on both the source and the target"
    with pytest.raises(InputError, match="target landmark 1"):
        LandmarkPairs.from_json({"target": {"1": [0, 1]}})


def test_the_document_asks_for_partners_only_with_a_landmark_weight_and_drops_landmarks_with_their_mesh():
    doc = Document()
    source, target = make_demo_pair(resolution=6)
    doc.set_mesh("source", source)
    doc.set_mesh("target", target)
    doc.landmarks.add("source", source.vertices[0])
    assert doc.run_problem() == ""  # weight 0: landmarks only ride along
    assert doc.landmarks_for_run() is None
    settings = doc.settings
    settings.landmark_weight = 2.0
    doc.settings = settings
    assert "landmark weight is 2 but no landmark is placed on both" in doc.run_problem()
    doc.landmarks.add("target", target.vertices[0])
    assert doc.run_problem() == ""
    labels, src, tgt = doc.landmarks_for_run()
    assert labels == ["1"] and np.allclose(tgt, target.vertices[:1])
    doc.set_mesh("target", target)
    assert doc.landmarks.count("target") == 0 and doc.landmarks.count("source") == 1
    doc.landmarks.undo()  # no undo brings the old target's points onto the new one
    assert doc.landmarks.count("target") == 0 and not doc.landmarks.can_undo
