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
    ### BEGIN SOLUTION
    outputs = llm.generate(prompts, params, use_tqdm=False)
    return [output.outputs[0].text for output in outputs]
    ### END SOLUTION


def generate_looped(llm: LLM, prompts: list[str], params: SamplingParams) -> list[str]:
    """Generate the same completions as generate_batched, but with one
    llm.generate call PER PROMPT (a for loop), using `params` each time.
    Return the generated texts in the order of `prompts`.

    Lesson section: "A loop of calls".
    """
    ### BEGIN SOLUTION
    texts = []
    for prompt in prompts:
        [output] = llm.generate([prompt], params, use_tqdm=False)
        texts.append(output.outputs[0].text)
    return texts
    ### END SOLUTION


def generate_per_prompt(llm: LLM, prompts: list[str], max_tokens: list[int]) -> list[RequestOutput]:
    """Generate greedily (temperature 0) for every prompt in ONE llm.generate
    call, where prompt i gets its own SamplingParams with max_tokens[i].
    Return the list of RequestOutput objects, one per prompt, in prompt order.

    Lesson section: "One SamplingParams per prompt".
    """
    ### BEGIN SOLUTION
    params = [SamplingParams(temperature=0, max_tokens=m) for m in max_tokens]
    return llm.generate(prompts, params, use_tqdm=False)
    ### END SOLUTION


def count_generated_tokens(outputs: list[RequestOutput]) -> int:
    """Return the total number of generated tokens in `outputs`: the token ids
    of every completion of every RequestOutput (an output generated with n > 1
    has n completions). Prompt tokens do not count.

    Lesson section: "Counting tokens".
    """
    ### BEGIN SOLUTION
    return sum(len(completion.token_ids) for output in outputs for completion in output.outputs)
    ### END SOLUTION


def measure_throughput(llm: LLM, prompts: list[str], params: SamplingParams) -> dict:
    """Time ONE llm.generate call over all `prompts` with `params`, measured
    with time.perf_counter() just before and just after the call. Return a
    dict with exactly these keys:

    - "tokens": the number of generated tokens (count_generated_tokens)
    - "seconds": the time the generate call took, in seconds
    - "tokens_per_second": tokens / seconds

    Lesson section: "Measuring throughput".
    """
    ### BEGIN SOLUTION
    start = time.perf_counter()
    outputs = llm.generate(prompts, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    tokens = count_generated_tokens(outputs)
    return {"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds}
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    start = time.perf_counter()
    batched = generate_batched(llm, prompts, params)
    batched_seconds = time.perf_counter() - start

    start = time.perf_counter()
    looped = generate_looped(llm, prompts, params)
    looped_seconds = time.perf_counter() - start

    return {
        "batched_seconds": batched_seconds,
        "looped_seconds": looped_seconds,
        "speedup": looped_seconds / batched_seconds,
        "same_texts": batched == looped,
    }
    ### END SOLUTION
