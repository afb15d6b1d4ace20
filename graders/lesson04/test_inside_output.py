"""Graders of lesson 4, one or more tests per exercise (points in course.yaml).

Each test takes `student` (the submission's functions) and `kit` (the shared
engine) and checks real behaviour through vLLM: every input is built here,
from the kit's own runs, so that each exercise is graded on its own. The same
functions grade nbgrader notebooks (vllm_course.grading.notebook).
"""

import pytest
from vllm import SamplingParams
from vllm.inputs import TokensPrompt
from vllm.outputs import RequestOutput

from vllm_course.grading.compare import exp, isclose, log
from vllm_course.grading import expect
from vllm_course.grading.checks import generate_quietly
from vllm_course.grading.feedback import describe_type, short_repr
from vllm_course.grading.premises import establish, require, runs_to

# Prompts for sampling at temperature 1, where some sampled token should fall
# outside the top k (sampled_completions establishes that it does, trying
# a few seeds).
OPEN_PROMPTS = ["Purple", "Seven green", "Why do cats", "Banana bread and", "Once upon a time",
                "My favourite food is"]
SEEDS = range(5)

# Candidates for (fluent sentence, the same words shuffled): the checks use
# the first NEED_PAIRS on which the kit's own perplexity of the sentence is
# lower than of its shuffle.
PAIRS = [("The capital of France is Paris.", "is of capital The Paris France."),
         ("A seed makes sampling repeatable.", "makes seed A repeatable sampling."),
         ("Memory is often the real limit when serving a model.",
          "serving a is limit the real often Memory model when."),
         ("Hello, my name is Sam.", "name Sam. is my Hello,"),
         ("The future of AI is bright.", "bright. of future AI The is"),
         ("Good morning, how are you today?", "today? are how morning, you Good")]
NEED_PAIRS = 3


def generate_one(kit, prompt, params):
    return kit.llm.generate(prompt, params, use_tqdm=False)[0]


def sampled_completions(kit, logprobs: int, k: int):
    """Completions sampled at temperature 1 with `logprobs`, among which at
    least one generated token is outside the top k: the case where vLLM adds
    the generated token to a position's dict as an extra entry. Seeded, so a
    submission gets the same grade on every run."""
    def holds(seeds):
        answers = []
        for seed in seeds:
            params = SamplingParams(temperature=1.0, max_tokens=16, logprobs=logprobs, seed=seed)
            completions = [o.outputs[0] for o in generate_quietly(kit.llm, OPEN_PROMPTS, params)]
            answers.append(any(step[token].rank > k for c in completions
                               for step, token in zip(c.logprobs, c.token_ids)))
        return answers

    [seed] = establish(kit, f"sampling {OPEN_PROMPTS} at temperature 1 with this seed draws a "
                            f"token outside the top {k}", list(SEEDS), holds)
    params = SamplingParams(temperature=1.0, max_tokens=16, logprobs=logprobs, seed=seed)
    return [o.outputs[0] for o in generate_quietly(kit.llm, OPEN_PROMPTS, params)]


def fluent_pairs(kit) -> list[tuple[str, str]]:
    return establish(kit, "the kit's perplexity of the sentence is lower than of its words "
                          "shuffled", PAIRS,
                     lambda pairs: [reference_perplexity(kit, f) < reference_perplexity(kit, s)
                                    for f, s in pairs], need=NEED_PAIRS)


def reference_perplexity(kit, text: str) -> float:
    output = generate_one(kit, text, SamplingParams(max_tokens=1, prompt_logprobs=0))
    logprobs = [step[token].logprob
                for step, token in zip(output.prompt_logprobs[1:], output.prompt_token_ids[1:])]
    return exp(-sum(logprobs) / len(logprobs))


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- tokens -----------------------------------------------------------------

ENCODE_TEXTS = ["The capital of France is", "", " ", "naïve café ☕ 日本語",
                "  two  spaces\tand\nnewline", "Paris is a city where"]


@pytest.mark.exercise("encode")
def test_encode(student, kit):
    outputs = kit.llm.generate(ENCODE_TEXTS, SamplingParams(max_tokens=1), use_tqdm=False)
    for text, output in zip(ENCODE_TEXTS, outputs):
        want = list(output.prompt_token_ids)
        got = student.encode(kit.llm, text)
        expect(isinstance(got, list) and all(isinstance(t, int) for t in got),
               f"encode(llm, {text!r}): expected a list of ints, got {describe_type(got)}")
        if got == want[1:]:
            expect(False, f"encode(llm, {text!r}): expected {want}, got {got}: the start token "
                          f"(id {want[0]}) is missing; vLLM puts it in front of every prompt")
        expect(got == want, f"encode(llm, {text!r}): expected the ids vLLM reports as "
                            f"prompt_token_ids, {want}, got {short_repr(got)}")


DECODE_TEXTS = ["A tokenizer turns text into numbers.", "naïve café ☕ 日本語",
                "  two  spaces\tand\nnewline"]


@pytest.mark.exercise("decode")
def test_decode(student, kit):
    # ignore_eos: the completions run past the end token </s>, which the
    # generated ids then contain but the text does not.
    params = SamplingParams(temperature=0, max_tokens=40, ignore_eos=True)
    outputs = kit.llm.generate(["Hello, my name is", "The capital of France is"], params,
                               use_tqdm=False)
    for output in outputs:
        completion = output.outputs[0]
        got = student.decode(kit.llm, list(completion.token_ids))
        expect(isinstance(got, str), f"expected a str, got {describe_type(got)}")
        special = [t for t in ("</s>", "<s>", "<pad>", "<unk>") if t in got]
        expect(not special, f"decoding the generated ids of {output.prompt!r} gave {got!r}, which "
                            f"contains {special[0] if special else ''!r}: leave special tokens "
                            "out, as vLLM's text does")
        expect(got == completion.text, f"decoding the generated ids of {output.prompt!r}: "
                                       f"expected vLLM's text {completion.text!r}, got {got!r}")
    tokenizer = kit.llm.get_tokenizer()
    for text in DECODE_TEXTS:
        ids = tokenizer.encode(text)  # starts with the start token
        got = student.decode(kit.llm, ids)
        expect(got == text, f"decode(llm, {ids}) should give back the text {text!r}, got {got!r}")


# --- prompting with ids -----------------------------------------------------

@pytest.mark.exercise("generate_from_token_ids")
def test_generate_from_token_ids(student, kit):
    tokenizer = kit.llm.get_tokenizer()
    text = "The capital of France is"
    ids = tokenizer.encode(text)
    no_start = tokenizer.encode("Hello, my name is")[1:]  # ids that no text prompt gives
    cases = [(ids, 5, text), (no_start, 7, TokensPrompt(prompt_token_ids=no_start))]
    for token_ids, max_tokens, reference_prompt in cases:
        params = SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)
        out = student.generate_from_token_ids(kit.llm, list(token_ids), params)
        expect(isinstance(out, RequestOutput),
               f"expected one RequestOutput, got {describe_type(out)}")
        got_ids = list(out.prompt_token_ids)
        if got_ids == [tokenizer.bos_token_id] + token_ids:
            expect(False, f"the model was fed {got_ids}, the ids given plus a start token: pass "
                          "the ids themselves (TokensPrompt), not text made from them")
        expect(got_ids == token_ids, f"expected prompt_token_ids to be the ids given, "
                                     f"{token_ids}, got {got_ids}")
        got = list(out.outputs[0].token_ids)
        expect(len(got) == max_tokens, f"with max_tokens={max_tokens} expected {max_tokens} "
                                       f"generated tokens, got {len(got)}: generate with the "
                                       "params given")
        want = list(generate_one(kit, reference_prompt, params).outputs[0].token_ids)
        expect(got == want, f"greedy decoding from {token_ids} should give {want} (as the "
                            f"kit's own run does), got {got}")


# --- logprobs of generated tokens ---------------------------------------------

@pytest.mark.exercise("chosen_logprobs")
def test_chosen_logprobs(student, kit):
    for completion in sampled_completions(kit, logprobs=2, k=2):
        ids = list(completion.token_ids)
        got = student.chosen_logprobs(completion)
        expect(isinstance(got, list) and all(is_number(v) for v in got),
               f"expected a list of floats, got {describe_type(got)}")
        expect(len(got) == len(ids), f"expected one logprob per generated token, {len(ids)}, "
                                     f"got {len(got)}")
        for i, (step, token, value) in enumerate(zip(completion.logprobs, ids, got)):
            want = step[token]
            if isclose(value, want.logprob, rel_tol=1e-6, abs_tol=1e-6):
                continue
            best = min(step.values(), key=lambda lp: lp.rank)
            why = (": that is the most likely token's logprob; take the generated token's "
                   "(completion.token_ids[i])" if isclose(value, best.logprob) else "")
            expect(False, f"position {i}: the generated token {want.decoded_token!r} (id "
                          f"{token}, rank {want.rank}) has logprob {want.logprob:.4f}, got "
                          f"{value!r}{why}")
        expect(isclose(sum(got), completion.cumulative_logprob, rel_tol=1e-4, abs_tol=1e-4),
               f"the logprobs should add up to cumulative_logprob "
               f"{completion.cumulative_logprob:.4f}, they add up to {sum(got):.4f}")


def _pairs(entries):
    return [(lp.decoded_token, lp.logprob) for lp in entries]


@pytest.mark.exercise("top_alternatives")
def test_top_alternatives(student, kit):
    completions = sampled_completions(kit, logprobs=2, k=2)
    for k in (2, 1):
        for completion in completions:
            for position, (step, token) in enumerate(zip(completion.logprobs,
                                                         completion.token_ids)):
                want = _pairs(sorted((lp for lp in step.values() if lp.rank <= k),
                                     key=lambda lp: lp.rank))
                got = student.top_alternatives(completion, position, k)
                where = f"position {position}, k={k}"
                expect(isinstance(got, list) and all(
                    isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str)
                    and is_number(p[1]) for p in got),
                       f"{where}: expected a list of (decoded_token, logprob) tuples, "
                       f"got {describe_type(got)}")
                same = len(got) == len(want) and all(
                    g[0] == w[0] and isclose(g[1], w[1], rel_tol=1e-6, abs_tol=1e-6)
                    for g, w in zip(got, want))
                if same:
                    continue
                chosen = step[token]
                if chosen.rank > k and (chosen.decoded_token, chosen.logprob) in got:
                    expect(False, f"{where}: expected the top {k}, {want}, got {got}: the "
                                  f"generated token {chosen.decoded_token!r} has rank "
                                  f"{chosen.rank}, outside the top {k}; vLLM adds it to the "
                                  "dict anyway, so leave it out")
                if sorted(got, key=lambda p: -p[1]) == want:
                    expect(False, f"{where}: expected rank order (rank 1 first), {want}, "
                                  f"got {got}: the dict is not in rank order")
                expect(False, f"{where}: expected the top {k} as (decoded_token, logprob) "
                              f"pairs, {want}, got {got}")


# --- prompt logprobs ----------------------------------------------------------

def _check_perplexity(student, kit, text):
    got = student.perplexity(kit.llm, text)
    expect(is_number(got), f"perplexity(llm, {text!r}): expected a float, got {describe_type(got)}")
    want = reference_perplexity(kit, text)
    if isclose(got, want, rel_tol=1e-3):
        return got
    n = len(kit.llm.get_tokenizer().encode(text)) - 1  # tokens with a logprob
    loss = log(want)  # minus the mean logprob
    why = ""
    if isclose(got, exp(loss * n / (n + 1)), rel_tol=1e-3):
        why = (": that divides by every prompt token, start token included; only the "
               f"{n} tokens after it have a logprob")
    elif isclose(got, exp(loss * n), rel_tol=1e-3):
        why = ": that is exp of minus the sum; take the mean"
    elif isclose(got, loss, rel_tol=1e-3) or isclose(got, -loss, rel_tol=1e-3):
        why = ": that is the mean logprob; perplexity is exp of minus it"
    expect(False, f"perplexity(llm, {text!r}): expected {want:.4f} (from vLLM's prompt "
                  f"logprobs), got {got!r}{why}")


@pytest.mark.exercise("perplexity")
def test_perplexity(student, kit):
    for fluent, shuffled in fluent_pairs(kit):
        low = _check_perplexity(student, kit, fluent)
        high = _check_perplexity(student, kit, shuffled)
        expect(low < high, f"a fluent sentence should have a lower perplexity than its words "
                           f"shuffled: got {low:.4f} for {fluent!r} and {high:.4f} for "
                           f"{shuffled!r}")


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("perplexity")
def test_perplexity_on_unseen_texts(student, kit):
    for text in ["Bananas orbit quietly under violet spreadsheets.", "Hi", "x y z"]:
        _check_perplexity(student, kit, text)


# --- finish reasons -----------------------------------------------------------

FINISH_CANDIDATES = ["Hello, my name is", "The president of the United States is",
                     "Once upon a time", "The future of AI is", "Paris is a city where"]


def finish_outputs(kit):
    """Outputs that end in each way: a stop string, a stop token id, the end
    token, max_tokens, and n=3 samples, built from the kit's own greedy run
    so that the stop string and token really occur."""
    [prompt] = establish(kit, "the greedy run goes to 8 tokens with no end token",
                         FINISH_CANDIDATES, runs_to(kit, 8))
    greedy = generate_one(kit, prompt, SamplingParams(temperature=0, max_tokens=8)).outputs[0]
    words = greedy.text.split()
    stop_string = " " + words[len(words) // 2]
    eos = kit.llm.get_tokenizer().eos_token_id
    stop_token = next(t for t in list(greedy.token_ids)[2:] if t != eos)
    runs = [
        (prompt, SamplingParams(temperature=0, max_tokens=8, stop=[stop_string])),
        (prompt, SamplingParams(temperature=0, max_tokens=8, stop_token_ids=[stop_token])),
        ("The capital of France is", SamplingParams(temperature=0, max_tokens=3)),
        (prompt, SamplingParams(temperature=0, max_tokens=64)),
        (prompt, SamplingParams(temperature=1.0, n=3, max_tokens=12, stop=["."], seed=3)),
    ]
    outputs = [generate_one(kit, p, params) for p, params in runs]
    kinds = {(c.finish_reason, type(c.stop_reason)) for o in outputs for c in o.outputs}
    require(kit, {("stop", str), ("stop", int), ("length", type(None))} <= kinds,
            f"the runs of {prompt!r} end on a stop string, on a stop token and on the length "
            f"limit (they ended as {sorted((r, t.__name__) for r, t in kinds)})")
    return outputs


@pytest.mark.exercise("finish_details")
def test_finish_details(student, kit):
    for output in finish_outputs(kit):
        want = [(c.finish_reason, c.stop_reason) for c in output.outputs]
        got = student.finish_details(output)
        expect(isinstance(got, list), f"expected a list of (finish_reason, stop_reason) tuples, "
                                      f"got {describe_type(got)}")
        expect(len(got) == len(want), f"expected one tuple per completion ({len(want)} for "
                                      f"n={len(want)}), got {len(got)}: {short_repr(got)}")
        expect(all(isinstance(p, tuple) for p in got),
               f"expected tuples, got {short_repr(got)}")
        expect(got == want, f"expected {want}, got {got}")
