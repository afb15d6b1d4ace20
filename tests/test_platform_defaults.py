"""Defaults change only what the user left alone (real vLLM configs, no engine)."""

import pytest
import torch
from vllm.config import CompilationMode
from vllm.engine.arg_utils import EngineArgs

from vllm_course.runtime.cpu_platform.defaults import COMPILE_ENV, fast_cpu_dtypes


def config(path, **kwargs):
    return EngineArgs(model=path, **kwargs).create_engine_config()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in ("VLLM_CPU_KVCACHE_SPACE", COMPILE_ENV):
        monkeypatch.delenv(var, raising=False)


def test_plain_defaults(offline_model_path, course_platform_active):
    c = config(offline_model_path)
    if course_platform_active:
        assert c.compilation_config.mode == CompilationMode.NONE
        assert c.cache_config.kv_cache_memory_bytes == 1024**3
    else:  # a GPU machine: the platform is not there, vLLM's own defaults hold
        assert c.compilation_config.mode != CompilationMode.NONE
        assert c.cache_config.kv_cache_memory_bytes is None


def test_user_choices_are_kept(offline_model_path):
    c = config(offline_model_path, kv_cache_memory_bytes=123 * 1024**2, dtype="float16",
               compilation_config={"mode": CompilationMode.DYNAMO_TRACE_ONCE})
    assert c.cache_config.kv_cache_memory_bytes == 123 * 1024**2
    assert c.model_config.dtype == torch.float16
    assert c.compilation_config.mode == CompilationMode.DYNAMO_TRACE_ONCE


def test_gpu_memory_utilization_choice_is_kept(offline_model_path):
    c = config(offline_model_path, gpu_memory_utilization=0.05)
    assert c.cache_config.kv_cache_memory_bytes is None  # vLLM's own sizing applies


def test_env_overrides(offline_model_path, monkeypatch, course_platform_active):
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "2")
    monkeypatch.setenv(COMPILE_ENV, "1")
    c = config(offline_model_path)
    assert c.compilation_config.mode != CompilationMode.NONE
    if course_platform_active:
        assert c.cache_config.kv_cache_memory_bytes == 2 * 1024**3  # vLLM's own knob
    else:  # a GPU machine: VLLM_CPU_KVCACHE_SPACE is the CPU backend's, and ignored
        assert c.cache_config.kv_cache_memory_bytes is None


def test_auto_dtype_is_fast_on_this_cpu(offline_model_path, course_platform_active):
    c = config(offline_model_path)
    if not course_platform_active:  # a GPU machine: the checkpoint's half precision
        assert c.model_config.dtype in (torch.float16, torch.bfloat16)
        return
    assert c.model_config.dtype == fast_cpu_dtypes()[0]  # the measured choice
    assert fast_cpu_dtypes()[-1] == torch.float32
