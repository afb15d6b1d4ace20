"""Lesson 4 exercises: inside vLLM's output.

Fill in each function below. The lesson (lessons/04-inside-the-output/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson04
"""

import math

from vllm import LLM, SamplingParams
from vllm.inputs import TokensPrompt
from vllm.outputs import CompletionOutput, RequestOutput


def encode(llm: LLM, text: str) -> list[int]:
    """Return the token ids that vLLM feeds the model for the prompt `text`, as
    a list of ints: the start token first, then the ids of the text. They are
    the ids a RequestOutput for that prompt reports as prompt_token_ids.

    Lesson section: "Tokens and token ids".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def decode(llm: LLM, token_ids: list[int]) -> str:
    """Return the text of `token_ids`, without special tokens such as the
    start and end token </s>: the text vLLM would show for them.

    Lesson section: "Tokens and token ids".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def generate_from_token_ids(llm: LLM, token_ids: list[int], params: SamplingParams) -> RequestOutput:
    """Generate with `params` from a prompt given as token ids, not as text.
    vLLM must use the ids exactly as given (it adds no start token to them).
    Return the one RequestOutput (not a list).

    Lesson section: "Prompting with token ids".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def chosen_logprobs(completion: CompletionOutput) -> list[float]:
    """Return the log-probability of each generated token of `completion` (a
    CompletionOutput generated with `logprobs` set), in order: one float per
    token in completion.token_ids, whatever its rank. Their sum is the
    completion's cumulative_logprob.

    Lesson section: "Logprobs of generated tokens".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def top_alternatives(completion: CompletionOutput, position: int, k: int) -> list[tuple[str, float]]:
    """Return the k most likely tokens at generated position `position` of
    `completion` (generated with logprobs=k or more), as (decoded_token,
    logprob) pairs in rank order: rank 1 first, then 2, ..., k.

    The generated token is in the list only if it is one of those k. When it
    was sampled from outside the top k, vLLM adds it to that position's dict as
    an extra entry: leave that entry out.

    Lesson section: "Logprobs of generated tokens".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def perplexity(llm: LLM, text: str) -> float:
    """Return the perplexity of `text` under the model of `llm`: exp of minus
    the mean log-probability of the prompt tokens of `text`, read from vLLM's
    prompt logprobs. The first token (the start token) has no log-probability
    and is not counted. `text` is not empty.

    Lesson section: "Prompt logprobs and perplexity".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def finish_details(output: RequestOutput) -> list[tuple[str, object]]:
    """Return a (finish_reason, stop_reason) tuple for each completion of
    `output`, in order.

    Lesson section: "Why generation stopped".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
