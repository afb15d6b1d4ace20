"""The graders of every lesson, run as a student runs them, on real vLLM.

For each lesson in course.yaml: the committed stubs are generated from the
solutions; the solutions score full points; the stubs score 0 with "not
implemented" feedback; and each planted mistake (tests/planted_mistakes.yaml,
one per exercise) loses exactly its exercise's points. Then, on lesson 1:
broken files, hangs and crashes are reported, not crashed on.
"""

import re

import pytest

from grading_helpers import PLANTED, grade, scores, with_body
from vllm_course.manifest import course
from vllm_course.stubs import exercise_path, expected_stub

LESSONS = list(course().lessons)
MISTAKES = [(lesson, function) for lesson in LESSONS for function in PLANTED.get(lesson.id, {})]
LESSON = course().lesson("lesson01")  # for the tests of the feedback machinery
FULL = {e.function: e.points for e in LESSON.exercises}


def full(lesson):
    return {e.function: e.points for e in lesson.exercises}


def by_id(value):
    return value.id if hasattr(value, "id") else str(value)


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_every_exercise_has_a_planted_mistake(lesson):
    assert set(PLANTED.get(lesson.id, {})) == set(full(lesson)), (
        f"tests/planted_mistakes.yaml needs one wrong answer per exercise of {lesson.id}")


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_committed_stubs_are_generated_from_the_solutions(lesson):
    assert exercise_path(lesson).read_text() == expected_stub(lesson), (
        "exercises/ drifted from solutions/: run `course stubs` and commit the result")


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_solutions_score_full_points(lesson, tmp_path):
    results, out = grade(lesson, "solutions", tmp_path, "-s")
    assert scores(results) == full(lesson), out[-4000:]
    assert results["score"] == lesson.max_points
    assert f"{lesson.id}: {lesson.max_points}/{lesson.max_points} points" in out
    # One engine serves every check (the student's own, when create_llm works).
    assert out.count("Starting to load model") == 1, out[-4000:]


@pytest.mark.parametrize("lesson", LESSONS, ids=by_id)
def test_stubs_score_zero_with_not_implemented_feedback(lesson, tmp_path):
    results, out = grade(lesson, "exercises", tmp_path)
    assert results["score"] == 0
    for test in results["tests"]:
        assert test["status"] == "failed" and test["max_score"] == full(lesson)[test["name"]]
        assert "not implemented yet" in test["output"], test
        assert "Traceback" not in test["output"]
    assert f"{lesson.id}: 0/{lesson.max_points} points" in out


@pytest.mark.parametrize("lesson,function", MISTAKES,
                         ids=[f"{l.id}-{f}" for l, f in MISTAKES])
def test_planted_mistake_loses_exactly_its_points(lesson, function, tmp_path):
    wrong = tmp_path / lesson.exercise_file
    wrong.write_text(with_body(lesson, function, PLANTED[lesson.id][function]))
    results, out = grade(lesson, wrong, tmp_path)
    assert scores(results) == dict(full(lesson), **{function: 0}), out[-4000:]
    [failed] = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed["output"].startswith(f"{function}: ")
    assert "Hint:" in failed["output"]
    assert f"Reread: {lesson.folder}/README.md#" in failed["output"]


def test_syntax_error_scores_zero_with_its_line(tmp_path):
    broken = tmp_path / LESSON.exercise_file
    text = with_body(LESSON, "generate", "return llm.generate(prompts sampling_params)")
    broken.write_text(text)
    line = 1 + text.splitlines().index("    return llm.generate(prompts sampling_params)")
    results, out = grade(LESSON, broken, tmp_path)
    assert results["score"] == 0
    for test in results["tests"]:
        assert f"line {line}: SyntaxError" in test["output"], test
    # Reported per test, not as a collection error.
    assert re.search(r"collected \d+ items", out) and "error" not in out.splitlines()[-1]


def test_hang_is_stopped_by_the_time_limit(tmp_path):
    hang = tmp_path / LESSON.exercise_file
    hang.write_text(with_body(LESSON, "focused_params", "while True:\n    pass"))
    results, out = grade(LESSON, hang, tmp_path, "--time-limit", "20")
    assert scores(results) == dict(FULL, focused_params=0), out[-4000:]
    [failed] = [t for t in results["tests"] if t["status"] == "failed"]
    assert "stopped after 20 s" in failed["output"]


def test_a_crash_shows_the_students_own_line(tmp_path):
    crash = tmp_path / LESSON.exercise_file
    crash.write_text(with_body(LESSON, "extract_completions",
                               "return [(o.prompt, o.outputs[1].text) for o in outputs]"))
    results, out = grade(LESSON, crash, tmp_path)
    assert scores(results) == dict(FULL, extract_completions=0)
    [failed] = [t for t in results["tests"] if t["status"] == "failed"]
    assert "raised IndexError" in failed["output"]
    assert "o.outputs[1].text" in failed["output"]  # the student's line, not vLLM internals
