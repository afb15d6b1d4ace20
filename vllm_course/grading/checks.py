"""Checks that graders of several lessons make, written once.

Grader modules import these instead of copying them (lessons 5 and on too).
"""

from __future__ import annotations

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
