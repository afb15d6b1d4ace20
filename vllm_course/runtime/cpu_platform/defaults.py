"""Defaults the CPU reference platform changes, so plain student code just works.

Each default applies only when the user left the setting alone, and all of
them are reported together in one log line that says how to override each.
"""

from __future__ import annotations

import os

import torch

COMPILE_ENV = "VLLM_COURSE_CPU_COMPILE"  # "1": keep vLLM's torch.compile default
KV_CACHE_DEFAULT_GIB = 1

_logged: set[str] = set()


def fast_cpu_dtypes() -> list[torch.dtype]:
    """The dtype `auto` takes on this CPU first, then float32 (vLLM picks the
    first for dtype="auto", and keeps a checkpoint's own dtype only if listed).

    Chosen by measurement (dtype_choice.py), not by CPU flags: decoding is
    bound by memory bandwidth, so half precision can win even where its
    arithmetic is emulated (an AVX2-only EPYC: float16 1.86x transformers'
    float32, bfloat16 1.69x, float32 0.97x), and lose where it is not (an AMX
    machine: bfloat16 1.26x, float16 0.93x).
    """
    from vllm_course.runtime.cpu_platform.dtype_choice import fastest_dtype

    best = fastest_dtype()
    return [best] if best == torch.float32 else [best, torch.float32]


def apply_defaults(vllm_config) -> list[str]:
    """Adjust vllm_config in place; return (and log once) what was changed."""
    from vllm.config import CompilationMode

    from vllm_course.runtime.vllm_internals import stock_gpu_memory_utilization

    changes: list[str] = []

    compilation = vllm_config.compilation_config
    if compilation.mode is None and os.environ.get(COMPILE_ENV, "") != "1":
        # Inductor costs 45-80 s of start-up on CPU for a small model.
        compilation.mode = CompilationMode.NONE
        changes.append(f"eager execution, no torch.compile ({COMPILE_ENV}=1 to compile)")

    cache = vllm_config.cache_config
    if (
        cache.kv_cache_memory_bytes is None
        and not os.environ.get("VLLM_CPU_KVCACHE_SPACE")
        and cache.gpu_memory_utilization == stock_gpu_memory_utilization()
    ):
        # On CPU, gpu_memory_utilization is the share of all RAM taken for the
        # KV cache: 92% fails (or starves the machine) anywhere RAM is shared.
        cache.kv_cache_memory_bytes = KV_CACHE_DEFAULT_GIB * 1024**3
        changes.append(
            f"KV cache {KV_CACHE_DEFAULT_GIB} GiB, not 92% of RAM "
            "(VLLM_CPU_KVCACHE_SPACE=<GiB> or kv_cache_memory_bytes= to change)"
        )

    model = vllm_config.model_config
    if model is not None:
        checkpoint_dtype = getattr(model.hf_config, "dtype", None) or getattr(
            model.hf_config, "torch_dtype", None
        )
        if (
            model.dtype != checkpoint_dtype
            and checkpoint_dtype is not None
            and checkpoint_dtype not in fast_cpu_dtypes()
        ):
            chosen = str(model.dtype).removeprefix("torch.")
            name = str(checkpoint_dtype).removeprefix("torch.")
            changes.append(
                f"dtype {chosen}, not the checkpoint's {name}, which is slower on this CPU "
                f'(dtype="{name}" to keep it)'
            )

    if "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ:
        # In-process engine: no spawn (so no __main__ guard needed), faster
        # start, deterministic scheduling.
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        # `vllm serve` runs its engine in a process of its own whatever this says.
        changes.append("LLM's engine in this process (VLLM_ENABLE_V1_MULTIPROCESSING=1 for its own)")

    if changes:
        line = "vllm_course CPU platform defaults: " + "; ".join(changes) + "."
        if line not in _logged:
            _logged.add(line)
            from vllm.logger import init_logger

            init_logger("vllm.vllm_course").info(line)
    return changes
