"""Hide vLLM log lines that are true of its compiled CPU build but not of the
reference platform, so that what a student reads on CPU is short and relevant.

Filters sit on the emitting loggers (vLLM re-applies its handler config at
engine start, which would drop handler filters). Set
VLLM_COURSE_SHOW_ALL_LOGS=1 to see everything.
"""

from __future__ import annotations

import logging
import os

# logger -> beginnings of its messages that do not apply here.
NOT_APPLICABLE = {
    # No Triton on the CPU path, by design: with it vLLM changes code path.
    "vllm.platforms.cpu": (
        "Triton is not installed. triton-cpu is expected",
        "Reset SSM cache type to float32",  # SSM models only
    ),
    "vllm.config.vllm": ("Model Runner V2 requires Triton",),
    "torch._library.triton": ("Triton not available",),
    "vllm.model_executor.layers.fused_moe.config": ("Failed to import Triton kernels",),
    "vllm.model_executor.layers.fused_moe.oracle.mxfp4": ("Failed to import Triton kernels",),
    # Advice for the compiled kernels' thread binding and allocators.
    "vllm.v1.worker.cpu_worker": (
        "%s is not found in LD_PRELOAD",
        "CPU backend doesn't allow to use `torch.set_num_threads`",
    ),
    # The dtype fallback for dtype="auto" is reported, with its override, in
    # the platform's own defaults line.
    "vllm.config.model": ("Your device %s doesn't support %s. Falling back",),
    # In-process, the CPU worker has already blocked torch.set_num_threads,
    # so this reduction does not happen: the line would be untrue.
    "vllm.utils.torch_utils": ("Reducing Torch threads from",),
}


class _Drop(logging.Filter):
    def __init__(self, prefixes: tuple[str, ...]) -> None:
        super().__init__()
        self.prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.startswith(self.prefixes))


def install() -> None:
    if os.environ.get("VLLM_COURSE_SHOW_ALL_LOGS", "") == "1":
        return
    for name, prefixes in NOT_APPLICABLE.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _Drop) for f in logger.filters):
            logger.addFilter(_Drop(prefixes))
