"""Checks that graders of several lessons make, written once.

Grader modules import these instead of copying them (lessons 5 and on too).
"""

from __future__ import annotations

import time

from vllm_course.grading.compare import isclose
from vllm_course.grading.feedback import describe_type, expect


def generate_quietly(llm, prompts, params):
    """`llm.generate` without a progress bar: the kit's own reference runs."""
    return llm.generate(prompts, params, use_tqdm=False)


def student_llm(kit):
    """The engine the student's engine factory (create_llm, create_embedder)
    returned: its error re-raised, or a failure saying why it is not usable."""
    attempt = kit.student_engine()
    if attempt.error is not None:
        raise attempt.error
    problem = kit.engine_problem(attempt)
    expect(problem is None, problem or "")
    return attempt.llm


def expect_outputs_in_prompt_order(outs, prompts: list) -> None:
    """`outs` is a list of RequestOutput, one per prompt, in prompt order."""
    from vllm.outputs import RequestOutput

    expect(isinstance(outs, list), f"expected a list of RequestOutput, got {describe_type(outs)}")
    expect(len(outs) == len(prompts),
           f"expected {len(prompts)} outputs for {len(prompts)} prompts, got {len(outs)}")
    for i, out in enumerate(outs):
        expect(isinstance(out, RequestOutput),
               f"item {i}: expected a RequestOutput, got {describe_type(out)}")
    got_prompts = [o.prompt for o in outs]
    expect(got_prompts == prompts,
           f"outputs must be in prompt order: expected {prompts}, got {got_prompts}")


def expect_exact_keys(got, keys: set[str]) -> None:
    """`got` is a dict with exactly `keys`."""
    expect(isinstance(got, dict), f"expected a dict, got {describe_type(got)}")
    expect(set(got) == keys, f"expected exactly the keys {sorted(keys)}, got {sorted(got)}")


def expect_sampling_params(params, **asked):
    """`params` is a vllm.SamplingParams with the `asked` values and vLLM's
    defaults everywhere else (as SamplingParams(**asked) has them)."""
    from vllm import SamplingParams

    expect(type(params) is SamplingParams,
           f"expected a vllm.SamplingParams, got {describe_type(params)}")
    want = SamplingParams(**asked)
    for name in SamplingParams.__struct_fields__:
        if name.startswith("_"):
            continue
        got, value = getattr(params, name), getattr(want, name)
        same = (isclose(got, value) if isinstance(value, float) and isinstance(got, (int, float))
                else got == value)
        if name in asked:
            expect(same, f"expected {name} {asked[name]}, got {got!r}")
        else:
            shown = ", ".join(f"{k}={v}" for k, v in asked.items())
            expect(same, f"{name}: expected vLLM's default {value!r}, got {got!r}: set only "
                         f"{shown} and leave every other field at its default")


def recorded(name: str, function, spans: list | None = None, returned: list | None = None):
    """`function`, appending (name, perf_counter at its start, at its end) to
    `spans` and (name, its return value) to `returned`: the events a check
    reads (a call made, inside which clock readings must fall), not timings."""
    def call(*args, **kwargs):
        start = time.perf_counter()
        try:
            value = function(*args, **kwargs)
        finally:
            if spans is not None:
                spans.append((name, start, time.perf_counter()))
        if returned is not None:
            returned.append((name, value))
        return value
    return call


class CountingLLM:
    """The kit's engine as the student's code sees it, counting calls of
    `methods` (an event, not a timing: "one llm.chat call" is read here).
    Everything else passes through to the engine unchanged."""

    def __init__(self, llm, *methods: str):
        self._llm, self._methods = llm, set(methods)
        self.calls = {name: 0 for name in methods}
        self.spans: list[tuple[str, float, float]] = []  # (method, start, end), perf_counter

    def expect_one(self, method: str, items: int, what: str) -> None:
        """ONE call of `method` (and none of the others counted) for `items` `what`."""
        want = {name: int(name == method) for name in self.calls}
        made = ", ".join(f"{n} llm.{name}" for name, n in self.calls.items())
        expect(self.calls == want, f"expected ONE llm.{method} call for all {items} {what}, "
                                   f"got {made} call(s): pass the whole list to llm.{method}")

    def __getattr__(self, name):
        attribute = getattr(self._llm, name)
        if name not in self._methods:
            return attribute

        def counted(*args, **kwargs):
            self.calls[name] += 1
            return recorded(name, attribute, self.spans)(*args, **kwargs)
        return counted


def expect_unchanged(before, after, what: str) -> None:
    """The caller's object `what` is as it was (`before` is a deep copy)."""
    expect(after == before, f"{what} was changed by your code: it was {before!r}, afterwards "
                            f"{after!r}. Leave the caller's objects as they were (work on a copy)")
