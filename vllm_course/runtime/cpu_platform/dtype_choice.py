"""Which dtype decodes fastest on this CPU, by a short measurement.

A decode step multiplies a few token vectors by every weight matrix of the
model, which is far larger than the CPU's caches: its speed is that of
[batch, hidden] x [hidden, 4*hidden] matmuls streaming weights from memory.
That is what is timed, over a stack of such weights too large to stay cached
(as opt-125m's are), for bfloat16, float16 and float32, in a fraction of a
second. The answer is cached per CPU model and torch version
(in the kit's cache folder, next to the offline model), so every
process on the machine, the grader and a student's script alike, makes the
same choice; where the cache cannot be written it is measured again.
VLLM_COURSE_CPU_DTYPE=bfloat16|float16|float32 skips the measurement.
"""

from __future__ import annotations

import json
import os
import platform
import time
from functools import lru_cache
from pathlib import Path

import torch

DTYPE_ENV = "VLLM_COURSE_CPU_DTYPE"
CANDIDATES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}
SHAPE = (4, 768, 3072)  # batch, hidden, 4*hidden: opt-125m's MLP
LAYERS = 24  # 57M weights: 226 MB in float32, more than any CPU cache
ROUNDS = 3
# A half precision must beat float32 by this much to be chosen. Decode-shaped
# matmuls measured 2.3x (bfloat16) on an AVX2 EPYC; on a loaded machine noise
# alone reached 1.16x: float32 (exact, the safe default) wins anything closer.
MARGIN = 1.3
PREFERENCE = ("bfloat16", "float16")  # bfloat16 first: vLLM's own CPU default


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _key() -> str:
    # Not the thread count: a grader's process and the script it runs must agree.
    return f"{_cpu_model()} | torch {torch.__version__}"


def _cache_file() -> Path:
    from vllm_course.course.paths import cache_root

    return cache_root() / "dtype-choice.json"


def measure() -> dict[str, float]:
    """Seconds per decode-shaped matmul, best of a few rounds, by dtype name."""
    batch, hidden, wide = SHAPE
    operands = {}
    for name, dtype in CANDIDATES.items():
        x = torch.full((batch, hidden), 0.01, dtype=dtype)
        weights = torch.full((LAYERS, wide, hidden), 0.01, dtype=dtype)
        torch.nn.functional.linear(x, weights[0])  # warm up (kernel selection)
        operands[name] = (x, weights)
    timings = dict.fromkeys(CANDIDATES, float("inf"))
    for _ in range(ROUNDS):  # interleaved, so that a burst of load hits every dtype
        for name, (x, weights) in operands.items():
            start = time.perf_counter()
            for layer in weights:
                torch.nn.functional.linear(x, layer)
            timings[name] = min(timings[name], (time.perf_counter() - start) / LAYERS)
    return timings


def choose(timings: dict[str, float]) -> str:
    """The first half precision (bfloat16, then float16) that is clearly faster
    than float32; else float32."""
    for half in PREFERENCE:
        if timings[half] * MARGIN < timings["float32"]:
            return half
    return "float32"


@lru_cache(maxsize=1)
def fastest_dtype() -> torch.dtype:
    forced = os.environ.get(DTYPE_ENV, "").strip()
    if forced:
        if forced not in CANDIDATES:
            raise ValueError(f"{DTYPE_ENV}={forced!r}: expected one of {', '.join(CANDIDATES)}")
        return CANDIDATES[forced]
    path, key = _cache_file(), _key()
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if key in cached and cached[key].get("choice") in CANDIDATES:
        return CANDIDATES[cached[key]["choice"]]
    timings = measure()
    cached[key] = {"choice": choose(timings), "seconds": timings}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, indent=2) + "\n")
        tmp.replace(path)
    except OSError:
        pass  # measured again next time
    return CANDIDATES[cached[key]["choice"]]
