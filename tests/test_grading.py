"""The graders of every lesson, on real vLLM, as the warm grader runs them.

For each lesson in course.yaml: the committed stubs are generated from the
solutions; and in one `course grade` run over a class (the reference
solution, the stubs and each planted mistake of tests/planted_mistakes.yaml)
the solution scores full points, the stubs score 0 with "not implemented"
feedback, and each planted mistake loses exactly its exercise's points. The
same holds in a second run of each lesson in another dtype or model (the
"rotated" run: a cell of vllm_course/authoring/matrix.py) for the reference,
the stubs and one planted mistake per exercise (`make test-matrix` grades
every mistake in every cell). That
those scores equal plain `pytest exercises/lessonNN` runs is tested in
test_warm_grader.py.
"""

import json

import pytest

from conftest import CLASS_JOBS, rotation_turn
from grading_helpers import notebook_mistake

from vllm_course.authoring import matrix, planted
from vllm_course.course.manifest import course
from vllm_course.authoring.stubs import exercise_path, expected_stub

LESSONS = list(course().lessons)
MISTAKES = [(lesson, m) for lesson in LESSONS for m in planted.mistakes(lesson)]
# Every mistake in the main run; one per exercise in the rotated run.
PLANTED_RUNS = [(lesson, m, "main") for lesson, m in MISTAKES] + [
    (lesson, m, "rotated") for lesson in LESSONS
    for m in matrix.rotated_mistakes(lesson, rotation_turn())]


def full(lesson):
    return {e.function: e.points for e in lesson.exercises}


def scores(results: dict) -> dict[str, int]:
    return {t["name"]: t["score"] for t in results["tests"]}


def by_id(value):
    return value.id if hasattr(value, "id") else str(value)


def test_every_exercise_has_enough_planted_mistakes():
    # The rule is course check's (vllm_course/authoring/planted.py): it is asserted here
    # so that a lesson landing short of mistakes fails the suite by name.
    assert planted.problems(course()) == []


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_committed_stubs_are_generated_from_the_solutions(lesson):
    assert exercise_path(lesson).read_text() == expected_stub(lesson), (
        "exercises/ drifted from solutions/: run `course stubs` and commit the result")


# The class runs in the machine's own cell, and once more in another cell of
# the matrix (vllm_course/authoring/matrix.py; `make test-matrix` runs them all).
RUNS = ["main", "rotated"]


def class_run(run: str, lesson, graded_class, graded_rotated):
    """(results by student, output) of the lesson's main or rotated class run."""
    if run == "main":
        results, out, *_ = graded_class(lesson)
    else:
        results, out, _ = graded_rotated(lesson)
    return results, out


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_reference_scores_full_points(lesson, run, graded_class, graded_rotated):
    results, out = class_run(run, lesson, graded_class, graded_rotated)
    assert scores(results["zz-reference"]) == full(lesson), out[-4000:]


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_solutions_score_full_points(lesson, graded_class):
    results, out, _, root = graded_class(lesson)
    reference = results["zz-reference"]
    assert scores(reference) == full(lesson), out[-4000:]
    assert reference["score"] == lesson.max_points
    # One engine per model serves every check (the student's own, when its
    # engine factory works): lesson 8 loads its classifier and its scorer; a
    # lesson served by `vllm serve` loads none in the graded process.
    printed = (root / "out" / "zz-reference" / "output.txt").read_text()
    engines = 0 if lesson.serve is not None else 1 + len(lesson.also)
    assert printed.count("Starting to load model") == engines, printed[-4000:]


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_no_process_outlives_a_class_run(lesson, graded_class):
    """Nothing `course grade` started (graded children, relays, a lesson's
    server and its engine process) is alive once it has returned."""
    *_, root = graded_class(lesson)
    run = json.loads((root / "run.json").read_text())
    assert run["leftovers"] == [], run


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_each_submission_is_timed_from_its_own_start(lesson, graded_class):
    """The seconds recorded (and held against submission_seconds) run from
    a submission's first child, not from the start of the class: with the
    clock started at queueing, a large class's late submissions would be
    killed for the time they waited. Two at a time (-j 2), the graded
    seconds add up to at most twice the run's wall time."""
    results, *_, root = graded_class(lesson)
    run = json.loads((root / "run.json").read_text())
    graded = sum(r["extra_data"]["seconds"] for r in results.values())
    assert graded <= CLASS_JOBS * run["seconds"], (graded, run["seconds"])


@pytest.mark.parametrize("run", RUNS)
@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_stubs_score_zero_with_not_implemented_feedback(lesson, run, graded_class,
                                                        graded_rotated):
    results, out = class_run(run, lesson, graded_class, graded_rotated)
    stub = results["stub"]
    assert stub["score"] == 0, out[-4000:]
    for test in stub["tests"]:
        assert test["status"] == "failed" and test["max_score"] == full(lesson)[test["name"]]
        assert "not implemented yet" in test["output"], test
        assert "Traceback" not in test["output"]


@pytest.mark.parametrize("lesson,mistake,run", PLANTED_RUNS,
                         ids=[f"{l.id}-{m.function}-{m.name}-{r}" for l, m, r in PLANTED_RUNS])
def test_planted_mistake_loses_exactly_its_points(lesson, mistake, run, graded_class,
                                                  graded_rotated):
    results, out = class_run(run, lesson, graded_class, graded_rotated)
    function = mistake.function
    graded = results[mistake.student]
    assert scores(graded) == dict(full(lesson), **{function: 0}), [
        t["output"] for t in graded["tests"] if t["status"] == "failed"] + out.splitlines()[-1:]
    [failed] = [t for t in graded["tests"] if t["status"] == "failed"]
    assert failed["output"].startswith(f"{function}: ")
    assert "Hint:" in failed["output"]
    assert f"Reread: {lesson.folder}/README.md#" in failed["output"]


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_notebooks_in_nbgraders_layout_are_graded_like_files(lesson, graded_class):
    """The lesson's notebook, read from submitted/<student>/<lesson>/: full
    marks as built; its first planted mistake loses exactly its points (what
    nbgrader's autograde gives the same answer: test_nbgrader_pipeline.py)."""
    results, out, _, _ = graded_class(lesson)
    assert scores(results["nb-right"]) == full(lesson), out[-4000:]
    mistake = notebook_mistake(lesson)
    assert scores(results["nb-wrong"]) == dict(full(lesson), **{mistake.function: 0})
