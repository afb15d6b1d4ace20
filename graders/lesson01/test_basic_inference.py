"""Graders of lesson 1, one test per exercise (points in course.yaml).

Each test takes `student` (the submission's functions) and `kit` (the shared
engine and the kit's own references) and checks real behaviour through vLLM.
The same functions grade nbgrader notebooks (vllm_course.grading.notebook).
"""

import pytest
from vllm import EngineArgs, SamplingParams

from vllm_course.runtime import vllm_internals as internals
from vllm_course.grading import expect
from vllm_course.grading.checks import (expect_exact_keys, expect_outputs_in_prompt_order,
                                        expect_sampling_params, generate_quietly, student_llm)
from vllm_course.grading.feedback import describe_type
from vllm_course.grading.premises import establish, samples_differ

PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


def sampling_params_of(student, function, temperature, top_p):
    params = getattr(student, function)()
    expect_sampling_params(params, temperature=temperature, top_p=top_p)
    return params


def run(kit, params, prompts=PROMPTS):
    return generate_quietly(kit.llm, prompts, params)


# Candidates for prompts whose n=3 seeded samples (SAMPLES) differ.
OPEN_CANDIDATES = ["Purple", "Why do cats", "Seven green", "Banana bread and", "Blue",
                   "My favourite food is"]
SAMPLES = SamplingParams(n=3, temperature=1.0, seed=7, max_tokens=8)


def samples(kit, count: int, skip: int = 0):
    """Outputs of n=3 seeded samples each on `count` prompts (after the first
    `skip`) whose first completion differs from the others, established on
    this engine."""
    prompts = establish(kit, "with n=3 seeded samples the first differs from the others",
                        OPEN_CANDIDATES, samples_differ(kit, SAMPLES), need=skip + count)
    return run(kit, SAMPLES, prompts[skip:])


@pytest.mark.exercise("create_sampling_params")
def test_create_sampling_params(student, kit):
    params = sampling_params_of(student, "create_sampling_params", 0.8, 0.95)
    outs = run(kit, params)  # vLLM accepts them and samples with them
    expect(all(len(o.outputs[0].token_ids) > 0 for o in outs),
           "generation with these parameters produced no tokens")


@pytest.mark.exercise("create_llm")
def test_create_llm(student, kit):
    llm = student_llm(kit)
    # ignore_eos: four tokens whether or not the model would end sooner.
    [out] = llm.generate(PROMPTS[:1], SamplingParams(temperature=0, max_tokens=4, ignore_eos=True),
                         use_tqdm=False)
    expect(len(out.outputs[0].token_ids) == 4, "the engine returned by create_llm cannot generate")
    # Short prompts work in an engine cut to a short context too: ask for the
    # model's own context length, which vLLM's defaults give.
    own = EngineArgs(model=kit.model).create_model_config().max_model_len
    got = internals.context_length(llm)
    expect(got == own, f"the engine takes at most {got} tokens of prompt and completion, but "
                       f"the model takes {own}: load it with vLLM's defaults (no max_model_len)")


@pytest.mark.exercise("generate")
def test_generate(student, kit):
    prompts = [PROMPTS[2], PROMPTS[0], PROMPTS[3]]  # not the lesson's order
    for max_tokens in (3, 7):
        params = SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)
        outs = student.generate(kit.llm, prompts, params)
        expect_outputs_in_prompt_order(outs, prompts)
        lengths = [len(o.outputs[0].token_ids) for o in outs]
        expect(lengths == [max_tokens] * len(prompts),
               f"with max_tokens={max_tokens} every completion should have {max_tokens} "
               f"tokens, got {lengths}: pass the sampling_params you were given to "
               "llm.generate")
        reference = kit.greedy(prompts, max_tokens)
        expect([list(o.outputs[0].token_ids) for o in outs] == reference,
               "with temperature 0 the tokens should equal the kit's greedy run on the "
               "same prompts: generate with exactly the parameters given")


def _check_pairs(student, outs):
    pairs = student.extract_completions(outs)
    expected = [(o.prompt, o.outputs[0].text) for o in outs]
    expect(isinstance(pairs, list), f"expected a list of tuples, got {describe_type(pairs)}")
    expect(len(pairs) == len(outs), f"expected {len(outs)} pairs, got {len(pairs)}")
    for i, (got, want) in enumerate(zip(pairs, expected)):
        expect(isinstance(got, tuple) and len(got) == 2,
               f"item {i}: expected a (prompt, text) tuple, got {describe_type(got)}")
        expect(got[0] == want[0], f"item {i}: expected prompt {want[0]!r}, got {got[0]!r}")
        expect(got[1] == want[1],
               f"item {i}: expected the generated text {want[1]!r}, got {got[1]!r}")
    return expected


@pytest.mark.exercise("extract_completions")
def test_extract_completions(student, kit):
    outs = run(kit, SamplingParams(temperature=0, max_tokens=8))
    expected = _check_pairs(student, outs)
    reordered = student.extract_completions(list(reversed(outs)))
    expect(reordered == list(reversed(expected)), "pairs must follow the order of the outputs")
    # Three different samples per prompt: the pair holds the first one's text.
    _check_pairs(student, samples(kit, 2))
    expect(student.extract_completions([]) == [], "no outputs should give no pairs, []")


@pytest.mark.exercise("deterministic_params")
def test_deterministic_params(student, kit):
    params = student.deterministic_params()
    expect(isinstance(params, SamplingParams),
           f"expected a vllm.SamplingParams, got {describe_type(params)}")
    expect_sampling_params(params, temperature=0)
    first = [list(o.outputs[0].token_ids) for o in run(kit, params)]
    second = [list(o.outputs[0].token_ids) for o in run(kit, params)]
    expect(first == second, "two runs with these parameters gave different tokens")
    expect(first == kit.greedy(PROMPTS, params.max_tokens),
           f"the runs agree but are not greedy decoding (temperature {params.temperature}): "
           "the same text on every run, for every seed, needs temperature 0")


@pytest.mark.exercise("creative_params")
def test_creative_params(student, kit):
    params = sampling_params_of(student, "creative_params", 1.2, 0.95)
    run(kit, params)


@pytest.mark.exercise("focused_params")
def test_focused_params(student, kit):
    params = sampling_params_of(student, "focused_params", 0.8, 0.5)
    run(kit, params)


def _check_description(student, out, with_logprobs):
    got = student.describe_output(out)
    keys = {"prompt", "text", "token_ids", "cumulative_logprob", "finish_reason"}
    expect_exact_keys(got, keys)
    c = out.outputs[0]
    want = {"prompt": out.prompt, "text": c.text, "token_ids": list(c.token_ids),
            "cumulative_logprob": c.cumulative_logprob, "finish_reason": c.finish_reason}
    expect(isinstance(got["token_ids"], list),
           f"'token_ids': expected a list, got {describe_type(got['token_ids'])}")
    for key, value in want.items():
        expect(got[key] == value, f"{key!r}: expected {value!r}, got {got[key]!r}")
    if with_logprobs:
        expect(isinstance(got["cumulative_logprob"], float),
               "with logprobs requested, cumulative_logprob should be a float, got "
               f"{describe_type(got['cumulative_logprob'])}")
    else:
        expect(got["cumulative_logprob"] is None,
               "without logprobs, vLLM reports cumulative_logprob as None: take it from the output")


@pytest.mark.exercise("describe_output")
def test_describe_output(student, kit):
    # Different prompts and lengths, with and without logprobs, so that no
    # constant answer passes.
    [short] = run(kit, SamplingParams(temperature=0, max_tokens=3, logprobs=1), PROMPTS[:1])
    [plain] = run(kit, SamplingParams(temperature=0, max_tokens=64), PROMPTS[2:3])
    _check_description(student, short, with_logprobs=True)
    _check_description(student, plain, with_logprobs=False)
    # Three different samples: the description is of the first.
    [several] = samples(kit, 1, skip=2)
    _check_description(student, several, with_logprobs=False)


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("deterministic_params")
def test_deterministic_params_on_unseen_prompts(student, kit):
    prompts = ["Paris is a city where", "My favourite food is", "Once upon a time"]
    params = student.deterministic_params()
    expect(isinstance(params, SamplingParams),
           f"expected a vllm.SamplingParams, got {describe_type(params)}")
    runs = [[list(o.outputs[0].token_ids) for o in run(kit, params, prompts)] for _ in range(2)]
    expect(runs[0] == runs[1], "on new prompts, two runs with these parameters differ")
    expect(runs[0] == kit.greedy(prompts, params.max_tokens),
           "on new prompts these parameters are not greedy decoding: use temperature 0")
