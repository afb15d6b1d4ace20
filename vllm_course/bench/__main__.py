"""`make bench`: figures measured side by side in one run, reported as ratios."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

ROUNDS = 3


class Worker:
    def __init__(self, label: str, kind: str, *args: str) -> None:
        env = dict(os.environ, VLLM_CONFIGURE_LOGGING="0", TQDM_DISABLE="1")
        self.kind = label
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vllm_course.bench.workers", kind, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()[-3000:]
            raise SystemExit(f"bench: the {self.kind} worker died:\n{err}")
        return json.loads(line)

    def round(self) -> dict:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def median_rates(workers: list[Worker]) -> dict[str, float]:
    """Tokens per second of each worker: ROUNDS rounds, alternating between the
    workers within each round (same machine load), then the median; closes them."""
    rates: dict[str, list[float]] = {w.kind: [] for w in workers}
    for i in range(ROUNDS):
        for w in workers:
            r = w.round()
            rates[w.kind].append(r["tokens"] / r["seconds"])
        print(f"  round {i + 1}/{ROUNDS} done", flush=True)
    for w in workers:
        w.close()
    return {k: statistics.median(v) for k, v in rates.items()}


def throughput(model: str) -> None:
    print(f"Greedy generation, {len(_prompts())} prompts x 64 new tokens, "
          f"opt-125m-shaped checkpoint ({ROUNDS} alternating rounds, median):", flush=True)
    workers = [
        Worker("vLLM, CPU platform defaults", "vllm", model),
        Worker("vLLM, float32", "vllm", model, "float32"),
        Worker("vLLM, bfloat16", "vllm", model, "bfloat16"),
        Worker("vLLM, float16", "vllm", model, "float16"),
        Worker("transformers generate", "transformers", model),
    ]
    median = median_rates(workers)
    for w in workers:
        print(f"  {w.kind:<30} {median[w.kind]:7.1f} tok/s   "
              f"start-up {w.info['startup']:5.1f} s   dtype {w.info['dtype']}")
    base = median["transformers generate"]
    default = median["vLLM, CPU platform defaults"]
    print(f"vLLM defaults (measured dtype {workers[0].info['dtype']}) vs transformers float32: "
          f"ratio: {default / base:.2f}x (goal: >= 1.50x on an AVX2-only CPU)")
    print(f"vLLM defaults vs vLLM float32: ratio: {default / median['vLLM, float32']:.2f}x "
          "(goal: never below 1.00x)")
    for kind in ("vLLM, float32", "vLLM, bfloat16", "vLLM, float16"):
        print(f"{kind} vs transformers float32: ratio: {median[kind] / base:.2f}x")


def constraint_cost(model: str) -> None:
    print(f"Structured outputs (lesson 6): {4 * len(_prompts())} prompts x 64 greedy tokens, "
          f"free against a regex constraint, opt-125m-shaped checkpoint ({ROUNDS} alternating "
          "rounds, median):", flush=True)
    workers = [Worker("free text", "constrained", model, "none"),
               Worker("regex [a-z ]{1000,}", "constrained", model, "regex")]
    median = median_rates(workers)
    free, regex = (median[w.kind] for w in workers)
    print(f"  free {free:7.1f} tok/s, constrained {regex:7.1f} tok/s: "
          f"constrained / free ratio: {regex / free:.2f}x")


def _prompts():
    from vllm_course.bench.workers import PROMPTS

    return PROMPTS


def main() -> int:
    from vllm_course.models import offline_model

    model = offline_model.ensure_built("opt-125m-shape")
    offline = str(offline_model.ensure_built("tiny"))
    from vllm_course.bench.grading import class_grading_ratio, regrade_ratio

    throughput(str(model))
    constraint_cost(str(model))
    regrade_ratio(offline)
    class_grading_ratio(offline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
