"""The one door to vLLM's and torch's private or undocumented parts.

The kit needs a few facts that no public API of vLLM 0.32.0 (or torch 2.13.0)
gives. Each is read here and nowhere else, so that an upgrade breaks one file,
and tests/test_vllm_internals.py fails loudly, naming the accessor, when an
upgrade moves one of them.
"""

from __future__ import annotations


def submitted_requests(llm) -> int:
    """How many requests this `LLM` has ever submitted (`LLM.request_counter`)."""
    return llm.request_counter.counter


def unfinished_requests(llm) -> int:
    """How many requests the engine holds unfinished right now."""
    return llm.llm_engine.get_num_unfinished_requests()


def loaded_model(llm) -> str:
    """The model name or folder this `LLM` was created with."""
    return llm.llm_engine.model_config.model


def model_config(llm):
    """The engine's ModelConfig: its runner, pooler config and hidden size."""
    return llm.llm_engine.model_config


def context_length(llm) -> int:
    """The longest prompt plus completion this `LLM` takes, in tokens (max_model_len)."""
    return llm.llm_engine.model_config.max_model_len


def accelerator_detectors() -> dict:
    """vLLM's own platform detectors by name (vllm.platforms.builtin_platform_plugins)."""
    from vllm.platforms import builtin_platform_plugins

    return dict(builtin_platform_plugins)


def stock_gpu_memory_utilization() -> float:
    """vLLM's default for `gpu_memory_utilization`, read from its config class
    (a pydantic dataclass) rather than copied."""
    from vllm.config.cache import CacheConfig

    return CacheConfig.__pydantic_fields__["gpu_memory_utilization"].default
