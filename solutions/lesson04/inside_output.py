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
    ### BEGIN SOLUTION
    return llm.get_tokenizer().encode(text)
    ### END SOLUTION


def decode(llm: LLM, token_ids: list[int]) -> str:
    """Return the text of `token_ids`, without special tokens such as the
    start and end token </s>: the text vLLM would show for them.

    Lesson section: "Tokens and token ids".
    """
    ### BEGIN SOLUTION
    return llm.get_tokenizer().decode(token_ids, skip_special_tokens=True)
    ### END SOLUTION


def generate_from_token_ids(llm: LLM, token_ids: list[int], params: SamplingParams) -> RequestOutput:
    """Generate with `params` from a prompt given as token ids, not as text.
    vLLM must use the ids exactly as given (it adds no start token to them).
    Return the one RequestOutput (not a list).

    Lesson section: "Prompting with token ids".
    """
    ### BEGIN SOLUTION
    return llm.generate(TokensPrompt(prompt_token_ids=token_ids), params, use_tqdm=False)[0]
    ### END SOLUTION


def chosen_logprobs(completion: CompletionOutput) -> list[float]:
    """Return the log-probability of each generated token of `completion` (a
    CompletionOutput generated with `logprobs` set), in order: one float per
    token in completion.token_ids, whatever its rank. Their sum is the
    completion's cumulative_logprob.

    Lesson section: "Logprobs of generated tokens".
    """
    ### BEGIN SOLUTION
    return [step[token_id].logprob
            for step, token_id in zip(completion.logprobs, completion.token_ids)]
    ### END SOLUTION


def top_alternatives(completion: CompletionOutput, position: int, k: int) -> list[tuple[str, float]]:
    """Return the k most likely tokens at generated position `position` of
    `completion` (generated with logprobs=k or more), as (decoded_token,
    logprob) pairs in rank order: rank 1 first, then 2, ..., k.

    The generated token is in the list only if it is one of those k. When it
    was sampled from outside the top k, vLLM adds it to that position's dict as
    an extra entry: leave that entry out.

    Lesson section: "Logprobs of generated tokens".
    """
    ### BEGIN SOLUTION
    top = [lp for lp in completion.logprobs[position].values() if lp.rank <= k]
    return [(lp.decoded_token, lp.logprob) for lp in sorted(top, key=lambda lp: lp.rank)]
    ### END SOLUTION


def perplexity(llm: LLM, text: str) -> float:
    """Return the perplexity of `text` under the model of `llm`: exp of minus
    the mean log-probability of the prompt tokens of `text`, read from vLLM's
    prompt logprobs. The first token (the start token) has no log-probability
    and is not counted. `text` is not empty.

    Lesson section: "Prompt logprobs and perplexity".
    """
    ### BEGIN SOLUTION
    params = SamplingParams(max_tokens=1, prompt_logprobs=0)
    output = llm.generate(text, params, use_tqdm=False)[0]
    # Entry i holds the logprob of prompt token i given the tokens before it;
    # entry 0 is None: nothing comes before the start token.
    logprobs = [step[token_id].logprob
                for step, token_id in zip(output.prompt_logprobs[1:], output.prompt_token_ids[1:])]
    return math.exp(-sum(logprobs) / len(logprobs))
    ### END SOLUTION


def finish_details(output: RequestOutput) -> list[tuple[str, object]]:
    """Return a (finish_reason, stop_reason) tuple for each completion of
    `output`, in order.

    Lesson section: "Why generation stopped".
    """
    ### BEGIN SOLUTION
    return [(completion.finish_reason, completion.stop_reason) for completion in output.outputs]
    ### END SOLUTION
