"""Shared fixtures of the kit's own tests: the offline model and one real engine."""

from __future__ import annotations

import pytest

LESSON_PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


@pytest.fixture(scope="session")
def offline_model_path() -> str:
    from vllm_course import offline_model

    path = offline_model.ensure_built("tiny")
    offline_model.verify(path)
    return str(path)


@pytest.fixture(scope="session")
def offline_llm(offline_model_path):
    """One real vLLM engine on the offline model, in float32 so that it can be
    compared token for token with transformers' float32 reference."""
    from vllm import LLM

    return LLM(model=offline_model_path, dtype="float32", seed=0)
