"""Lesson 1 exercises: basic offline inference with vLLM.

Fill in each function below. The lesson (lessons/01-basic-inference/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson01
"""

from vllm import LLM, SamplingParams
from vllm.outputs import RequestOutput


def create_llm(model: str) -> LLM:
    """Load `model` (a Hugging Face id or a local folder) with vLLM's defaults
    and return the LLM.

    Lesson section: "Loading a model".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def create_sampling_params() -> SamplingParams:
    """Return SamplingParams with temperature 0.8 and top_p 0.95, every other
    field at vLLM's default.

    Lesson section: "Sampling parameters".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def generate(llm: LLM, prompts: list[str], sampling_params: SamplingParams) -> list[RequestOutput]:
    """Generate a completion for every prompt with `sampling_params`; return
    the list of RequestOutput objects, one per prompt, in prompt order.

    Lesson section: "Generating text".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def extract_completions(outputs: list[RequestOutput]) -> list[tuple[str, str]]:
    """Return a (prompt, generated text) pair for each output, in order: the
    text of its first completion.

    Lesson section: "Reading the output".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def deterministic_params() -> SamplingParams:
    """Return SamplingParams that give the same text on every run: greedy
    decoding (temperature 0), every other field at vLLM's default.

    Lesson section: "Deterministic output".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def creative_params() -> SamplingParams:
    """Return SamplingParams for more varied text: temperature 1.2, top_p 0.95,
    every other field at vLLM's default.

    Lesson section: "Sampling strategies".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def focused_params() -> SamplingParams:
    """Return SamplingParams for more focused text: temperature 0.8, top_p 0.5,
    every other field at vLLM's default.

    Lesson section: "Sampling strategies".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def describe_output(output: RequestOutput) -> dict:
    """Return a dict describing one RequestOutput, with exactly these keys:

    - "prompt": the prompt text
    - "text": the generated text of the first completion
    - "token_ids": the generated token ids of the first completion, as a list
    - "cumulative_logprob": the first completion's cumulative log-probability
      (None unless logprobs were requested)
    - "finish_reason": why the first completion stopped ("stop" or "length")

    Lesson section: "Reading the output".
    """
    # YOUR CODE HERE
    raise NotImplementedError()
