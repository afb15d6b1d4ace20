"""The lesson 1 graders, run as a student runs them, on real vLLM.

Solutions score full points; the generated stubs score 0 with "not
implemented" feedback; each planted mistake loses exactly its exercise's
points; broken files and hangs are reported, not crashed on.
"""

import re

import pytest

from grading_helpers import PLANTED, grade, scores, with_body
from vllm_course.manifest import course
from vllm_course.stubs import exercise_path, expected_stub

LESSON = course().lesson("lesson01")
FULL = {e.function: e.points for e in LESSON.exercises}


def test_committed_stubs_are_generated_from_the_solutions():
    assert exercise_path(LESSON).read_text() == expected_stub(LESSON), (
        "exercises/ drifted from solutions/: run `course stubs` and commit the result")


def test_solutions_score_full_points(tmp_path):
    results, out = grade(LESSON, "solutions", tmp_path, "-s")
    assert scores(results) == FULL, out[-4000:]
    assert results["score"] == LESSON.max_points
    assert f"lesson01: {LESSON.max_points}/{LESSON.max_points} points" in out
    # The student's create_llm engine serves every check: one model load.
    assert out.count("Starting to load model") == 1, out[-4000:]


def test_stubs_score_zero_with_not_implemented_feedback(tmp_path):
    results, out = grade(LESSON, "exercises", tmp_path)
    assert results["score"] == 0
    for test in results["tests"]:
        assert test["status"] == "failed" and test["max_score"] == FULL[test["name"]]
        assert "not implemented yet" in test["output"], test
        assert "Traceback" not in test["output"]
    assert f"lesson01: 0/{LESSON.max_points} points" in out


@pytest.mark.parametrize("function", sorted(PLANTED["lesson01"]))
def test_planted_mistake_loses_exactly_its_points(function, tmp_path):
    wrong = tmp_path / LESSON.exercise_file
    wrong.write_text(with_body(LESSON, function, PLANTED["lesson01"][function]))
    results, out = grade(LESSON, wrong, tmp_path)
    expected = dict(FULL, **{function: 0})
    assert scores(results) == expected, out[-4000:]
    [failed] = [t for t in results["tests"] if t["status"] == "failed"]
    assert failed["output"].startswith(f"{function}: ")
    assert "Hint:" in failed["output"] and "Reread: lessons/01-basic-inference/README.md#" in failed["output"]


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
