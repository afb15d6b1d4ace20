"""Lesson 2 walkthrough: text generation from the command line.

Every flag becomes an option of SamplingParams (how to sample) or of LLM (how
to load the model). Run it from the repository root:

    python lessons/02-command-line/generate.py --help
    python lessons/02-command-line/generate.py --temperature 0 "The capital of France is"
    python lessons/02-command-line/generate.py --n 3 --seed 7 --max-tokens 24 "Once upon a time"

--model defaults to the kit's choice (`course model` says which one and why):
facebook/opt-125m when it is available, otherwise the kit's offline stand-in.
"""

import argparse
import sys

from vllm import LLM, SamplingParams
from vllm.exceptions import VLLMValidationError

from vllm_course.models.model_resolution import resolve

DEFAULT_PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


def build_parser() -> argparse.ArgumentParser:
    # ArgumentDefaultsHelpFormatter adds "(default: ...)" to every help string.
    parser = argparse.ArgumentParser(
        description="Generate text with vLLM.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("prompts", nargs="*", default=DEFAULT_PROMPTS,
                        help="the prompts to complete")

    # No range checks here: SamplingParams checks every value itself.
    sampling = parser.add_argument_group("sampling")
    sampling.add_argument("--temperature", type=float, default=0.8,
                          help="0 is greedy; higher is more random")
    sampling.add_argument("--top-p", type=float, default=0.95,
                          help="sample from the smallest set of tokens with this total probability")
    sampling.add_argument("--top-k", type=int, default=0,
                          help="sample from the k most likely tokens (0: all)")
    sampling.add_argument("--min-p", type=float, default=0.0,
                          help="drop tokens less likely than this times the most likely one")
    sampling.add_argument("--max-tokens", type=int, default=16,
                          help="most tokens to generate per completion")
    sampling.add_argument("--min-tokens", type=int, default=0,
                          help="fewest tokens to generate before the end token or a stop token")
    sampling.add_argument("--n", type=int, default=1, help="completions per prompt")
    sampling.add_argument("--seed", type=int, default=None,
                          help="seed of each request's sampling, for repeatable samples")
    # action="append": each --stop adds one string; default None means none.
    sampling.add_argument("--stop", action="append", default=None,
                          help="a string that ends a completion (repeat for several)")
    sampling.add_argument("--stop-token-id", dest="stop_token_ids", type=int,
                          action="append", default=None,
                          help="a token id that ends a completion (repeat for several)")
    sampling.add_argument("--presence-penalty", type=float, default=0.0,
                          help="penalise tokens already generated")
    sampling.add_argument("--frequency-penalty", type=float, default=0.0,
                          help="penalise tokens by how often they were generated")
    sampling.add_argument("--repetition-penalty", type=float, default=1.0,
                          help="penalise tokens seen in the prompt or the output (1: off)")

    # Model options default to None ("not given"), so that vLLM's own
    # defaults (and the kit's CPU defaults) apply unless you ask otherwise.
    model = parser.add_argument_group("model")
    model.add_argument("--model", default=resolve().model,
                       help="Hugging Face id or local folder of the model")
    model.add_argument("--dtype", choices=["auto", "float32", "float16", "bfloat16"],
                       default=None, help="precision of weights and activations")
    model.add_argument("--max-model-len", type=int, default=None,
                       help="longest prompt plus completion, in tokens")
    model.add_argument("--engine-seed", type=int, default=None,
                       help="seed of the engine's random generator, LLM(seed=...)")
    model.add_argument("--enforce-eager", action="store_true",
                       help="no CUDA graphs or compilation")
    model.add_argument("--gpu-memory-utilization", type=float, default=None,
                       help="share of GPU memory (on a CPU, of RAM) that vLLM may use")
    return parser


def sampling_params_from_args(args: argparse.Namespace) -> SamplingParams:
    # One keyword per sampling flag. stop=None and stop_token_ids=None mean
    # "none"; SamplingParams turns them into empty lists.
    return SamplingParams(
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        min_p=args.min_p,
        max_tokens=args.max_tokens,
        min_tokens=args.min_tokens,
        n=args.n,
        seed=args.seed,
        stop=args.stop,
        stop_token_ids=args.stop_token_ids,
        presence_penalty=args.presence_penalty,
        frequency_penalty=args.frequency_penalty,
        repetition_penalty=args.repetition_penalty,
    )


def llm_kwargs_from_args(args: argparse.Namespace) -> dict:
    kwargs = {"model": args.model}
    optional = {
        "dtype": args.dtype,
        "max_model_len": args.max_model_len,
        "seed": args.engine_seed,  # the engine's seed, not the sampling --seed
        "gpu_memory_utilization": args.gpu_memory_utilization,
    }
    # `is not None`, not truthiness: --engine-seed 0 is a seed too.
    kwargs.update({key: value for key, value in optional.items() if value is not None})
    if args.enforce_eager:
        kwargs["enforce_eager"] = True
    return kwargs


def print_completions(outputs) -> None:
    # With --n, each output holds several completions: print them all.
    for output in outputs:
        for completion in output.outputs:
            print(f"Prompt: {output.prompt!r}, Generated text: {completion.text!r}")


def main(argv: list[str] | None = None, llm: LLM | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Check the sampling values before loading the model: a typo costs a
    # second, not a model load, and the user sees vLLM's message, not a traceback.
    try:
        sampling_params = sampling_params_from_args(args)
    except VLLMValidationError as error:
        parser.error(str(error))  # prints the usage and the message; exits with status 2
    if llm is None:
        llm = LLM(**llm_kwargs_from_args(args))
    outputs = llm.generate(args.prompts, sampling_params)
    print_completions(outputs)
    return 0


# Run main() only when this file is executed as a script, not when a process
# that vLLM spawns imports it again (lesson 1, "The __main__ guard").
if __name__ == "__main__":
    sys.exit(main())
