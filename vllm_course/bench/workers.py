"""Benchmark workers: each runs in its own process, loads its engine once, then
answers "go" lines on stdin with one timed run, as a JSON line on stdout.

The parent alternates rounds between workers, so both are measured side by
side under the same machine load (these machines are noisy).
"""

from __future__ import annotations

import json
import sys
import time

PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]
NEW_TOKENS = 64


def _serve(run, info: dict) -> None:
    print(json.dumps(info), flush=True)
    for line in sys.stdin:
        if line.strip() != "go":
            break
        start = time.perf_counter()
        tokens = run()
        print(json.dumps({"seconds": time.perf_counter() - start, "tokens": tokens}), flush=True)


def vllm_worker(model: str, dtype: str = "auto") -> None:
    start = time.perf_counter()
    from vllm import LLM, SamplingParams

    llm = LLM(model=model, dtype=dtype)
    startup = time.perf_counter() - start
    params = SamplingParams(temperature=0, max_tokens=NEW_TOKENS, ignore_eos=True)

    def run() -> int:
        outs = llm.generate(PROMPTS, params, use_tqdm=False)
        return sum(len(o.outputs[0].token_ids) for o in outs)

    run()  # warm-up
    dtype = str(llm.llm_engine.vllm_config.model_config.dtype).removeprefix("torch.")
    _serve(run, {"startup": startup, "dtype": dtype})


# Lowercase letters and spaces, at least 1000 of them: more than NEW_TOKENS tokens
# can write, so the end token stays masked and both runs make NEW_TOKENS tokens.
LETTERS = r"[a-z ]{1000,}"


def constrained_worker(model: str, constraint: str) -> None:
    """Greedy generation with (constraint "regex") or without ("none") a
    structured-output constraint, on an engine configured as lesson 6's."""
    start = time.perf_counter()
    from vllm import LLM, SamplingParams
    from vllm.sampling_params import StructuredOutputsParams

    llm = LLM(model=model, structured_outputs_config={"backend": "xgrammar"})
    startup = time.perf_counter() - start

    def run() -> int:
        # A fresh constraint each run: vLLM rewrites the one a request carries.
        structured = StructuredOutputsParams(regex=LETTERS) if constraint == "regex" else None
        params = SamplingParams(temperature=0, max_tokens=NEW_TOKENS, ignore_eos=True,
                                structured_outputs=structured)
        outs = llm.generate(PROMPTS * 4, params, use_tqdm=False)
        return sum(len(o.outputs[0].token_ids) for o in outs)

    run()  # warm-up: compiles the grammar once
    _serve(run, {"startup": startup, "dtype": str(llm.llm_engine.vllm_config.model_config.dtype)})


def transformers_worker(model: str) -> None:
    start = time.perf_counter()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model, padding_side="left")
    net = AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32).eval()
    startup = time.perf_counter() - start
    batch = tok(PROMPTS, return_tensors="pt", padding=True)

    def run() -> int:
        with torch.no_grad():
            out = net.generate(**batch, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
                               do_sample=False, pad_token_id=tok.pad_token_id)
        return (out.shape[1] - batch.input_ids.shape[1]) * len(PROMPTS)

    run()  # warm-up
    _serve(run, {"startup": startup, "dtype": "float32"})


if __name__ == "__main__":
    {"vllm": vllm_worker, "transformers": transformers_worker,
     "constrained": constrained_worker}[sys.argv[1]](*sys.argv[2:])
