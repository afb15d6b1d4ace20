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
    # YOUR CODE HERE
    raise NotImplementedError()


def served_models(client: OpenAI) -> list[str]:
    """Return the names of the models the server serves (GET /v1/models):
    the names a request's `model` must be one of.

    Lesson section: "Listing the served models".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def complete(client: OpenAI, model: str, prompt: str, max_tokens: int) -> str:
    """Complete `prompt` greedily (temperature 0) with at most `max_tokens`
    new tokens through /v1/completions. Return the generated text only.

    Lesson section: "Completions".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def chat(client: OpenAI, model: str, messages: list[dict], max_tokens: int) -> str:
    """Send the whole conversation `messages` to /v1/chat/completions and
    return the assistant's reply (greedy, at most `max_tokens` tokens).
    Leave `messages` as it was.

    Lesson section: "Chat completions".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def sample(client: OpenAI, model: str, prompt: str, max_tokens: int, temperature: float,
           top_k: int, seed: int) -> str:
    """Complete `prompt` by sampling with `temperature`, vLLM's `top_k` and
    `seed` (so that the same call gives the same text). top_k is not an
    OpenAI parameter: send it the way the lesson shows for vLLM's own ones.

    Lesson section: "vLLM's extra parameters".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def stream_text(client: OpenAI, model: str, prompt: str, max_tokens: int) -> str:
    """Complete `prompt` greedily as a stream (stream=True) and return the
    text of all the chunks joined, in the order they came.

    Lesson section: "Streaming".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def time_to_first_token(client: OpenAI, model: str, prompt: str,
                        max_tokens: int) -> tuple[float, float]:
    """Stream a greedy completion of `prompt` and return (seconds until the
    first chunk with text arrived, seconds until the stream ended), both
    counted from just before the request (time.perf_counter()).

    Lesson section: "Time to first token".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def complete_all(base_url: str, model: str, prompts: list[str], max_tokens: int) -> list[str]:
    """Complete every prompt greedily, sending ALL the requests at once
    (AsyncOpenAI and asyncio), so that the server batches them. Return the
    texts in the order of `prompts`.

    Lesson section: "Concurrent requests".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def checked_complete(client: OpenAI, model: str, prompt: str, **params) -> str:
    """Complete `prompt` through /v1/completions with the request parameters
    `params` (max_tokens, temperature, top_p, ...) and return the text. When
    the server rejects the request (HTTP 400, openai.BadRequestError), raise
    ValueError with the server's message in it instead, so that the caller
    learns what to fix.

    Lesson section: "When the server says no".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
