"""The words 'register' and 'batch' give a result that is not credible, and what they advise."""

import numpy as np

from shapeviewer.document.credibility import credibility_advice, credibility_problems, sizes_differ


def _square(scale=1.0):
    vertices = scale * np.array([[0.0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    return vertices, np.array([[0, 1, 2], [0, 2, 3]])


def test_a_good_match_has_nothing_to_say():
    v, f = _square()
    assert credibility_problems(v, v * 1.1, f, (v, f), 0.95, 0.001) == []
    assert credibility_advice([], "converged", None, False) == ""


def test_a_collapsed_source_and_a_small_drop_are_both_named_with_the_pose_advice():
    v, f = _square()
    problems = credibility_problems(v, 0.1 * v, f, (v, f), 0.3, 0.5)
    assert problems == ["deformed source shrank to 1% of its area (1% of the target's)", "mismatch fell by only 30%"]
    assert credibility_advice(problems, "converged", None, False).endswith(": poses differ? try --align rigid")


def test_a_target_of_another_size_is_told_to_align_by_similarity():
    v, f = _square()
    big = _square(100.0)
    assert sizes_differ(v, big[0]) and not sizes_differ(v, 1.2 * v)
    problems = credibility_problems(v, v, f, big, 0.0, 30.0)
    assert problems[0] == "deformed source's area is 0.01% of the target's"
    assert credibility_advice(problems, "converged", "rigid", True).endswith("sizes differ? try --align similarity")
    assert "shapes too different" in credibility_advice(problems, "converged", "similarity", False)


def test_a_small_drop_close_to_the_target_is_not_flagged():
    v, f = _square()
    assert credibility_problems(v, v, f, (v, f), 0.1, 0.001) == []  # already as close as 0.1% of its size
    assert credibility_problems(v, v, f, (v, f), -0.2, 0.5) == ["mismatch rose by 20%"]


def test_a_pose_far_off_or_a_size_far_off_is_hinted_before_the_run():
    from shapeviewer.document.credibility import pose_hint

    v, _ = _square()
    assert pose_hint(v, v + 0.3) == ""
    assert pose_hint(v, 100.0 * v) == (
        "the target is 100x the source's size: try a similarity pre-alignment (Landmarks tab > Align) first"
    )
    far = pose_hint(v, v + [0.0, 50.0 * np.sqrt(2), 0.0])  # 50 diagonals away
    assert far.startswith("the meshes lie 50x their size apart: try a rigid")


def test_a_run_cut_by_its_budget_between_shapes_of_other_sizes_is_still_told_to_scale():
    problems = ["mismatch fell by only 10%"]
    assert credibility_advice(problems, "finished", "rigid", True).endswith("sizes differ? try --align similarity")
    assert "iteration budget" in credibility_advice(problems, "finished", "similarity", False)
