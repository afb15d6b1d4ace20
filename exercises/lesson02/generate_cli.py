"""Lesson 2 exercises: text generation from the command line.

Fill in each function below. The lesson (lessons/02-command-line/README.md)
covers everything you need; each docstring names the section to read.
Grade your work with:  pytest exercises/lesson02

Once it works, this file is a real program:

    python generate_cli.py --temperature 0 "The capital of France is"
"""

import argparse
import sys

from vllm import LLM, SamplingParams
from vllm.exceptions import VLLMValidationError
from vllm.outputs import RequestOutput

DEFAULT_MODEL = "facebook/opt-125m"

# vLLM's quickstart prompts: used when no prompt is given on the command line.
DEFAULT_PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


def print_completions(outputs: list[RequestOutput]) -> None:
    """Print one line per completion: every completion of every output, in order."""
    for output in outputs:
        for completion in output.outputs:
            print(f"Prompt: {output.prompt!r}, Generated text: {completion.text!r}")


def build_parser() -> argparse.ArgumentParser:
    """Return the program's argument parser.

    Use formatter_class=argparse.ArgumentDefaultsHelpFormatter and give every
    argument a help string, so that --help shows each default. No range checks
    here: vLLM checks the values (see main). The arguments, with the attribute
    each one sets on the parsed namespace:

    - prompts: positional, nargs="*", default DEFAULT_PROMPTS.
    Sampling flags:
    - --temperature (float, default 0.8), --top-p (float, 0.95),
      --top-k (int, 0), --min-p (float, 0.0);
    - --max-tokens (int, 16), --min-tokens (int, 0), --n (int, 1);
    - --seed (int, default None): the seed of each request's sampling;
    - --stop (str, action="append": repeat it for several stop strings;
      default None);
    - --stop-token-id (int, action="append", dest="stop_token_ids";
      default None);
    - --presence-penalty (float, 0.0), --frequency-penalty (float, 0.0),
      --repetition-penalty (float, 1.0).
    Model flags:
    - --model (default DEFAULT_MODEL);
    - --dtype (choices "auto", "float32", "float16", "bfloat16"; default None);
    - --max-model-len (int, default None);
    - --engine-seed (int, default None): the seed of the engine, LLM(seed=...);
    - --enforce-eager (action="store_true");
    - --gpu-memory-utilization (float, default None).

    Lesson section: "Parsing flags with argparse".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def sampling_params_from_args(args: argparse.Namespace) -> SamplingParams:
    """Return the SamplingParams that the sampling flags in `args` ask for:
    temperature, top_p, top_k, min_p, max_tokens, min_tokens, n, seed, stop,
    stop_token_ids, presence_penalty, frequency_penalty and
    repetition_penalty, each from the attribute of the same name. `stop` and
    `stop_token_ids` may be None (the flag was not given): then there are none.
    Let SamplingParams check the values (it raises VLLMValidationError).

    Lesson section: "From flags to SamplingParams".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def llm_kwargs_from_args(args: argparse.Namespace) -> dict:
    """Return the keyword arguments for LLM(...) that the model flags in
    `args` ask for: always "model" (args.model); then, only when the flag was
    given, "dtype" (args.dtype), "max_model_len" (args.max_model_len), "seed"
    (args.engine_seed, not the sampling seed args.seed), "enforce_eager"
    (True, when args.enforce_eager is set) and "gpu_memory_utilization"
    (args.gpu_memory_utilization). A flag that was not given is None (False
    for enforce_eager): leave its key out, so that vLLM's defaults apply.

    Lesson section: "Model options".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


def main(argv: list[str] | None = None, llm: LLM | None = None) -> int:
    """Run the program with the command-line arguments `argv` (None: the
    real ones, sys.argv[1:]) and return its exit status, 0.

    1. Parse `argv` with build_parser().
    2. Build the SamplingParams (sampling_params_from_args) BEFORE loading any
       model. If vLLM rejects a value (VLLMValidationError), call
       parser.error(str(error)): argparse prints the usage and
       "error: <vLLM's message>" to stderr and exits with status 2.
    3. Use `llm` if one is given (tests and notebooks pass theirs), else
       create LLM(**llm_kwargs_from_args(args)).
    4. Generate a completion for every prompt, print them with
       print_completions, and return 0.

    Lesson section: "The whole program".
    """
    # YOUR CODE HERE
    raise NotImplementedError()


if __name__ == "__main__":
    sys.exit(main())
