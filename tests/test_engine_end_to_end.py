"""The stock vLLM `LLM` on the offline model, through the CPU reference platform."""

from __future__ import annotations

import math

import pytest
import torch
from vllm import SamplingParams

from conftest import LESSON_PROMPTS

GREEDY = SamplingParams(temperature=0, max_tokens=64)


def token_ids(outputs):
    return [list(o.outputs[0].token_ids) for o in outputs]


def test_runs_on_the_course_platform_only_without_a_gpu(course_platform_active):
    from vllm.platforms import current_platform

    ours = type(current_platform).__name__ == "CourseCpuPlatform"
    assert ours == course_platform_active, type(current_platform)
    if not course_platform_active:  # a GPU machine: vLLM's own platform, on its device
        assert current_platform.device_type != "cpu"


def test_greedy_is_deterministic_across_calls(offline_llm):
    first = offline_llm.generate(LESSON_PROMPTS, GREEDY, use_tqdm=False)
    second = offline_llm.generate(LESSON_PROMPTS, GREEDY, use_tqdm=False)
    assert token_ids(first) == token_ids(second)
    assert [o.prompt for o in first] == LESSON_PROMPTS  # prompt order kept
    assert all(o.outputs[0].text.strip() for o in first), "empty greedy completion"


def test_greedy_matches_transformers(offline_llm, offline_model_path):
    """End-to-end check of the reference ops: same weights, same greedy tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(offline_model_path)
    model = AutoModelForCausalLM.from_pretrained(offline_model_path, dtype=torch.float32).eval()
    ours = offline_llm.generate(LESSON_PROMPTS, SamplingParams(temperature=0, max_tokens=40),
                                use_tqdm=False)
    for prompt, out in zip(LESSON_PROMPTS, ours):
        ids = tok(prompt, return_tensors="pt").input_ids
        assert list(out.prompt_token_ids) == ids[0].tolist()
        with torch.no_grad():  # both stop at EOS (id 2) or after 40 tokens
            ref = model.generate(ids, max_new_tokens=40, do_sample=False, eos_token_id=2,
                                 pad_token_id=1)
        assert list(out.outputs[0].token_ids) == ref[0, ids.shape[1]:].tolist(), prompt


def test_both_finish_reasons_on_the_lesson_prompts(offline_llm):
    outs = offline_llm.generate(LESSON_PROMPTS, GREEDY, use_tqdm=False)
    reasons = {o.outputs[0].finish_reason for o in outs}
    assert reasons == {"stop", "length"}, [(o.prompt, o.outputs[0].finish_reason) for o in outs]
    for o in outs:
        c = o.outputs[0]
        if c.finish_reason == "length":
            assert len(c.token_ids) == 64
        else:
            assert len(c.token_ids) < 64 and c.token_ids[-1] == 2  # EOS


def test_seeded_sampling_is_reproducible(offline_llm):
    def sample(seed):
        sp = SamplingParams(temperature=1.0, top_p=0.95, seed=seed, max_tokens=24)
        return token_ids(offline_llm.generate(LESSON_PROMPTS, sp, use_tqdm=False))

    a, b = sample(123), sample(123)
    assert a == b
    assert any(sample(s) != a for s in (7, 8, 9)), "other seeds never change the samples"


def test_n_samples(offline_llm):
    sp = SamplingParams(n=3, temperature=1.0, seed=5, max_tokens=12)
    [out] = offline_llm.generate(LESSON_PROMPTS[:1], sp, use_tqdm=False)
    assert [c.index for c in out.outputs] == [0, 1, 2]
    assert len({tuple(c.token_ids) for c in out.outputs}) > 1


def test_stop_string_ends_the_text(offline_llm):
    [full] = offline_llm.generate(LESSON_PROMPTS[3:], GREEDY, use_tqdm=False)
    words = full.outputs[0].text.split()
    stop = words[len(words) // 2]
    [cut] = offline_llm.generate(LESSON_PROMPTS[3:], SamplingParams(temperature=0, max_tokens=64,
                                                                     stop=[stop]), use_tqdm=False)
    c = cut.outputs[0]
    assert c.finish_reason == "stop" and c.stop_reason == stop
    assert stop not in c.text
    assert full.outputs[0].text.startswith(c.text)


def test_max_tokens(offline_llm):
    outs = offline_llm.generate(LESSON_PROMPTS, SamplingParams(temperature=0, max_tokens=5,
                                                               ignore_eos=True), use_tqdm=False)
    for o in outs:
        assert len(o.outputs[0].token_ids) == 5 and o.outputs[0].finish_reason == "length"


def test_logprobs(offline_llm):
    sp = SamplingParams(temperature=0, max_tokens=8, logprobs=3, ignore_eos=True)
    [o] = offline_llm.generate(LESSON_PROMPTS[:1], sp, use_tqdm=False)
    c = o.outputs[0]
    assert len(c.logprobs) == len(c.token_ids) == 8
    total = 0.0
    for tok, entry in zip(c.token_ids, c.logprobs):
        assert tok in entry and len(entry) >= 3
        assert entry[tok].rank == 1  # greedy picks the top token
        assert entry[tok].logprob <= 0.0
        total += entry[tok].logprob
    assert math.isclose(c.cumulative_logprob, total, rel_tol=1e-4, abs_tol=1e-4)

    [plain] = offline_llm.generate(LESSON_PROMPTS[:1], GREEDY, use_tqdm=False)
    assert plain.outputs[0].cumulative_logprob is None and plain.outputs[0].logprobs is None


def test_the_stand_in_answers_lesson_5s_chat_turns(offline_llm):
    """Lesson 5's conversations get the readable answers of the corpus's [chat]
    documents, in one turn and in two (the lesson stops each reply at the
    user's next line, as here)."""
    from vllm_course.grading.student import load_module
    from vllm_course.course.manifest import course
    from vllm_course.models.offline_model import load_corpus

    # The lesson's own template, from its solution file.
    template = load_module(course().lesson("lesson05").solution_path,
                           "_lesson05_solution").SIMPLE_TEMPLATE
    trained = [text for text, _, _, bos in load_corpus() if not bos]
    assert trained and all("\nAssistant: " in text for text in trained)
    params = SamplingParams(temperature=0, max_tokens=40, stop=["\nUser:"])
    system = {"role": "system", "content": "You are a helpful assistant."}
    for start, questions in (([system], ["What is the capital of France?",
                                         "And the capital of the United States?"]),
                             ([], ["Who are you?"]), ([system], ["What does vLLM do?"])):
        history = list(start)
        for question in questions:
            history.append({"role": "user", "content": question})
            [out] = offline_llm.chat(history, params, chat_template=template, use_tqdm=False)
            reply = out.outputs[0].text.strip()
            # The reply is the one the corpus gives for this question.
            answers = {t.split(f"User: {question}\nAssistant: ")[1].split("\n")[0]
                       for t in trained if f"User: {question}\n" in t}
            assert reply in answers, (question, reply, answers)
            history.append({"role": "assistant", "content": reply})
