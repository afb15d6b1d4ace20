"""Lesson 10 walkthrough: beam search, then what the prefix cache saves.

Runs beam search for a prompt, then sends a batch of questions that share a
long system prompt and reports the engine's prefix-cache counters and the
KV cache's size. Run it from the repository root:

    python lessons/10-beyond-one-prompt/cache_report.py "The capital of France is" --beams 3

The model comes from the kit (`course model` says which one and why).
"""

import argparse

from vllm import LLM, SamplingParams
from vllm.sampling_params import BeamSearchParams

from vllm_course.course.manifest import course
from vllm_course.models.model_resolution import resolve

SYSTEM = "You are a careful assistant. Answer in one short sentence, and say so when unsure. " * 16
QUESTIONS = ["What is a KV cache?", "Why batch prompts?", "What is a token?", "Why sample?"]
COUNTERS = ("vllm:prefix_cache_queries", "vllm:prefix_cache_hits")


def counters(llm: LLM) -> tuple[int, int]:
    values = {m.name: m.value for m in llm.get_metrics() if m.name in COUNTERS}
    return int(values[COUNTERS[0]]), int(values[COUNTERS[1]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("prompt", nargs="?", default="The capital of France is")
    parser.add_argument("--beams", type=int, default=3, help="beam width")
    parser.add_argument("--max-tokens", type=int, default=8)
    args = parser.parse_args()

    chosen = resolve(course().models_of(course().lesson("lesson10"))[0])
    if chosen.notice:
        print(chosen.notice)
    llm = LLM(model=chosen.model, enable_prefix_caching=True, disable_log_stats=False,
              max_model_len=512)

    [output] = llm.beam_search([{"prompt": args.prompt}],
                               BeamSearchParams(beam_width=args.beams, max_tokens=args.max_tokens))
    print(f"beam search, {args.beams} beams:")
    for sequence in output.sequences:
        print(f"  {sequence.cum_logprob:8.3f}  {sequence.text!r}")

    before = counters(llm)
    llm.generate([SYSTEM + q for q in QUESTIONS], SamplingParams(temperature=0, max_tokens=4),
                 use_tqdm=False)
    queries, hits = (a - b for a, b in zip(counters(llm), before))
    print(f"\n{len(QUESTIONS)} questions after one system prompt: {hits} of {queries} prompt "
          f"tokens came from the prefix cache")

    cache = llm.llm_engine.vllm_config.cache_config
    print(f"KV cache: {cache.num_gpu_blocks} blocks of {cache.block_size} tokens; "
          f"max_model_len {llm.model_config.max_model_len}")


if __name__ == "__main__":
    main()
