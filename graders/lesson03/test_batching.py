"""Graders of lesson 3, batching and throughput (points in course.yaml).

Each test takes `student` (the submission's functions) and `kit` (the shared
engine) and checks real behaviour through vLLM. Whether a function generated
its prompts in one batch or one by one is read from the engine itself, not
from timings: while the function runs, a watcher thread samples how many
requests the engine holds unfinished (vllm_internals.unfinished_requests),
and the LLM's request counter says how many requests the function submitted.
One generate call over several prompts holds them all at once; a loop never
holds more than one. A reported time is checked against events: it must
cover the call it times (whose start and end the kit records) and nothing
outside the function, never against shares of a wall clock.
"""

import threading
import time

import pytest
from vllm import SamplingParams

from vllm_course.runtime import vllm_internals as internals
from vllm_course.grading.compare import isclose
from vllm_course.grading import expect
from vllm_course.grading.checks import (CountingLLM, expect_exact_keys,
                                        expect_outputs_in_prompt_order)
from vllm_course.grading.feedback import describe_type
from vllm_course.grading.premises import (establish, require, runs_to, samples_differ,
                                          stops_before)

# Candidates for the eight prompts the checks mix (A to H): the first eight on
# whose greedy run of LONGEST tokens the model emits no end token and
# gives a text of its own, so that every completion has exactly max_tokens
# tokens and a prompt's text tells it from the others.
CANDIDATES = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
    "Hi, my name is",
    "A president signs",
    "Good morning.",
    "The server",
    "Once upon a time",
    "A seed makes sampling",
    "Memory is often",
    "Paris is a city where",
    "The weather today",
]
LONGEST = 12
# Candidates for prompts whose seeded samples differ (OPEN_SAMPLES), so that
# the first sample is told from the others.
OPEN_CANDIDATES = ["Purple", "Seven green", "Why do cats", "Banana bread and", "My favourite food is",
                   "Blue", "Seven", "Banana"]
# Candidates for a prompt whose greedy run stops on the end token before STOP_LIMIT.
STOPPING_CANDIDATES = ["My name is", "Hello, my name is", "Good morning.", "Hi, my name is",
                       "The capital of France is", "A seed makes sampling repeatable."]
STOP_LIMIT = 40
TIME_EPSILON = 1e-3  # seconds: clock reads around the call


def mixed_prompts(kit) -> list[str]:
    """A to H (see CANDIDATES), established on this engine."""
    return establish(kit, f"the greedy run goes to {LONGEST} tokens with no end token, its text "
                          "unlike the other prompts'", CANDIDATES, runs_to(kit, LONGEST), need=8)


def open_prompts(kit) -> list[str]:
    return establish(kit, "with n=3 seeded samples the first differs from the others",
                     OPEN_CANDIDATES, samples_differ(kit, seeded_samples(OPEN_SAMPLES)), need=4)


def stopping(kit) -> str:
    return establish(kit, f"the greedy run stops on the end token before {STOP_LIMIT} tokens",
                     STOPPING_CANDIDATES, stops_before(kit, STOP_LIMIT))[0]


def greedy(max_tokens: int, **extra) -> SamplingParams:
    return SamplingParams(temperature=0, max_tokens=max_tokens, **extra)


class EngineWatch:
    """While its block runs: samples the engine's unfinished requests every
    millisecond (with the perf_counter interval of each read), counts the
    requests submitted, and takes the wall clock."""

    def __init__(self, llm):
        self.llm = llm
        self.samples: list[tuple[float, float, int]] = []  # (before, after, unfinished)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.is_set():
            before = time.perf_counter()
            unfinished = internals.unfinished_requests(self.llm)
            self.samples.append((before, time.perf_counter(), unfinished))
            self._stop.wait(0.001)

    def __enter__(self):
        self._first_request = internals.submitted_requests(self.llm)
        self._thread.start()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.ended = time.perf_counter()
        self.wall = self.ended - self.started
        self._stop.set()
        self._thread.join()
        self.submitted = internals.submitted_requests(self.llm) - self._first_request
        return False

    @property
    def peak(self) -> int:
        return max((n for _, _, n in self.samples), default=0)


def watched(kit, function, *args):
    """Call function(*args) under an EngineWatch; return (result, watch)."""
    with EngineWatch(kit.llm) as watch:
        result = function(*args)
    return result, watch


def kit_texts(kit, prompts, params) -> list[str]:
    """The kit's own run of the same request (same prompts, same batch)."""
    return [o.outputs[0].text for o in kit.llm.generate(prompts, params, use_tqdm=False)]


def kit_texts_one_by_one(kit, prompts, params) -> list[str]:
    by_prompt = {p: kit_texts(kit, [p], params)[0] for p in dict.fromkeys(prompts)}
    return [by_prompt[p] for p in prompts]


def check_texts(texts, prompts, reference, how):
    expect(isinstance(texts, list), f"expected a list of strings, got {describe_type(texts)}")
    expect(len(texts) == len(prompts),
           f"expected {len(prompts)} texts for {len(prompts)} prompts (duplicates included), "
           f"got {len(texts)}")
    for i, text in enumerate(texts):
        expect(isinstance(text, str), f"item {i}: expected the generated text (a str), "
                                      f"got {describe_type(text)}")
    for i, (got, want) in enumerate(zip(texts, reference)):
        expect(got == want,
               f"item {i} (prompt {prompts[i]!r}, {how}): expected "
               f"{want!r}, got {got!r}. Return output.outputs[0].text of each prompt, in the "
               "order of the prompts, generated with the params you were given")


def check_submitted(watch, prompts, what):
    expect(watch.submitted == len(prompts),
           f"expected {len(prompts)} requests for {len(prompts)} prompts, but {what} submitted "
           f"{watch.submitted}: generate each prompt exactly once")


def check_one_call(watch, prompts, what):
    check_submitted(watch, prompts, what)
    expect(watch.peak >= 2,
           f"expected one llm.generate call with all {len(prompts)} prompts, so that the engine "
           f"holds them together; but while {what} ran it never held more than {watch.peak} "
           "request at a time: the prompts were generated one by one")


# Seeded samples, three per prompt (they differ on open_prompts): the text to
# return is the first one's. The engine may hold a prompt's n samples as n
# requests, so with these only the texts are checked, not how many requests
# were in flight. Established at the shortest length used: a longer sample
# with the same seed starts with the shorter one.
OPEN_SAMPLES = 5


def seeded_samples(max_tokens: int) -> SamplingParams:
    return SamplingParams(n=3, temperature=1.0, seed=21, max_tokens=max_tokens)


@pytest.mark.exercise("generate_batched")
def test_generate_batched(student, kit):
    A, B, C, D, E, F, G, H = mixed_prompts(kit)
    OPEN = open_prompts(kit)
    # Not the lesson's order, with duplicates, and two lengths.
    for prompts, max_tokens in (([C, A, D, A, B], 6), ([E, B, B, H, C, G], 10)):
        params = greedy(max_tokens)
        texts, watch = watched(kit, student.generate_batched, kit.llm, prompts, params)
        check_texts(texts, prompts, kit_texts(kit, prompts, params),
                    f"greedy, max_tokens={max_tokens}")
        check_one_call(watch, prompts, "generate_batched")
    prompts, params = [OPEN[0], B, OPEN[1]], seeded_samples(6)
    texts = student.generate_batched(kit.llm, prompts, params)
    check_texts(texts, prompts, kit_texts(kit, prompts, params),
                "n=3 seeded samples, max_tokens=6")


@pytest.mark.exercise("generate_looped")
def test_generate_looped(student, kit):
    A, B, C, D, E, F, G, H = mixed_prompts(kit)
    OPEN = open_prompts(kit)
    for prompts, max_tokens in (([D, B, A, B], 7), ([G, C, E, H, C], 11)):
        params = greedy(max_tokens)
        texts, watch = watched(kit, student.generate_looped, kit.llm, prompts, params)
        check_texts(texts, prompts, kit_texts_one_by_one(kit, prompts, params),
                    f"greedy, max_tokens={max_tokens}")
        check_submitted(watch, prompts, "generate_looped")
        expect(watch.peak <= 1,
               f"expected one llm.generate call per prompt, one after the other; but the engine "
               f"held {watch.peak} requests at once while generate_looped ran: that is one "
               "batched call. Loop over the prompts and pass [prompt] to each call")
    prompts, params = [OPEN[2], G, OPEN[2], OPEN[3]], seeded_samples(5)
    texts = student.generate_looped(kit.llm, prompts, params)
    check_texts(texts, prompts, kit_texts_one_by_one(kit, prompts, params),
                "n=3 seeded samples, max_tokens=5")


@pytest.mark.exercise("generate_per_prompt")
def test_generate_per_prompt(student, kit):
    A, B, C, D, E, F, G, H = mixed_prompts(kit)
    # The same prompt twice with different lengths: each request has its own.
    for prompts, lengths in (([A, B, A, C, F], [7, 2, 11, 1, 5]), ([H, D, E], [9, 4, 6])):
        outs, watch = watched(kit, student.generate_per_prompt, kit.llm, prompts, lengths)
        expect_outputs_in_prompt_order(outs, prompts)
        reference = kit.llm.generate(prompts, [greedy(m) for m in lengths], use_tqdm=False)
        got_lengths = [len(o.outputs[0].token_ids) for o in outs]
        want_lengths = [len(o.outputs[0].token_ids) for o in reference]
        expect(got_lengths == want_lengths,
               f"with max_tokens {lengths} the completions should have {want_lengths} tokens, "
               f"got {got_lengths}: give each prompt its own SamplingParams(max_tokens=...)")
        for i, (out, ref) in enumerate(zip(outs, reference)):
            expect(list(out.outputs[0].token_ids) == list(ref.outputs[0].token_ids),
                   f"item {i} (prompt {prompts[i]!r}): expected the greedy tokens "
                   f"{list(ref.outputs[0].token_ids)}, got {list(out.outputs[0].token_ids)}: "
                   "use temperature=0 in every SamplingParams")
        check_one_call(watch, prompts, "generate_per_prompt")


def _expect_count(student, outs, description):
    expected = sum(len(c.token_ids) for o in outs for c in o.outputs)
    got = student.count_generated_tokens(outs)
    expect(isinstance(got, int) and not isinstance(got, bool),
           f"expected an int, got {describe_type(got)}")
    per_output = [[len(c.token_ids) for c in o.outputs] for o in outs]
    expect(got == expected,
           f"{description}: expected {expected} tokens (token ids per completion of each output: "
           f"{per_output}), got {got}")


@pytest.mark.exercise("count_generated_tokens")
def test_count_generated_tokens(student, kit):
    A, B, C, D, E, F, G, H = mixed_prompts(kit)
    llm = kit.llm
    lengths = [3, 8, 5]
    outs = llm.generate([A, C, E], [greedy(m, ignore_eos=True) for m in lengths], use_tqdm=False)
    _expect_count(student, outs, "three outputs of one completion each")

    # n > 1: every completion counts, not only outputs[0].
    sampled = [SamplingParams(n=3, temperature=1.0, seed=seed, max_tokens=m, ignore_eos=True)
               for seed, m in ((11, 4), (12, 6))]
    outs = llm.generate([B, D], sampled, use_tqdm=False)
    expect([len(o.outputs) for o in outs] == [3, 3], "the kit's n=3 run gave the wrong shape")
    _expect_count(student, outs, "two outputs of three completions each (n=3)")

    # A completion that ends on the end-of-sequence token: its id counts too.
    outs = llm.generate([stopping(kit)], greedy(STOP_LIMIT), use_tqdm=False)
    _expect_count(student, outs, "one output that stopped on its own")
    _expect_count(student, [], "no outputs at all")


@pytest.mark.exercise("measure_throughput")
def test_measure_throughput(student, kit):
    A, B, C, D, E, F, G, H = mixed_prompts(kit)
    S = stopping(kit)
    keys = {"tokens", "seconds", "tokens_per_second"}
    # Greedy, so the kit's own run of the same batch generates the same tokens:
    # fixed lengths (ignore_eos) and, in the last case, completions that stop
    # early on the end token (S) beside ones that run to the limit.
    for prompts, params in (([A, D, B], greedy(7, ignore_eos=True)),
                            ([H, C, E, C, F], greedy(12, ignore_eos=True)),
                            ([S, A, S, G], greedy(STOP_LIMIT))):
        # The kit's run is the reference and the warm-up, outside the watch.
        reference = kit.llm.generate(prompts, params, use_tqdm=False)
        lengths = [len(c.token_ids) for o in reference for c in o.outputs]
        llm = CountingLLM(kit.llm, "generate")  # the span of the generate call
        with kit.reference_helpers("count_generated_tokens"):  # graded on its own
            got, watch = watched(kit, student.measure_throughput, llm, prompts, params)
        expect_exact_keys(got, keys)
        tokens, seconds, rate = got["tokens"], got["seconds"], got["tokens_per_second"]
        expected = sum(lengths)
        expect(tokens == expected and not isinstance(tokens, bool),
               f"'tokens': {len(prompts)} prompts with max_tokens={params.max_tokens} generate "
               f"{expected} tokens (completions of {lengths} tokens), got {tokens!r}: count "
               "the tokens generated, which may stop before max_tokens")
        check_one_call(watch, prompts, "measure_throughput")
        expect(isinstance(seconds, (int, float)) and seconds > 0,
               f"'seconds': expected a positive number of seconds, got {seconds!r}")
        expect(seconds <= watch.wall + TIME_EPSILON,
               f"'seconds': the whole function took {watch.wall:.4f} s by the grader's clock, but "
               f"you report {seconds:.4f} s: measure seconds (time.perf_counter()), not ms")
        llm.expect_one("generate", len(prompts), "prompts")
        [(_, call_start, call_end)] = llm.spans
        expect(seconds >= call_end - call_start - TIME_EPSILON,
               f"'seconds': the generate call took {call_end - call_start:.4f} s, but you report "
               f"{seconds:.4f} s: time the generate call itself, from just before it to just "
               "after it returns")
        expect(isinstance(rate, (int, float)) and isclose(rate, tokens / seconds,
                                                               rel_tol=1e-6),
               f"'tokens_per_second': expected tokens / seconds = {tokens / seconds:.6g}, "
               f"got {rate!r}")


def check_call_times(got, calls, watch):
    """Each reported time spans its own call, and none of the other's: the
    calls' starts and ends (events), not shares of the wall clock."""
    for key, name, other in (("batched_seconds", "generate_batched", "generate_looped"),
                             ("looped_seconds", "generate_looped", "generate_batched")):
        (start, end), (other_start, other_end) = calls[name], calls[other]
        earliest = other_end if other_end <= start else watch.started
        latest = other_start if other_start >= end else watch.ended
        expect(got[key] >= end - start - TIME_EPSILON,
               f"{key!r}: {name} ran for {end - start:.4f} s, but you report {got[key]:.4f} s: "
               "time each call from just before it to just after it returns")
        expect(got[key] <= latest - earliest + TIME_EPSILON,
               f"{key!r}: you report {got[key]:.4f} s, but only {latest - earliest:.4f} s passed "
               f"around {name} without {other} running: restart the clock "
               "(time.perf_counter()) just before each call")


def _compare(student, kit, prompts, params) -> bool:
    """Checks compare_batching on `prompts`; returns whether the texts of its
    two runs (the reference helpers', recorded) were the same."""
    keys = {"batched_seconds", "looped_seconds", "speedup", "same_texts"}
    returned, spans = [], []
    with kit.reference_helpers("generate_batched", "generate_looped",  # graded on their own
                               returned=returned, spans=spans):
        got, watch = watched(kit, student.compare_batching, kit.llm, prompts, params)
    expect_exact_keys(got, keys)
    batched, looped, speedup = got["batched_seconds"], got["looped_seconds"], got["speedup"]
    for key in ("batched_seconds", "looped_seconds"):
        expect(isinstance(got[key], (int, float)) and got[key] > 0,
               f"{key!r}: expected a positive number of seconds, got {got[key]!r}")
    both = batched + looped
    expect(both <= watch.wall + TIME_EPSILON,
           f"the whole function took {watch.wall:.4f} s by the grader's clock, but batched "
           f"{batched:.4f} s + looped {looped:.4f} s = {both:.4f} s: measure seconds with "
           "time.perf_counter()")
    expect(isinstance(speedup, (int, float)) and isclose(speedup, looped / batched,
                                                              rel_tol=1e-6),
           f"'speedup': expected looped_seconds / batched_seconds = {looped / batched:.6g}, "
           f"got {speedup!r}")
    expect(isinstance(got["same_texts"], bool),
           f"'same_texts': expected a bool, got {describe_type(got['same_texts'])}")
    texts = dict(returned)
    expect(sorted(name for name, _ in returned) == ["generate_batched", "generate_looped"],
           "expected one generate_batched and one generate_looped call, got calls of "
           f"{[name for name, _ in returned]}")
    check_call_times(got, {name: (start, end) for name, start, end in spans}, watch)
    same = texts["generate_batched"] == texts["generate_looped"]
    expect(got["same_texts"] is same,
           f"'same_texts': the two runs gave {'the same' if same else 'different'} texts, so "
           f"expected {same}, got {got['same_texts']}: compare the two lists of texts")
    return same


@pytest.mark.exercise("compare_batching")
def test_compare_batching(student, kit):
    A, B, C, D, E, F, G, H = mixed_prompts(kit)
    batch = [B, A, F, D, C, A]
    kit.llm.generate(batch, greedy(8), use_tqdm=False)  # warm up
    # Greedy, then unseeded sampling at temperature 2 (3 prompts x 16 tokens
    # drawn twice from a wide distribution): 'same_texts' must say what the
    # two runs gave, and a constant answer must meet both cases.
    outcomes = {_compare(student, kit, batch, greedy(8)),
                _compare(student, kit, [C, A, D], SamplingParams(temperature=2.0, max_tokens=16))}
    require(kit, outcomes == {True, False},
            "greedy runs give the same texts batched and one by one, and unseeded sampling at "
            "temperature 2 different ones")


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("generate_batched")
def test_generate_batched_on_a_bigger_batch(student, kit):
    A, B, C, D, E, F, G, H = mixed_prompts(kit)
    prompts = [H, G, F, E, D, C, B, A, A, H, B, G]
    params = greedy(5)
    texts, watch = watched(kit, student.generate_batched, kit.llm, prompts, params)
    check_texts(texts, prompts, kit_texts(kit, prompts, params), "greedy, max_tokens=5")
    check_one_call(watch, prompts, "generate_batched")
