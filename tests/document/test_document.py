"""The app's document without Qt: one writer per part, signals on every change, readiness and summaries."""

import numpy as np
import pytest

from shapeviewer.core.errors import InputError
from shapeviewer.core.registration import Report
from shapeviewer.document import Document, LossHistory
from shapeviewer.document.summary import summary
from shapeviewer.io.demo import make_demo_pair


def report(i, frames=3, n=None, level=1, levels=1, fid=None):
    traj = None if frames is None else np.zeros((frames, n, 3))
    fid = 0.5 / (i + 1) if fid is None else fid
    return Report(i, fid + 0.01, fid, 0.2, 0.1 * i, traj, np.ones((4, 3)), level=level, levels=levels,
                  level_vertices=100 * level, fidelity_initial=1.0, level_iteration=i)  # fmt: skip


@pytest.fixture
def doc():
    d = Document()
    source, target = make_demo_pair(resolution=6)
    d.set_mesh("source", source)
    d.set_mesh("target", target)
    return d


def recorder(signal):
    seen = []
    signal.connect(lambda *args: seen.append(args))
    return seen


def test_a_new_geodesic_has_one_writer_and_the_frame_stays_in_range(doc):
    n = doc.meshes["source"].n_vertices
    changed, frames = recorder(doc.result_changed), recorder(doc.frame_changed)
    doc.set_result(report(1, frames=5, n=n))
    assert doc.result.n_frames == 5 and changed == [()]
    doc.set_frame(99)
    assert doc.frame == 4 and frames[-1] == (4,)
    doc.set_result(report(2, frames=3, n=n))
    assert doc.frame == 2  # clamped to the shorter geodesic
    with pytest.raises(ValueError, match="trajectory"):
        doc.set_result(report(3, frames=None, n=n))  # a coarse report without the full mesh's frames


def test_a_muted_document_still_takes_writes_but_tells_no_observer(doc):
    n = doc.meshes["source"].n_vertices
    heard = [recorder(getattr(doc, name)) for name in ("result_changed", "frame_changed", "mask_changed")]
    doc.mute()
    doc.set_result(report(1, frames=5, n=n))
    doc.set_frame(2)
    doc.set_mask(np.zeros(n))
    assert doc.result.n_frames == 5 and doc.frame == 2 and doc.mask is not None
    assert heard == [[], [], []]


def test_new_meshes_drop_the_result_and_its_history(doc):
    n = doc.meshes["source"].n_vertices
    doc.begin_run()
    doc.record(report(0, n=n))
    doc.set_result(report(0, n=n))
    doc.end_run()
    assert doc.result is not None and len(doc.history) == 1
    roles = recorder(doc.meshes_changed)
    doc.set_mesh("target", doc.meshes["target"])
    assert doc.result is None and len(doc.history) == 0 and doc.frame == 0 and roles == [("target",)]


def test_run_problem_names_what_is_missing_first():
    d = Document()
    assert d.run_problem() == "open a source and a target mesh"
    source, target = make_demo_pair(resolution=6)
    d.set_mesh("source", source)
    d.set_mesh("target", target)
    assert d.run_problem() == ""
    assert d.run_problem("the kernel string does not parse") == "the kernel string does not parse"
    d.set_mask(np.zeros(source.n_vertices))
    assert "zero everywhere" in d.run_problem()
    with pytest.raises(InputError, match="one weight per source vertex"):
        d.set_mask(np.ones(3))


def test_an_all_ones_mask_is_no_mask_for_the_run(doc):
    n = doc.meshes["source"].n_vertices
    doc.set_mask(np.ones(n))
    assert doc.mask_for_run() is None
    w = np.ones(n)
    w[0] = 0.0
    doc.set_mask(w)
    np.testing.assert_array_equal(doc.mask_for_run(), w)


def test_modified_follows_edits_and_is_signalled_once(doc):
    doc.set_modified(False)
    flags = recorder(doc.modified_changed)
    doc.set_mask(np.ones(doc.meshes["source"].n_vertices))
    doc.set_mask(np.ones(doc.meshes["source"].n_vertices))
    assert doc.modified and flags == [(True,)]


def test_history_marks_levels_and_the_best_iteration_of_the_last_level():
    h = LossHistory()
    for i, (level, fid) in enumerate([(1, 0.5), (1, 0.2), (2, 0.9), (2, 0.4), (2, 0.6)]):
        h.add(report(i, frames=None, level=level, levels=2, fid=fid))
    assert [(s.iteration, s.level) for s in h.level_starts] == [(0, 1), (2, 2)]
    assert h.best_iteration() == 3  # iteration 1 is lower, but on the coarse level
    again = LossHistory.from_dict(h.as_dict())
    assert again == h
    # as a run reports: a level's first report repeats the last iteration number before it
    h = LossHistory()
    for it, level, fid in [(0, 1, 0.5), (1, 1, 0.2), (1, 2, 0.9), (2, 2, 0.4), (3, 2, float("nan"))]:
        h.add(report(it, frames=None, level=level, levels=2, fid=fid))
    assert h.best_index() == 3 and h.best_iteration() == 2  # not iteration 1 of the coarse level (its loss 0.2)
    old = LossHistory.from_dict({"iteration": [0, 1], "loss": [1.0, 0.5], "fidelity / initial": [0.9, 0.4]})
    assert old.series["fidelity"] == [0.9, 0.4] and np.isnan(old.series["energy"]).all()


def test_summary_reads_the_document_only(doc):
    n = doc.meshes["source"].n_vertices
    with pytest.raises(ValueError, match="no registration result"):
        summary(doc)
    doc.begin_run()
    doc.run_started({"backend": "torch", "fidelity_initial": 2.0}, None)
    for i in range(3):
        doc.record(report(i, n=n))
    doc.set_result(report(2, n=n))
    doc.end_run()
    data = summary(doc)
    assert data["iterations"] == 2 and data["used"]["backend"] == "torch"
    assert data["history"]["iteration"] == [0, 1, 2]
    assert data["fidelity_drop"] == pytest.approx(1 - 0.5 / 3)
    assert data["surface_distance"]["frame"] == 2  # of the last frame, whatever the frame shown
    assert data["fidelity_initial"] == 1.0  # the final level's, from which the drop is measured (not the first's)
    assert data["fidelity_drop"] == pytest.approx(1 - data["fidelity_final"] / data["fidelity_initial"])
    assert "target_alignment" not in data
    moved = {"kind": "rigid", "rotation_degrees": 70.0}  # a template batch's job: the subject was pre-aligned
    doc.set_result(report(2, n=n), info={"target_alignment": moved})
    assert summary(doc)["target_alignment"] == moved


def test_the_result_title_says_what_is_shown_and_its_state(doc):
    from shapeviewer.document.summary import result_title

    assert result_title(doc) == "Result: press Run"
    doc.begin_run()
    assert result_title(doc) == "Result: running, waiting for the first iteration"
    doc.set_result(report(2, n=doc.meshes["source"].n_vertices))
    assert "(running, iteration 2, mismatch down 83.3%)" in result_title(doc)
    doc.result.report.status = "converged"
    doc.end_run()
    assert result_title(doc).endswith("(converged, iteration 2, mismatch down 83.3%)")


def test_vertex_counts_read_the_same_in_the_status_bar_the_plot_and_the_parameters():
    """A 1,601-vertex level was "1k" in the status bar and "2k" on the plot."""
    from shapeviewer.document.wording import vertex_count

    assert [vertex_count(n) for n in (950, 1601, 8001, 9999, 40_000, 200_000)] == [
        "950", "1.6k", "8k", "10k", "40k", "200k"
    ]  # fmt: skip


def test_a_change_of_the_mismatch_within_rounding_reads_as_unchanged():
    from shapeviewer.document.wording import mismatch_change

    assert mismatch_change(1 - 3e-8) == mismatch_change(1 + 3e-8) == mismatch_change(1.0) == "unchanged"
    assert mismatch_change(1 - 2e-5) == "down < 0.01%" and mismatch_change(0.5) == "down 50.0%"
