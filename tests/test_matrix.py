"""The test matrix's cells, rotation and table (pure helpers: `make test-matrix`
runs the class grading tests themselves, on real vLLM)."""

import pytest

from vllm_course.authoring import matrix
from vllm_course.authoring.matrix import CELLS, Cell


def test_six_cells_and_their_names():
    assert [c.name for c in CELLS] == ["float32/default", "float16/default", "bfloat16/default",
                                       "float32/unseen", "float16/unseen", "bfloat16/unseen"]
    assert Cell.parse("float16/unseen") == Cell("float16", "unseen")
    for bad in ("float64/default", "float16", "float16/real"):
        with pytest.raises(ValueError, match="DTYPE/MODEL"):
            Cell.parse(bad)


def test_the_rotation_avoids_the_machines_own_cell_and_covers_the_others():
    seen = {matrix.rotated(3, turn, "bfloat16") for turn in range(20)}
    assert Cell("bfloat16", "default") not in seen
    assert seen == set(CELLS) - {Cell("bfloat16", "default")}
    # Lessons of one run get different cells; the next commit moves each on.
    assert matrix.rotated(0, 7, "float32") != matrix.rotated(1, 7, "float32")
    assert matrix.rotated(0, 8, "float32") == matrix.rotated(1, 7, "float32")


def test_the_unseen_cell_names_the_second_stand_in(monkeypatch):
    built = []
    monkeypatch.setattr("vllm_course.models.offline_model.ensure_built",
                        lambda name, progress=None: built.append(name) or f"/models/{name}")
    env = Cell("float16", "unseen").env()
    assert env == {"VLLM_COURSE_CPU_DTYPE": "float16", "VLLM_COURSE_MODEL": "/models/tiny-unseen"}
    assert Cell("float32", "default").env() == {"VLLM_COURSE_CPU_DTYPE": "float32"}


def test_junit_results_and_the_table(tmp_path):
    junit = tmp_path / "r.xml"
    junit.write_text(
        '<testsuites><testsuite>'
        '<testcase name="test_reference_scores_full_points[lesson01-main]"/>'
        '<testcase name="test_planted_mistake_loses_exactly_its_points[lesson01-generate-x]">'
        '<failure message="no"/></testcase>'
        '<testcase name="test_reference_scores_full_points[lesson02-main]"/>'
        '</testsuite></testsuites>')
    assert matrix._unexpected(junit, "lesson01") == ["lesson01-generate-x"]
    assert matrix._unexpected(junit, "lesson02") == []
    assert matrix._unexpected(junit, "lesson03") is None
    cells = [Cell("float32", "default"), Cell("float16", "unseen")]
    found = {cells[0]: {"lesson01": [], "lesson02": None},
             cells[1]: {"lesson01": ["lesson01-generate-x"], "lesson02": []}}
    lines = matrix.table(["lesson01", "lesson02"], cells, found)
    assert lines[1].split() == ["lesson01", "as", "expected", "1", "not"]
    assert lines[2].split() == ["lesson02", "not", "run", "as", "expected"]
    assert lines[3] == "lesson01 float16/unseen: lesson01-generate-x"


def test_the_rotated_run_grades_one_mistake_per_exercise_and_all_of_them_in_turn():
    from vllm_course.authoring import planted
    from vllm_course.course.manifest import course

    lesson = course().lesson("lesson09")
    every = planted.mistakes(lesson)
    picked = matrix.rotated_mistakes(lesson, 0)
    assert [m.function for m in picked] == [e.function for e in lesson.exercises]
    # Unchanged while the cells come round, then each exercise's next mistake.
    assert matrix.rotated_mistakes(lesson, len(CELLS) - 1) == picked
    assert not set(matrix.rotated_mistakes(lesson, len(CELLS))) & set(picked)
    longest = max(len(planted.mistakes(lesson, e.function)) for e in lesson.exercises)
    turns = len(CELLS) * longest
    assert {m for t in range(turns) for m in matrix.rotated_mistakes(lesson, t)} == set(every)
    # Every mistake meets every other cell over successive commits.
    others = set(CELLS) - {Cell("float32", "default")}
    assert {(c, m) for c in others for m in every} <= {
        (matrix.rotated(0, t, "float32"), m) for t in range(turns * len(others))
        for m in matrix.rotated_mistakes(lesson, t)}
