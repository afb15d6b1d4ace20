"""Graders of lesson 10, beyond one prompt (points in course.yaml).

Each test takes `student` and `kit`; `kit.llm` is the lesson's engine, with
prefix caching on, its statistics kept and max_model_len 512 (course.yaml).
Beams are compared with the kit's own beam run of the same prompt and
parameters. Cache hits are read from the engine's own counters around each
call the student's code makes (`CallLog`), never from timings; prompts that
must be new to the cache carry a fresh nonce, since the kit's engine lives
for the whole grading run. Every premise about what the model or the engine
does (a repeated prompt hits the cache, the engine stops at max_model_len, an
adapter changes a prompt's completion) is established on the kit's own run
first, or the check ends as a kit error. The adapters are the kit's practice
adapters for the model graded on (lora_adapters.py); the kit's own adapter
runs use ids no submission is told to use, so that no adapter a submission
loaded under a wrong id stands in the kit's runs.
"""

import copy
import uuid

import pytest
from vllm import SamplingParams, TokensPrompt
from vllm.exceptions import VLLMValidationError
from vllm.lora.request import LoRARequest
from vllm.sampling_params import BeamSearchParams

from vllm_course.grading import expect
from vllm_course.grading.checks import CountingLLM, expect_unchanged
from vllm_course.grading.compare import isclose
from vllm_course.grading.feedback import describe_type
from vllm_course.grading.premises import require
from vllm_course.models.lora_adapters import practice_adapter

QUERIES, HITS = "vllm:prefix_cache_queries", "vllm:prefix_cache_hits"
GENERATED = "vllm:generation_tokens"
LOGPROB_TOLERANCE = 1e-3  # the same beams on the same engine; batches may move last digits
SYSTEM = "You are a careful assistant. Answer in one short sentence, and say so when unsure. " * 16
QUESTIONS = ["What is a KV cache?", "Why batch prompts?", "What is a token?", "Why sample?"]
# From a long way off the limit to past it; the engine itself confirms the
# budgets near the limit (engine_agrees). None is longer than the tokenizer's
# own limit (1024 for the stand-in), past which transformers warns on stderr,
# which nbgrader scores as a failed cell.
BUDGET_PROMPTS = ["Hi", "The capital of France is", "word " * 200, "word " * 505, "word " * 509,
                  "word " * 600]


def counters(llm) -> dict[str, int]:
    wanted = (QUERIES, HITS, GENERATED)
    return {m.name: int(m.value) for m in llm.get_metrics() if m.name in wanted}


def fresh(text: str) -> str:
    """`text` behind a nonce: no block of it is in the kit's cache yet."""
    return f"Check {uuid.uuid4().hex}. {text}"


class CallLog(CountingLLM):
    """The kit's engine, counting generate and beam_search calls and keeping,
    for each generate call, its prompts, params and the growth of the
    engine's counters during it."""

    def __init__(self, llm):
        super().__init__(llm, "generate", "beam_search")
        self.generates: list[tuple[list, object, dict[str, int]]] = []
        self.lora_requests: list = []  # each generate call's lora_request

    def __getattr__(self, name):
        if name != "generate":
            return super().__getattr__(name)
        counted = super().__getattr__(name)

        def logged(prompts, params=None, *args, **kwargs):
            self.lora_requests.append(kwargs.get("lora_request"))
            before = counters(self._llm)
            try:
                return counted(prompts, params, *args, **kwargs)
            finally:
                after = counters(self._llm)
                listed = prompts if isinstance(prompts, list) else [prompts]
                self.generates.append((listed, params, {k: after[k] - before[k] for k in after}))
        return logged


def kit_beams(kit, prompt: str, params: BeamSearchParams):
    [output] = kit.llm.beam_search([{"prompt": prompt}], params)
    return output.sequences


def expect_beams(got, want_sequences, prompt: str, params) -> None:
    want = [(s.text[len(prompt):], s.cum_logprob) for s in want_sequences]
    expect(isinstance(got, list) and all(isinstance(p, tuple) and len(p) == 2 for p in got),
           f"expected a list of (completion, cumulative log-probability) pairs, got "
           f"{describe_type(got)}")
    expect(len(got) == len(want), f"for {prompt!r} with beam_width={params.beam_width}: expected "
                                  f"{len(want)} sequences (every one returned), got {len(got)}")
    for i, ((text, logprob), (want_text, want_logprob)) in enumerate(zip(got, want)):
        expect(text == want_text, f"for {prompt!r}, sequence {i}: expected the completion "
                                  f"{want_text!r} (the text after the prompt, in vLLM's order), "
                                  f"got {text!r}")
        expect(isinstance(logprob, float)
               and isclose(logprob, want_logprob, rel_tol=LOGPROB_TOLERANCE,
                           abs_tol=LOGPROB_TOLERANCE),
               f"for {prompt!r}, sequence {i}: expected cum_logprob {want_logprob:.4f}, got "
               f"{logprob!r}")


# --- beam search --------------------------------------------------------------
@pytest.mark.exercise("beam_params")
def test_beam_params(student, kit):
    for args in ((3, 8, 1.0), (2, 5, 0.5), (4, 12, 2.0)):
        got = student.beam_params(*args)
        expect(type(got) is BeamSearchParams,
               f"expected a vllm.sampling_params.BeamSearchParams, got {describe_type(got)}")
        want = BeamSearchParams(beam_width=args[0], max_tokens=args[1], length_penalty=args[2])
        for field in ("beam_width", "max_tokens", "length_penalty"):
            expect(getattr(got, field) == getattr(want, field),
                   f"beam_params{args}: expected {field}={getattr(want, field)!r}, got "
                   f"{getattr(got, field)!r}")
        for field in ("ignore_eos", "temperature", "include_stop_str_in_output",
                      "skip_special_tokens"):
            expect(getattr(got, field) == getattr(want, field),
                   f"{field}: expected the default {getattr(want, field)!r}, got "
                   f"{getattr(got, field)!r}: set only beam_width, max_tokens and length_penalty")
    default = student.beam_params(3, 8)
    expect(type(default) is BeamSearchParams and default.length_penalty == 1.0,
           "beam_params(3, 8) without a length_penalty must keep the default 1.0")


@pytest.mark.exercise("beam_search")
def test_beam_search(student, kit):
    cases = [("The capital of France is", BeamSearchParams(beam_width=3, max_tokens=8)),
             ("Once upon a time", BeamSearchParams(beam_width=2, max_tokens=6,
                                                   length_penalty=0.0)),
             ("Hello, my name is", BeamSearchParams(beam_width=4, max_tokens=10,
                                                    length_penalty=2.0))]
    for prompt, params in cases:
        llm = CallLog(kit.llm)
        got = student.beam_search(llm, prompt, params)
        llm.expect_one("beam_search", 1, "prompt")
        expect_beams(got, kit_beams(kit, prompt, params), prompt, params)


# --- prefix caching -----------------------------------------------------------
def warm_hits(kit) -> None:
    """Run a fresh prompt twice, so that the hits counter has grown; a kit
    error if the second run found nothing in the cache."""
    prompt = fresh(SYSTEM)
    before = counters(kit.llm)[HITS]
    for _ in range(2):
        kit.llm.generate([prompt], SamplingParams(max_tokens=1), use_tqdm=False)
    require(kit, counters(kit.llm)[HITS] > before,
            f"a prompt of {len(SYSTEM)} characters run twice hits the prefix cache")


@pytest.mark.exercise("prefix_cache_counters")
def test_prefix_cache_counters(student, kit):
    for _ in range(2):
        warm_hits(kit)
        got = student.prefix_cache_counters(kit.llm)
        now = counters(kit.llm)
        expect(isinstance(got, dict) and set(got) == {"queries", "hits"},
               f"expected a dict with the keys 'queries' and 'hits', got {describe_type(got)}")
        for key, name in (("queries", QUERIES), ("hits", HITS)):
            expect(type(got[key]) is int, f"{key}: expected an int, got {describe_type(got[key])}")
            expect(got[key] == now[name], f"{key}: expected {now[name]} (the counter {name} "
                                          f"now), got {got[key]}")


def check_hit_rate(student, kit, system: str, questions: list[str]) -> None:
    # Something ran before without hits, so that the totals since the start
    # give another rate than the call's own growth.
    kit.llm.generate([fresh("A warm-up without hits.")], SamplingParams(max_tokens=1),
                     use_tqdm=False)
    total = counters(kit.llm)
    llm = CallLog(kit.llm)
    with kit.reference_helpers("prefix_cache_counters"):  # graded on its own
        got = student.shared_prefix_hit_rate(llm, system, list(questions))
    llm.expect_one("generate", len(questions), "questions")
    [(prompts, params, grew)] = llm.generates
    want_prompts = [system + q for q in questions]
    expect(prompts == want_prompts, f"expected the prompts system_prompt + question, in order: "
                                    f"{[p[-30:] for p in want_prompts]} (their ends), got "
                                    f"{[str(p)[-30:] for p in prompts]}")
    expect(isinstance(params, SamplingParams) and params.max_tokens == 1,
           f"expected SamplingParams with max_tokens=1, got {describe_type(params)}"
           + (f" with max_tokens={params.max_tokens}" if hasattr(params, "max_tokens") else ""))
    require(kit, grew[HITS] > 0, f"{len(questions)} prompts sharing a system prompt of "
                                 f"{len(system)} characters hit the prefix cache")
    want = grew[HITS] / grew[QUERIES]
    require(kit, not isclose(want, total[HITS] / total[QUERIES], abs_tol=1e-9),
            "the call's hit rate differs from the rate since the engine started")
    expect(isinstance(got, float) and isclose(got, want, abs_tol=1e-9),
           f"expected {want:.4f} ({grew[HITS]} hits of {grew[QUERIES]} prompt tokens during "
           f"the call), got {got!r}")


@pytest.mark.exercise("shared_prefix_hit_rate")
def test_shared_prefix_hit_rate(student, kit):
    check_hit_rate(student, kit, fresh(SYSTEM), QUESTIONS)
    check_hit_rate(student, kit, fresh(SYSTEM[: len(SYSTEM) // 2]), QUESTIONS[:2][::-1])


@pytest.mark.exercise("first_token_matters")
def test_first_token_matters(student, kit):
    tokenizer = kit.llm.get_tokenizer()
    for text, other in ((SYSTEM, 100), (SYSTEM[: len(SYSTEM) * 2 // 3], 500)):
        ids = tokenizer(fresh(text)).input_ids
        given = copy.deepcopy(ids)
        llm = CallLog(kit.llm)
        with kit.reference_helpers("prefix_cache_counters"):  # graded on its own
            got = student.first_token_matters(llm, given, other)
        expect(given == ids, f"prompt_token_ids was changed by your code: leave the caller's "
                             f"list as it was (build the changed one as a new list)")
        expect(llm.calls["generate"] == 3 and llm.calls["beam_search"] == 0,
               f"expected three llm.generate calls, got {llm.calls['generate']}")
        changed = [other, *ids[1:]]
        for i, ((prompts, params, _), want_ids) in enumerate(zip(llm.generates,
                                                                   (ids, ids, changed))):
            sent = [p.get("prompt_token_ids") if isinstance(p, dict) else p for p in prompts]
            expect(sent == [want_ids], f"call {i + 1}: expected one TokensPrompt of "
                                       f"{'the ids' if i < 2 else 'the ids with the first replaced by other'}"
                                       f" ({len(want_ids)} tokens, starting {want_ids[:3]}), got "
                                       f"{describe_type(prompts)}")
            expect(isinstance(params, SamplingParams) and params.max_tokens == 1,
                   f"call {i + 1}: expected SamplingParams with max_tokens=1")
        hits = (llm.generates[1][2][HITS], llm.generates[2][2][HITS])
        require(kit, hits[0] > 0 and hits[1] == 0,
                f"a repeated prompt of {len(ids)} tokens hits the cache and one with its first "
                f"token changed does not (measured: {hits})")
        expect(isinstance(got, tuple) and len(got) == 2,
               f"expected a pair (hits of call 2, hits of call 3), got {describe_type(got)}")
        expect(tuple(got) == hits, f"expected {hits} (the hits counter's growth during calls 2 "
                                   f"and 3), got {got!r}")


# --- the KV cache and max_model_len -------------------------------------------
@pytest.mark.exercise("kv_cache_tokens")
def test_kv_cache_tokens(student, kit):
    cache = kit.llm.llm_engine.vllm_config.cache_config
    want = cache.num_gpu_blocks * cache.block_size
    got = student.kv_cache_tokens(kit.llm)
    expect(type(got) is int and got == want,
           f"expected {want} ({cache.num_gpu_blocks} blocks of {cache.block_size} tokens), got "
           f"{got!r}")


def engine_agrees(kit, prompt: str, budget: int) -> None:
    """The engine's own run agrees with `budget` for `prompt`: it generates
    exactly `budget` tokens when asked for more, or refuses the prompt when
    the budget is 0 or less. Checked where that run is short."""
    params = SamplingParams(max_tokens=max(budget, 0) + 5, ignore_eos=True)
    try:
        [out] = kit.llm.generate([prompt], params, use_tqdm=False)
        made = len(out.outputs[0].token_ids)
    except VLLMValidationError:
        made = None
    require(kit, made == (budget if budget > 0 else None),
            f"the engine generates max_model_len minus the prompt's token ids ({budget}) after "
            f"a prompt of {len(prompt)} characters, and refuses a prompt with no room left "
            f"(it {'refused it' if made is None else f'generated {made}'})")


def check_budgets(student, kit, prompts: list[str]) -> None:
    limit = kit.llm.model_config.max_model_len
    tokenizer = kit.llm.get_tokenizer()
    confirmed = 0
    for prompt in prompts:
        want = limit - len(tokenizer(prompt).input_ids)
        if want <= 8:
            engine_agrees(kit, prompt, want)
            confirmed += 1
        got = student.prompt_budget(kit.llm, prompt)
        expect(type(got) is int and got == want,
               f"for a prompt of {len(prompt)} characters: expected {want} (max_model_len "
               f"{limit} minus its {limit - want} token ids), got {got!r}")
    require(kit, confirmed > 0, f"one of the prompts {[p[:20] for p in prompts]} comes within 8 "
                                f"tokens of max_model_len {limit}, where the engine confirms it")


@pytest.mark.exercise("prompt_budget")
def test_prompt_budget(student, kit):
    check_budgets(student, kit, BUDGET_PROMPTS)


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("prompt_budget")
def test_prompt_budget_other_prompts(student, kit):
    check_budgets(student, kit, ["A", "Paris is a city where " * 30, "word " * 506, "word " * 700])


# --- LoRA adapters --------------------------------------------------------------
KIT_IDS = 1000  # the kit's own adapter ids start here, far from the 1, 2, ... asked of students


def practice_adapters(kit) -> tuple[str, str]:
    return practice_adapter("cat", kit.model), practice_adapter("sky", kit.model)


@pytest.mark.exercise("adapter_requests")
def test_adapter_requests(student, kit):
    cat, sky = practice_adapters(kit)
    for adapters, ids in (([cat, None, sky, cat, None], [1, None, 2, 1, None]),
                          ([sky, sky, cat], [1, 1, 2]), ([None, None], [None, None]), ([], [])):
        given = list(adapters)
        got = student.adapter_requests(given)
        expect_unchanged(adapters, given, "adapters")
        expect(isinstance(got, list) and len(got) == len(ids),
               f"for {len(ids)} entries expected a list of {len(ids)} (one per entry, None "
               f"kept), got {describe_type(got)}")
        for i, (request, folder, want) in enumerate(zip(got, adapters, ids)):
            where = f"entry {i} ({'None' if folder is None else 'folder ' + folder.rsplit('/', 1)[-1]})"
            if want is None:
                expect(request is None, f"{where}: expected None (the base model), got "
                                        f"{describe_type(request)}")
                continue
            expect(isinstance(request, LoRARequest),
                   f"{where}: expected a vllm.lora.request.LoRARequest, got {describe_type(request)}")
            expect(request.lora_path == folder,
                   f"{where}: expected lora_path {folder!r}, got {request.lora_path!r}")
            expect(request.lora_int_id == want,
                   f"{where}: expected lora_int_id {want} (distinct folders count 1, 2, ... in the "
                   f"order they first appear; a folder seen again keeps its id), got "
                   f"{request.lora_int_id!r}")


def kit_texts(kit, prompts: list[str], adapters: list, max_tokens: int) -> list[str]:
    """The kit's run of the batch, each folder under the kit's own id."""
    ids = {folder: KIT_IDS + n for n, folder in enumerate(dict.fromkeys(a for a in adapters if a))}
    requests = [None if a is None else LoRARequest(f"kit-{ids[a]}", ids[a], a) for a in adapters]
    outputs = kit.llm.generate(prompts, SamplingParams(temperature=0, max_tokens=max_tokens),
                               lora_request=requests, use_tqdm=False)
    return [o.outputs[0].text for o in outputs]


def check_adapters(student, kit, prompts: list[str], names: list, max_tokens: int) -> None:
    folders = dict(zip(("cat", "sky"), practice_adapters(kit)))
    adapters = [None if n is None else folders[n] for n in names]
    want = kit_texts(kit, prompts, adapters, max_tokens)
    for prompt in set(prompts):
        rows = [i for i, p in enumerate(prompts) if p == prompt]
        texts = {names[i]: want[i] for i in rows}
        require(kit, len(set(texts.values())) == len(texts),
                f"the practice adapters and the base model complete {prompt!r} differently "
                f"in {max_tokens} tokens (measured: {texts})")
    llm = CallLog(kit.llm)
    given = list(adapters)
    with kit.reference_helpers("adapter_requests"):  # graded on its own
        got = student.generate_with_adapters(llm, list(prompts), given, max_tokens)
    expect_unchanged(adapters, given, "adapters")
    llm.expect_one("generate", len(prompts), "prompts")
    [(sent, params, _)] = llm.generates
    expect(sent == prompts, f"expected the prompts in order, {prompts}, got {sent!r}")
    expect(isinstance(params, SamplingParams) and params.temperature == 0
           and params.max_tokens == max_tokens,
           f"expected SamplingParams(temperature=0, max_tokens={max_tokens}), got "
           + (f"temperature={params.temperature}, max_tokens={params.max_tokens}"
              if isinstance(params, SamplingParams) else describe_type(params)))
    expect(isinstance(got, list) and len(got) == len(prompts),
           f"expected a list of {len(prompts)} texts, got {describe_type(got)}")
    for i, (text, wanted) in enumerate(zip(got, want)):
        expect(text == wanted, f"prompt {i} ({prompts[i]!r} with "
                               f"{names[i] or 'no adapter'}): expected {wanted!r}, got {text!r}")


@pytest.mark.exercise("generate_with_adapters")
def test_generate_with_adapters(student, kit):
    check_adapters(student, kit, ["The weather today is"] * 3 + ["Paris is"],
                   ["cat", None, "sky", "cat"], 6)
    check_adapters(student, kit, ["Paris is", "Once upon a time", "Paris is", "Once upon a time"],
                   ["sky", "sky", None, "cat"], 9)
