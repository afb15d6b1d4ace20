"""CountingLLM and expect_unchanged (grading/checks.py): pure helpers the
graders use to read "ONE call" and "left as it was" as events."""

import pytest

from vllm_course.grading import GradingFailure
from vllm_course.grading.checks import CountingLLM, expect_unchanged


class Engine:
    model = "m"

    def generate(self, prompts):
        return [p.upper() for p in prompts]

    def chat(self, conversations):
        return self.generate([c[-1] for c in conversations])  # an inner call is not the caller's


def test_counts_only_the_named_methods_called_from_outside():
    llm = CountingLLM(Engine(), "generate", "chat")
    assert llm.chat([["a"], ["b"]]) == ["A", "B"]
    assert llm.model == "m"
    assert llm.calls == {"generate": 0, "chat": 1}
    llm.expect_one("chat", 2, "conversations")
    [(name, start, end)] = llm.spans
    assert name == "chat" and start <= end


def test_a_call_per_item_fails_with_what_was_made():
    llm = CountingLLM(Engine(), "generate", "chat")
    for prompt in ("a", "b", "c"):
        llm.generate([prompt])
    with pytest.raises(GradingFailure, match="expected ONE llm.generate call for all 3 prompts, "
                                             "got 3 llm.generate, 0 llm.chat call"):
        llm.expect_one("generate", 3, "prompts")


def test_a_changed_argument_is_named():
    expect_unchanged(["x"], ["x"], "user_turns")
    with pytest.raises(GradingFailure, match="user_turns was changed by your code"):
        expect_unchanged(["x", "y"], ["y"], "user_turns")
