"""Lesson 3 walkthrough: batched versus looped generation, side by side.

Generates the same greedy completions twice, once with one llm.generate call
for all prompts and once with one call per prompt, and prints the tokens per
second of each. Run it from the repository root:

    python lessons/03-batching/throughput.py
    python lessons/03-batching/throughput.py --prompts 32 --max-tokens 64
    python lessons/03-batching/throughput.py --max-num-seqs 1   # no batching

The model comes from the kit (`course model` says which one and why).
"""

import argparse
import itertools
import time

from vllm import LLM, SamplingParams
from vllm.outputs import RequestOutput

from vllm_course.models.model_resolution import resolve

PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Batched versus looped generation.")
    parser.add_argument("--prompts", type=int, default=16, help="number of prompts (default 16)")
    parser.add_argument("--max-tokens", type=int, default=24,
                        help="tokens generated per prompt (default 24)")
    parser.add_argument("--max-num-seqs", type=int, default=None,
                        help="the most requests the engine runs in one step (default: vLLM's)")
    return parser.parse_args(argv)


def generate_batched(llm: LLM, prompts: list[str], params: SamplingParams) -> list[RequestOutput]:
    return llm.generate(prompts, params, use_tqdm=False)


def generate_looped(llm: LLM, prompts: list[str], params: SamplingParams) -> list[RequestOutput]:
    return [llm.generate([prompt], params, use_tqdm=False)[0] for prompt in prompts]


def timed(generate, llm, prompts, params) -> tuple[list[RequestOutput], float]:
    start = time.perf_counter()
    outputs = generate(llm, prompts, params)
    return outputs, time.perf_counter() - start


def count_tokens(outputs: list[RequestOutput]) -> int:
    return sum(len(c.token_ids) for output in outputs for c in output.outputs)


def texts(outputs: list[RequestOutput]) -> list[str]:
    return [output.outputs[0].text for output in outputs]


def main(argv=None) -> None:
    args = parse_args(argv)
    chosen = resolve()
    if chosen.notice:
        print(chosen.notice)
    engine_args = {"model": chosen.model}
    if args.max_num_seqs is not None:
        engine_args["max_num_seqs"] = args.max_num_seqs
    llm = LLM(**engine_args)
    scheduler = llm.llm_engine.vllm_config.scheduler_config

    # Greedy, and no early stop: both runs generate exactly the same tokens.
    params = SamplingParams(temperature=0, max_tokens=args.max_tokens, ignore_eos=True)
    prompts = list(itertools.islice(itertools.cycle(PROMPTS), args.prompts))

    # The first calls pay one-time costs (memory, kernels): keep them out of
    # the measurement.
    generate_batched(llm, prompts, params)

    looped, looped_seconds = timed(generate_looped, llm, prompts, params)
    batched, batched_seconds = timed(generate_batched, llm, prompts, params)

    print(f"\n{len(prompts)} prompts x {args.max_tokens} tokens, greedy; "
          f"max_num_seqs={scheduler.max_num_seqs}, "
          f"max_num_batched_tokens={scheduler.max_num_batched_tokens}")
    print(f"{'mode':8} {'calls':>5} {'tokens':>7} {'seconds':>8} {'tokens/s':>9}")
    for mode, calls, outputs, seconds in (("looped", len(prompts), looped, looped_seconds),
                                          ("batched", 1, batched, batched_seconds)):
        tokens = count_tokens(outputs)
        print(f"{mode:8} {calls:>5} {tokens:>7} {seconds:>8.3f} {tokens / seconds:>9.1f}")
    same = "yes" if texts(batched) == texts(looped) else "no"
    print(f"speedup: {looped_seconds / batched_seconds:.1f}x; same texts: {same}")


if __name__ == "__main__":
    main()
