"""Premises about the model are established on the engine, or end as a kit error.

The unit tests drive premises.establish with answers given by hand (a pure
helper). The end-to-end test plants a model on which lesson 3's premises fail:
opt-125m's shape with random weights, whose greedy runs neither stop on the
end token nor give prompts texts of their own. Grading the reference solution on it must end in a
kit error that names the premise and the model: not a pass, and not the
student's failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from vllm_course.grading import premises, scoring
from vllm_course.grading.feedback import KitError, render
from vllm_course.course.manifest import REPO_ROOT, course


class FakeKit:
    model = "some/model"
    premises: dict

    def __init__(self):
        self.premises = {}


def test_establish_keeps_the_first_candidates_that_hold_in_order():
    kit, asked = FakeKit(), []

    def holds(candidates):
        asked.append(candidates)
        return [len(c) > 2 for c in candidates]

    assert premises.establish(kit, "it is long", ["a", "bbb", "cc", "dddd", "eee"], holds,
                              need=2) == ["bbb", "dddd"]
    # Established once per session: the same question is not asked again.
    assert premises.establish(kit, "it is long", ["a", "bbb", "cc", "dddd", "eee"], holds,
                              need=2) == ["bbb", "dddd"]
    assert len(asked) == 1


def test_one_at_a_time_stops_once_enough_hold():
    kit, asked = FakeKit(), []

    def holds(some):
        asked.append(some)
        return [c != "b" for c in some]

    assert premises.establish(kit, "not b", ["b", "c", "d", "e"], holds, need=2,
                              batch=1) == ["c", "d"]
    assert asked == [["b"], ["c"], ["d"]]  # "e" was never run


def test_what_the_reference_run_found_seeds_the_next_session(monkeypatch):
    # The warm grader's path: the reference child exports, JSON carries it,
    # every later child seeds its kit and asks the model nothing.
    monkeypatch.setattr(premises, "_seeded", {})
    first, asked = FakeKit(), []
    pairs = [("a", 1), ("b", 2), ("c", 3)]

    def holds(some):
        asked.append(some)
        return [n > 1 for _, n in some]

    assert premises.establish(first, "n > 1", pairs, holds, need=2) == [("b", 2), ("c", 3)]
    with pytest.raises(KitError):
        premises.establish(first, "n > 5", pairs, lambda some: [False] * len(some))
    premises.seed(json.loads(json.dumps(premises.exported(first.premises))))
    later = FakeKit()
    later.premises = premises.seeded()
    # The same objects as the candidates (tuples stay tuples), and no new run.
    assert premises.establish(later, "n > 1", pairs, holds, need=2) == [("b", 2), ("c", 3)]
    assert len(asked) == 1
    # A premise that failed is not handed on: the later session finds it out itself.
    assert len(premises.seeded()) == 1


def test_too_few_candidates_is_a_kit_error_naming_premise_and_model():
    kit = FakeKit()
    with pytest.raises(KitError) as error:
        premises.establish(kit, "the greedy run stops early", ["x", "y"],
                           lambda c: [False, True], need=2)
    text = str(error.value)
    assert "the greedy run stops early" in text and "'some/model'" in text
    assert "1 of 2 candidates hold, 2 needed" in text
    with pytest.raises(KitError):  # the answer is kept: the same error again
        premises.establish(kit, "the greedy run stops early", ["x", "y"],
                           lambda c: [True, True], need=2)


def test_require_and_a_wrong_count_of_answers():
    kit = FakeKit()
    premises.require(kit, True, "it holds")
    with pytest.raises(KitError, match="it holds"):
        premises.require(kit, False, "it holds")
    with pytest.raises(ValueError, match="1 answers for 2 candidates"):
        premises.establish(kit, "p", ["a", "b"], lambda c: [True])


def test_a_kit_error_is_neither_passed_nor_failed():
    lesson = course().lesson("lesson03")
    results = scoring.new_results(lesson)
    results["generate_batched"].outcomes = [True, None]  # one check could not be made
    results["generate_looped"].outcomes = [False, None]  # a real failure stands
    assert results["generate_batched"].status == scoring.KIT_ERROR
    assert results["generate_batched"].points == 0
    assert results["generate_looped"].status == "failed"
    line = scoring.score_line(lesson, results)
    assert line.endswith("(2 not graded: kit error in generate_batched)"), line
    message = render(lesson, "generate_batched", KitError("no such prompt"))
    assert message.startswith("generate_batched: kit error, not graded (not your code's fault): "
                              "no such prompt")


def test_a_model_that_breaks_a_premise_gives_a_kit_error_not_a_pass(tmp_path):
    """Random weights (opt-125m's shape): count_generated_tokens needs prompts
    whose greedy texts differ and one that stops on the end token."""
    from vllm_course.models import offline_model

    random_model = offline_model.ensure_built("opt-125m-shape")
    results = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env[course().models["facebook/opt-125m"].env] = str(random_model)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "exercises/lesson03", "--target", "solutions",
         "-k", "count_generated_tokens", "--results", str(results), "-p", "no:cacheprovider"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)
    out = done.stdout + done.stderr
    assert done.returncode != 0, out[-3000:]
    data = json.loads(results.read_text())
    [test] = [t for t in data["tests"] if t["name"] == "count_generated_tokens"]
    assert test["status"] == "failed" and test["score"] == 0, test
    assert "kit error, not graded" in test["output"], test["output"]
    assert 'the premise "the greedy run' in test["output"], test["output"]
    assert str(random_model) in test["output"]
    assert "KIT  count_generated_tokens" in out, out[-3000:]
    assert "not graded: kit error in count_generated_tokens" in out
