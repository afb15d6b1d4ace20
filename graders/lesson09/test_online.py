"""Graders of lesson 9, online serving (points in course.yaml).

Every check talks to a real `vllm serve` of the lesson's model, started by
the kit outside the checks' time (kit.server_url; once per run). The
student's functions get its base URL, or a client of it, and the served
model's name; their answers are compared with the kit's own requests to the
same server. How the student's code called the server is read from the HTTP
requests it sent (kit.client(on_request=...)), how many of them were in
flight at once through a relay that watches them (kit.watch()), and when the
parts of a stream arrived from inside the client (stream_timeline): times are
compared with events, never with shares of a wall clock. Which prompts run
long, and which replies a limit cuts, is established on the server's own
answers (premises.py), never assumed.
"""

import concurrent.futures
import copy
import json
import time

import pytest

from vllm_course.grading import expect
from vllm_course.grading.checks import expect_unchanged
from vllm_course.grading.feedback import KitError, StudentCodeError, describe_type, short_repr
from vllm_course.grading.premises import establish
from vllm_course.grading.stream_timeline import StreamTimeline

PROMPT = "The capital of France is"
MESSAGES = [{"role": "system", "content": "You answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"}]
# The longest completion any check asks for: LONG is the first candidate whose
# greedy completion on the server goes on that far (finish_reason "length").
LONGEST = 64
LONG_CANDIDATES = ["Story number 3: once upon a time", "Story number 5: once upon a time",
                   "Once upon a time", "The future of AI is", "Hello, my name is",
                   "My favourite food is", "Seven green", "Why do cats", "Purple"]
# complete_all's prompts: eight whose greedy completions all differ, so that
# order and repetition show, and are decided by a clear margin at every token:
# the server batches concurrent requests as they arrive, and another batch
# moves a logit by rounding (in bfloat16, enough to flip a near tie).
BATCH_SIZE = 8
BATCH_CANDIDATES = LONG_CANDIDATES + [
    "The president of", "A request", "Every new", "vLLM is", "When the", "Short prompts",
    "Continuous batching", "The first", "My name is", "A seed", "Logs are", "The course",
    "The weather", "vLLM keeps", "A model", "vLLM can", "Thank you", "SamplingParams tells",
    "The capital of France is", "Paris, a", "No president", "The engineers"] + \
    [f"Story number {i}: once upon a time" for i in range(6, 12)]
MARGIN = 0.5  # nats between the greedy token and the runner-up; rounding moves far less
# Limits for chat's short reply: the first that cuts the greedy reply.
SHORT_REPLY_CANDIDATES = (6, 4, 2, 1)
TIMING_TRIES = 3
CLOCK_SLACK = 2e-3  # seconds: the student's clock reads beside the grader's


class Requests:
    """What a client sent: (path, JSON body) per HTTP request."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def __call__(self, request):
        body = json.loads(request.content) if request.content else {}
        self.sent.append((request.url.path, body))

    def bodies(self, path_end: str) -> list[dict]:
        return [body for path, body in self.sent if path.endswith(path_end)]


def kit_choices(kit, prompts: list[str], max_tokens: int, **params) -> list:
    """The kit's own completions of `prompts` (greedy unless `params` say
    otherwise), one request: a choice (text, finish_reason) each, in order."""
    params.setdefault("temperature", 0)
    response = kit.client().completions.create(model=kit.served_model, prompt=prompts,
                                               max_tokens=max_tokens, **params)
    return sorted(response.choices, key=lambda c: c.index)


def kit_text(kit, prompt: str, max_tokens: int, **params) -> str:
    """The kit's own completion of `prompt` (greedy unless `params` say otherwise)."""
    return kit_choices(kit, [prompt], max_tokens, **params)[0].text


# The premises below are established one request per prompt, as the checks
# send them: a batch can change a greedy run's last digits, and so its text.
def long_prompt(kit) -> str:
    return establish(kit, f"the greedy completion goes on to {LONGEST} tokens (finish_reason "
                          "\"length\")", LONG_CANDIDATES,
                     lambda ps: [c.finish_reason == "length" for c in kit_choices(kit, ps, LONGEST)],
                     batch=1)[0]


def greedy_margin(choice) -> float:
    """The smallest lead, in nats, of the greedy token over the runner-up at
    any step of a choice asked with logprobs=2."""
    leads = []
    for top in choice.logprobs.top_logprobs:
        best = sorted(top.values(), reverse=True)
        leads.append(best[0] - best[1] if len(best) > 1 else float("inf"))
    return min(leads, default=float("inf"))


def batch_prompts(kit, max_tokens: int) -> list[str]:
    seen = set()

    def holds(prompts):  # one batched request: the margin makes the batch irrelevant
        answers = []
        for choice in kit_choices(kit, prompts, max_tokens, logprobs=2):
            answers.append(choice.text not in seen and greedy_margin(choice) >= MARGIN)
            seen.add(choice.text)
        return answers

    return establish(kit, f"its {max_tokens}-token greedy completion differs from those of the "
                          f"other prompts chosen, and each of its tokens leads the runner-up by "
                          f"{MARGIN} nats or more, so that batching cannot change it",
                     BATCH_CANDIDATES, holds, need=BATCH_SIZE)


def short_reply_limit(kit) -> int:
    def holds(limits):
        return [kit.client().chat.completions.create(
            model=kit.served_model, messages=MESSAGES, max_tokens=n,
            temperature=0).choices[0].finish_reason == "length" for n in limits]

    return establish(kit, "this max_tokens cuts the greedy chat reply short (finish_reason "
                          "\"length\")", SHORT_REPLY_CANDIDATES, holds)[0]


def in_own_thread(function, *args):
    """function(*args) in a thread of its own, where no event loop runs: a
    notebook runs its cells, and so its checks, inside Jupyter's, where the
    student's asyncio.run would fail."""
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        return pool.submit(function, *args).result()
    finally:
        pool.shutdown(wait=False)  # a check stopped by its time limit does not wait


def expect_text(got, want: str, what: str) -> None:
    expect(isinstance(got, str), f"expected the generated text (a str), got {describe_type(got)}")
    expect(got == want, f"{what}: expected {want!r}, got {short_repr(got)}")


def expect_greedy(body: dict) -> None:
    expect(body.get("temperature") == 0,
           f"expected a greedy request (temperature=0), sent temperature={body.get('temperature')!r}")


def expect_streamed(requests: Requests, max_tokens: int) -> None:
    """The student's code streamed one greedy completion of `max_tokens`."""
    bodies = requests.bodies("/completions")
    expect(bodies, "no request reached /v1/completions through the client it was given")
    expect(all(body.get("stream") is True for body in bodies),
           "the completion was not streamed: pass stream=True to create(...), then read the "
           "chunks as they arrive")
    body = bodies[-1]
    expect_greedy(body)
    expect(body.get("max_tokens") == max_tokens,
           f"expected max_tokens={max_tokens} in the request, sent {body.get('max_tokens')!r}")


@pytest.mark.exercise("make_client")
def test_make_client(student, kit):
    from openai import OpenAI

    client = student.make_client(kit.base_url)
    expect(isinstance(client, OpenAI), f"expected an openai.OpenAI, got {describe_type(client)}")
    expect(client.api_key == "EMPTY", f"expected the key \"EMPTY\" (the lesson's placeholder), "
                                      f"got {short_repr(client.api_key)}")
    got = str(client.base_url).rstrip("/")
    expect(got == kit.base_url, f"expected a client of {kit.base_url}, got one of {got}")
    names = [model.id for model in client.models.list()]
    expect(kit.served_model in names, f"the client's /v1/models lists {names}, not "
                                      f"{kit.served_model!r}")


@pytest.mark.exercise("served_models")
def test_served_models(student, kit):
    got = student.served_models(kit.client())
    want = [kit.served_model]
    expect(got == want, f"expected {want} (the .id of each model /v1/models lists), got "
                        f"{short_repr(got)}")


@pytest.mark.exercise("complete")
def test_complete(student, kit):
    for prompt, max_tokens in ((PROMPT, 24), (long_prompt(kit), 40)):
        requests = Requests()
        got = student.complete(kit.client(requests), kit.served_model, prompt, max_tokens)
        expect(requests.bodies("/completions"), "no request reached /v1/completions")
        # Checked on the request: a sampled text can be the greedy one by chance.
        expect_greedy(requests.bodies("/completions")[-1])
        expect_text(got, kit_text(kit, prompt, max_tokens),
                    f"the greedy completion of {prompt!r} in at most {max_tokens} tokens")


@pytest.mark.exercise("chat")
def test_chat(student, kit):
    for max_tokens in (20, short_reply_limit(kit)):
        requests = Requests()
        given = copy.deepcopy(MESSAGES)
        got = student.chat(kit.client(requests), kit.served_model, given, max_tokens)
        expect_unchanged(MESSAGES, given, "messages")
        sent = requests.bodies("/chat/completions")
        expect(sent, "no request reached /v1/chat/completions: use client.chat.completions.create")
        expect(sent[-1].get("messages") == MESSAGES,
               f"expected the whole conversation to be sent, {MESSAGES}, got "
               f"{short_repr(sent[-1].get('messages'))}")
        expect_greedy(sent[-1])
        response = kit.client().chat.completions.create(
            model=kit.served_model, messages=MESSAGES, max_tokens=max_tokens, temperature=0)
        expect_text(got, response.choices[0].message.content,
                    f"the greedy reply in at most {max_tokens} tokens")


def check_sample(student, kit, prompt: str, temperature: float, top_k: int, seed: int) -> None:
    requests = Requests()
    got = student.sample(kit.client(requests), kit.served_model, prompt, 24, temperature,
                         top_k, seed)
    sent = requests.bodies("/completions")
    expect(sent, "no request reached /v1/completions")
    # Checked on the request: a sample at the server's default temperature
    # can give the same text on a peaked model.
    expect(sent[-1].get("temperature") == temperature,
           f"the request carried temperature={sent[-1].get('temperature')!r}, not "
           f"{temperature}")
    expect(sent[-1].get("top_k") == top_k,
           f"the request carried top_k={sent[-1].get('top_k')!r}, not {top_k}: vLLM's own "
           "parameters go in extra_body={...}")
    # Checked on the request: unseeded sampling can give the seeded text by
    # chance, so the text alone cannot show that the seed was sent.
    expect(sent[-1].get("seed") == seed,
           f"the request carried seed={sent[-1].get('seed')!r}, not {seed}: without it the "
           "same call gives different text")
    want = kit_text(kit, prompt, 24, temperature=temperature, seed=seed,
                    extra_body={"top_k": top_k})
    expect_text(got, want, f"with temperature={temperature}, top_k={top_k}, seed={seed}")


@pytest.mark.exercise("sample")
def test_sample(student, kit):
    check_sample(student, kit, PROMPT, temperature=1.5, top_k=1, seed=7)
    check_sample(student, kit, long_prompt(kit), temperature=0.7, top_k=5, seed=11)


@pytest.mark.exercise("stream_text")
def test_stream_text(student, kit):
    requests = Requests()
    got = student.stream_text(kit.client(requests), kit.served_model, long_prompt(kit), 32)
    expect_streamed(requests, 32)
    expect_text(got, kit_text(kit, long_prompt(kit), 32),
                "the joined chunks (the same text as without streaming)")


def timing_problem(first: float, total: float, call: tuple[float, float],
                   exchange) -> tuple[str | None, bool]:
    """(What is wrong with the student's (first, total), or None; whether this
    stream tells a right first-token time from the time of the last text).

    Events, from inside the client: the request left at `exchange.sent`, no
    earlier than the student's clock started; the student's loop saw the first
    text after the read that completed it ended, and before the next read
    began; the last text after the read that completed it; and the call ran
    from call[0] to call[1] by the grader's clock."""
    started, returned = call
    reads = exchange.reads
    texts = exchange.text_reads()
    first_read, last_read = reads[texts[0]], reads[texts[-1]]
    next_start = reads[texts[0] + 1].start if texts[0] + 1 < len(reads) else returned
    earliest_first = first_read.end - exchange.sent - CLOCK_SLACK
    latest_first = next_start - started + CLOCK_SLACK
    earliest_total = last_read.end - exchange.sent - CLOCK_SLACK
    latest_total = returned - started + CLOCK_SLACK
    # A first-token time noted at the last text is at least earliest_total:
    # this stream tells them apart when a right answer must come before it.
    telling = latest_first < earliest_total
    if not 0 < first <= total:
        return f"expected 0 < first token time <= total time, got ({first}, {total})", telling
    if total > latest_total:
        return (f"the total, {total:.3f} s, is longer than the whole call took by the grader's "
                f"clock ({returned - started:.3f} s): measure seconds with "
                "time.perf_counter()"), telling
    if total < earliest_total:
        return (f"the total, {total:.3f} s, ends before the last text reached your client "
                f"({earliest_total + CLOCK_SLACK:.3f} s after the request left): start the "
                "clock before the request, stop it after the last chunk"), telling
    if first > latest_first:
        return (f"the first token time, {first:.3f} s, is later than when the next part of the "
                f"stream was asked for ({latest_first - CLOCK_SLACK:.3f} s after the call began): "
                "note the time of the first chunk with text, as it arrives, not of the end"), \
            telling
    if first < earliest_first:
        return (f"the first token time, {first:.3f} s, is earlier than the first text reached "
                f"your client ({earliest_first + CLOCK_SLACK:.3f} s after the request left): "
                "start the clock before the request"), telling
    return None, telling


@pytest.mark.exercise("time_to_first_token")
def test_time_to_first_token(student, kit):
    # A busy server can deliver a whole stream in one read, and then no answer
    # is told from another: right code passes any try that tells them apart,
    # wrong code fails the first try whose events contradict it.
    prompt = long_prompt(kit)
    for _ in range(TIMING_TRIES):
        requests, timeline = Requests(), StreamTimeline()
        client = kit.client(requests, timeline)
        started = time.perf_counter()
        got = student.time_to_first_token(client, kit.served_model, prompt, LONGEST)
        returned = time.perf_counter()
        expect(isinstance(got, tuple) and len(got) == 2
               and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in got),
               f"expected (seconds to the first token, seconds in all), got {describe_type(got)}")
        expect_streamed(requests, LONGEST)
        exchange = timeline.streamed("/completions")
        expect(exchange is not None, "no text came back from a streamed request to "
                                     "/v1/completions")
        problem, telling = timing_problem(*got, (started, returned), exchange)
        expect(problem is None, problem or "")
        if telling:
            return
    raise KitError(f"in {TIMING_TRIES} tries, the server never streamed {LONGEST} tokens in "
                   "parts far enough apart to tell the first token's time from the last's "
                   "(the machine may be overloaded)")


@pytest.mark.exercise("complete_all")
def test_complete_all(student, kit):
    batch = batch_prompts(kit, 32)
    want = [c.text for c in kit_choices(kit, batch, 32)]  # batched as the student's are
    with kit.watch() as watch:  # counts the student's requests in flight at once
        got = in_own_thread(student.complete_all, watch.base_url, kit.served_model,
                            list(batch), 32)
    expect(isinstance(got, list) and all(isinstance(t, str) for t in got),
           f"expected a list of texts, got {describe_type(got)}")
    expect(len(got) == len(batch), f"expected {len(batch)} texts, got {len(got)}")
    if sorted(got) == sorted(want):
        expect(got == want, "the texts are right but not in the order of the prompts: "
                            "asyncio.gather keeps the order it was given")
    for i, (g, w) in enumerate(zip(got, want)):
        expect_text(g, w, f"prompt {i} ({batch[i]!r})")
    at_once = watch.most_at_once()
    expect(at_once > len(batch) // 2,
           f"at most {at_once} of the {len(batch)} requests were in flight at once: send them "
           "all before awaiting any, so that the server batches them")


def check_rejected(student, kit, params: dict, server_says: str) -> None:
    try:
        got = student.checked_complete(kit.client(), kit.served_model, PROMPT, max_tokens=8,
                                       **params)
    except StudentCodeError as e:
        expect(getattr(e, "raised", None) is ValueError,
               f"with {params}, expected a ValueError; instead {e}")
        expect(server_says in str(e), f"with {params}, expected the server's message "
                                      f"({server_says!r}...) in the ValueError; instead {e}")
    else:
        expect(False, f"with {params} the server answers 400 ({server_says}...); expected a "
                      f"ValueError, got the return value {short_repr(got)}")


@pytest.mark.exercise("checked_complete")
def test_checked_complete(student, kit):
    got = student.checked_complete(kit.client(), kit.served_model, PROMPT, max_tokens=8,
                                   temperature=0)
    expect_text(got, kit_text(kit, PROMPT, 8), "a request the server accepts")
    check_rejected(student, kit, {"temperature": -1}, "temperature must be non-negative")


@pytest.mark.hidden  # instructor-only in nbgrader: absent from the released notebook
@pytest.mark.exercise("checked_complete")
def test_checked_complete_other_errors(student, kit):
    check_rejected(student, kit, {"top_p": 1.5}, "top_p must be in (0, 1]")
    check_rejected(student, kit, {"extra_body": {"top_k": -5}}, "top_k must be 0 (disable)")
