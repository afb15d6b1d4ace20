"""Graders of lesson 9, online serving (points in course.yaml).

Every check talks to a real `vllm serve` of the lesson's model, started by
the kit outside the checks' time (kit.server_url; once per run). The
student's functions get its base URL, or a client of it, and the served
model's name; their answers are compared with the kit's own requests to the
same server. How the student's code called the server is read from the HTTP
requests it sent (kit.client(on_request=...)), and how many of them were in
flight at once through a relay that watches them (kit.watch()). Timings are
compared with the grader's own clock as ratios, never as absolute seconds.
"""

import concurrent.futures
import json
import time

import pytest

from vllm_course.grading import expect
from vllm_course.grading.feedback import StudentCodeError, describe_type, short_repr

PROMPT = "The capital of France is"
LONG = "Story number 3: once upon a time"  # runs to max_tokens on the offline model
MESSAGES = [{"role": "system", "content": "You answer in one short sentence."},
            {"role": "user", "content": "What is the capital of France?"}]
BATCH = [f"Story number {i}: once upon a time" for i in range(8)]
# The first token of a 64-token stream must come within this share of the
# stream's whole time (measured here: about 0.1).
FIRST_TOKEN_SHARE = 0.5
TIMING_TRIES = 3


class Requests:
    """What a client sent: (path, JSON body) per HTTP request."""

    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def __call__(self, request):
        body = json.loads(request.content) if request.content else {}
        self.sent.append((request.url.path, body))

    def bodies(self, path_end: str) -> list[dict]:
        return [body for path, body in self.sent if path.endswith(path_end)]


def kit_text(kit, prompt: str, max_tokens: int, **params) -> str:
    """The kit's own completion of `prompt` (greedy unless `params` say otherwise)."""
    params.setdefault("temperature", 0)
    response = kit.client().completions.create(model=kit.served_model, prompt=prompt,
                                               max_tokens=max_tokens, **params)
    return response.choices[0].text


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


def expect_streamed(requests: Requests, max_tokens: int) -> None:
    """The student's code streamed one greedy completion of `max_tokens`."""
    bodies = requests.bodies("/completions")
    expect(bodies, "no request reached /v1/completions through the client it was given")
    expect(all(body.get("stream") is True for body in bodies),
           "the completion was not streamed: pass stream=True to create(...), then read the "
           "chunks as they arrive")
    body = bodies[-1]
    expect(body.get("temperature") == 0,
           f"expected a greedy request (temperature=0), sent temperature={body.get('temperature')!r}")
    expect(body.get("max_tokens") == max_tokens,
           f"expected max_tokens={max_tokens} in the request, sent {body.get('max_tokens')!r}")


@pytest.mark.exercise("make_client")
def test_make_client(student, kit):
    from openai import OpenAI

    client = student.make_client(kit.base_url)
    expect(isinstance(client, OpenAI), f"expected an openai.OpenAI, got {describe_type(client)}")
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
    for prompt, max_tokens in ((PROMPT, 24), (LONG, 40)):
        requests = Requests()
        got = student.complete(kit.client(requests), kit.served_model, prompt, max_tokens)
        expect(requests.bodies("/completions"), "no request reached /v1/completions")
        expect_text(got, kit_text(kit, prompt, max_tokens),
                    f"the greedy completion of {prompt!r} in at most {max_tokens} tokens")


@pytest.mark.exercise("chat")
def test_chat(student, kit):
    for max_tokens in (20, 6):  # 6 cuts the reply short
        requests = Requests()
        got = student.chat(kit.client(requests), kit.served_model, [dict(m) for m in MESSAGES],
                           max_tokens)
        sent = requests.bodies("/chat/completions")
        expect(sent, "no request reached /v1/chat/completions: use client.chat.completions.create")
        expect(sent[-1].get("messages") == MESSAGES,
               f"expected the whole conversation to be sent, {MESSAGES}, got "
               f"{short_repr(sent[-1].get('messages'))}")
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
    expect(sent[-1].get("top_k") == top_k,
           f"the request carried top_k={sent[-1].get('top_k')!r}, not {top_k}: vLLM's own "
           "parameters go in extra_body={...}")
    # Checked on the request: unseeded sampling from a confident model often
    # gives the seeded text anyway, so the text alone would pass by luck.
    expect(sent[-1].get("seed") == seed,
           f"the request carried seed={sent[-1].get('seed')!r}, not {seed}: without it the "
           "same call gives different text")
    want = kit_text(kit, prompt, 24, temperature=temperature, seed=seed,
                    extra_body={"top_k": top_k})
    expect_text(got, want, f"with temperature={temperature}, top_k={top_k}, seed={seed}")


@pytest.mark.exercise("sample")
def test_sample(student, kit):
    check_sample(student, kit, PROMPT, temperature=1.5, top_k=1, seed=7)
    check_sample(student, kit, LONG, temperature=0.7, top_k=5, seed=11)


@pytest.mark.exercise("stream_text")
def test_stream_text(student, kit):
    requests = Requests()
    got = student.stream_text(kit.client(requests), kit.served_model, LONG, 32)
    expect_streamed(requests, 32)
    expect_text(got, kit_text(kit, LONG, 32), "the joined chunks (the same text as without "
                                               "streaming)")


def timing_problem(first: float, total: float, elapsed: float) -> str | None:
    """What is wrong with (first, total) of a 64-token stream whose call took
    `elapsed` by the grader's clock, or None."""
    if not 0 < first <= total:
        return f"expected 0 < first token time <= total time, got ({first}, {total})"
    if total > elapsed:
        return (f"the total, {total:.3f} s, is longer than the whole call took by the grader's "
                f"clock ({elapsed:.3f} s)")
    if total < 0.5 * elapsed:
        return (f"the total, {total:.3f} s, is under half of what the call took by the grader's "
                f"clock ({elapsed:.3f} s): start the clock before the request, stop it after the "
                "last chunk")
    if first > FIRST_TOKEN_SHARE * total:
        return (f"the first token came after {first / total:.0%} of the stream's time ({first:.3f} "
                f"of {total:.3f} s): for 64 tokens it should come within the first "
                f"{FIRST_TOKEN_SHARE:.0%}. Note the time of the first chunk with text, not of "
                "the end")
    return None


@pytest.mark.exercise("time_to_first_token")
def test_time_to_first_token(student, kit):
    # The server is shared (a class is graded in parallel): a busy moment can
    # deliver a whole stream at once. Right code passes one of a few tries;
    # wrong code fails them all.
    for _ in range(TIMING_TRIES):
        requests = Requests()
        start = time.perf_counter()
        got = student.time_to_first_token(kit.client(requests), kit.served_model, LONG, 64)
        elapsed = time.perf_counter() - start
        expect(isinstance(got, tuple) and len(got) == 2
               and all(isinstance(t, (int, float)) for t in got),
               f"expected (seconds to the first token, seconds in all), got {describe_type(got)}")
        expect_streamed(requests, 64)
        problem = timing_problem(*got, elapsed)
        if problem is None:
            return
    expect(False, problem)


@pytest.mark.exercise("complete_all")
def test_complete_all(student, kit):
    want = [kit_text(kit, prompt, 32) for prompt in BATCH]
    with kit.watch() as watch:  # counts the student's requests in flight at once
        got = in_own_thread(student.complete_all, watch.base_url, kit.served_model,
                            list(BATCH), 32)
    expect(isinstance(got, list) and all(isinstance(t, str) for t in got),
           f"expected a list of texts, got {describe_type(got)}")
    expect(len(got) == len(BATCH), f"expected {len(BATCH)} texts, got {len(got)}")
    if sorted(got) == sorted(want):
        expect(got == want, "the texts are right but not in the order of the prompts: "
                            "asyncio.gather keeps the order it was given")
    for i, (g, w) in enumerate(zip(got, want)):
        expect_text(g, w, f"prompt {i} ({BATCH[i]!r})")
    at_once = watch.most_at_once()
    expect(at_once > len(BATCH) // 2,
           f"at most {at_once} of the {len(BATCH)} requests were in flight at once: send them "
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
