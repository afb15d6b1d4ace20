"""Lesson 9 exercises: online serving.

Fill in each function below. The lesson (lessons/09-online-serving/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson09

The grader starts `vllm serve` itself and hands you its base URL (such as
"http://127.0.0.1:8000/v1"), a client, and the served model's name.
"""

import asyncio
import time

from openai import AsyncOpenAI, BadRequestError, OpenAI


def make_client(base_url: str) -> OpenAI:
    """Return an OpenAI client that talks to the vLLM server at `base_url`.
    The server checks no key, but the client insists on one: pass "EMPTY".

    Lesson section: "The OpenAI client".
    """
    ### BEGIN SOLUTION
    return OpenAI(base_url=base_url, api_key="EMPTY")
    ### END SOLUTION


def served_models(client: OpenAI) -> list[str]:
    """Return the names of the models the server serves (GET /v1/models):
    the names a request's `model` must be one of.

    Lesson section: "Listing the served models".
    """
    ### BEGIN SOLUTION
    return [model.id for model in client.models.list()]
    ### END SOLUTION


def complete(client: OpenAI, model: str, prompt: str, max_tokens: int) -> str:
    """Complete `prompt` greedily (temperature 0) with at most `max_tokens`
    new tokens through /v1/completions. Return the generated text only.

    Lesson section: "Completions".
    """
    ### BEGIN SOLUTION
    response = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens,
                                         temperature=0)
    return response.choices[0].text
    ### END SOLUTION


def chat(client: OpenAI, model: str, messages: list[dict], max_tokens: int) -> str:
    """Send the whole conversation `messages` to /v1/chat/completions and
    return the assistant's reply (greedy, at most `max_tokens` tokens).
    Leave `messages` as it was.

    Lesson section: "Chat completions".
    """
    ### BEGIN SOLUTION
    response = client.chat.completions.create(model=model, messages=messages,
                                              max_tokens=max_tokens, temperature=0)
    return response.choices[0].message.content
    ### END SOLUTION


def sample(client: OpenAI, model: str, prompt: str, max_tokens: int, temperature: float,
           top_k: int, seed: int) -> str:
    """Complete `prompt` by sampling with `temperature`, vLLM's `top_k` and
    `seed` (so that the same call gives the same text). top_k is not an
    OpenAI parameter: send it the way the lesson shows for vLLM's own ones.

    Lesson section: "vLLM's extra parameters".
    """
    ### BEGIN SOLUTION
    response = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens,
                                         temperature=temperature, seed=seed,
                                         extra_body={"top_k": top_k})
    return response.choices[0].text
    ### END SOLUTION


def stream_text(client: OpenAI, model: str, prompt: str, max_tokens: int) -> str:
    """Complete `prompt` greedily as a stream (stream=True) and return the
    text of all the chunks joined, in the order they came.

    Lesson section: "Streaming".
    """
    ### BEGIN SOLUTION
    stream = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens,
                                       temperature=0, stream=True)
    return "".join(chunk.choices[0].text for chunk in stream if chunk.choices)
    ### END SOLUTION


def time_to_first_token(client: OpenAI, model: str, prompt: str,
                        max_tokens: int) -> tuple[float, float]:
    """Stream a greedy completion of `prompt` and return (seconds until the
    first chunk with text arrived, seconds until the stream ended), both
    counted from just before the request (time.perf_counter()).

    Lesson section: "Time to first token".
    """
    ### BEGIN SOLUTION
    start = time.perf_counter()
    first = None
    stream = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens,
                                       temperature=0, stream=True)
    for chunk in stream:
        if first is None and chunk.choices and chunk.choices[0].text:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    return (total if first is None else first), total
    ### END SOLUTION


def complete_all(base_url: str, model: str, prompts: list[str], max_tokens: int) -> list[str]:
    """Complete every prompt greedily, sending ALL the requests at once
    (AsyncOpenAI and asyncio), so that the server batches them. Return the
    texts in the order of `prompts`.

    Lesson section: "Concurrent requests".
    """
    ### BEGIN SOLUTION
    async def run() -> list[str]:
        client = AsyncOpenAI(base_url=base_url, api_key="EMPTY")
        responses = await asyncio.gather(*(
            client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens,
                                      temperature=0)
            for prompt in prompts))
        return [response.choices[0].text for response in responses]

    return asyncio.run(run())
    ### END SOLUTION


def checked_complete(client: OpenAI, model: str, prompt: str, **params) -> str:
    """Complete `prompt` through /v1/completions with the request parameters
    `params` (max_tokens, temperature, top_p, ...) and return the text. When
    the server rejects the request (HTTP 400, openai.BadRequestError), raise
    ValueError with the server's message in it instead, so that the caller
    learns what to fix.

    Lesson section: "When the server says no".
    """
    ### BEGIN SOLUTION
    try:
        response = client.completions.create(model=model, prompt=prompt, **params)
    except BadRequestError as e:
        raise ValueError(f"the server rejected the request: {e.message}") from e
    return response.choices[0].text
    ### END SOLUTION
