"""Lesson 3 exercises: batching and throughput.

Fill in each function below. The lesson (lessons/03-batching/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson03
"""

import time

from vllm import LLM, SamplingParams
from vllm.outputs import RequestOutput


def generate_batched(llm: LLM, prompts: list[str], params: SamplingParams) -> list[str]:
    """Generate a completion for every prompt with ONE llm.generate call, using
    `params` for all of them. Return the generated text (the first completion)
    of each prompt, in the order of `prompts`.

    Lesson section: "One call, many prompts".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def generate_looped(llm: LLM, prompts: list[str], params: SamplingParams) -> list[str]:
    """Generate the same completions as generate_batched, but with one
    llm.generate call PER PROMPT (a for loop), using `params` each time.
    Return the generated texts in the order of `prompts`.

    Lesson section: "A loop of calls".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def generate_per_prompt(llm: LLM, prompts: list[str], max_tokens: list[int]) -> list[RequestOutput]:
    """Generate greedily (temperature 0) for every prompt in ONE llm.generate
    call, where prompt i gets its own SamplingParams with max_tokens[i].
    Return the list of RequestOutput objects, one per prompt, in prompt order.

    Lesson section: "One SamplingParams per prompt".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def count_generated_tokens(outputs: list[RequestOutput]) -> int:
    """Return the total number of generated tokens in `outputs`: the token ids
    of every completion of every RequestOutput (an output generated with n > 1
    has n completions). Prompt tokens do not count.

    Lesson section: "Counting tokens".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def measure_throughput(llm: LLM, prompts: list[str], params: SamplingParams) -> dict:
    """Time ONE llm.generate call over all `prompts` with `params`, measured
    with time.perf_counter() just before and just after the call. Return a
    dict with exactly these keys:

    - "tokens": the number of generated tokens (count_generated_tokens)
    - "seconds": the time the generate call took, in seconds
    - "tokens_per_second": tokens / seconds

    Lesson section: "Measuring throughput".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def compare_batching(llm: LLM, prompts: list[str], params: SamplingParams) -> dict:
    """Run generate_batched and generate_looped on the same `prompts` and
    `params`, timing each call with time.perf_counter(). Return a dict with
    exactly these keys:

    - "batched_seconds": how long generate_batched took, in seconds
    - "looped_seconds": how long generate_looped took, in seconds
    - "speedup": looped_seconds / batched_seconds
    - "same_texts": True if both returned the same texts, else False

    Lesson section: "Why batching wins".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
