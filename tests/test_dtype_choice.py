"""The CPU platform's `auto` dtype: measured, cached, overridable."""

import json

import pytest
import torch

from vllm_course.runtime.cpu_platform import dtype_choice


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    monkeypatch.setenv("VLLM_COURSE_CACHE", str(tmp_path))
    monkeypatch.delenv(dtype_choice.DTYPE_ENV, raising=False)
    dtype_choice.fastest_dtype.cache_clear()
    yield tmp_path
    dtype_choice.fastest_dtype.cache_clear()  # other tests' engines measure for real


@pytest.mark.parametrize("timings,expected", [
    ({"bfloat16": 1.2, "float16": 1.0, "float32": 2.8}, "bfloat16"),  # an AVX2 EPYC's shape
    ({"bfloat16": 1.0, "float16": 2.2, "float32": 2.0}, "bfloat16"),  # an AMX machine's
    ({"bfloat16": 3.0, "float16": 1.0, "float32": 2.0}, "float16"),
    ({"bfloat16": 4.6, "float16": 4.6, "float32": 5.4}, "float32"),  # within the noise
    ({"bfloat16": 3.0, "float16": 4.0, "float32": 1.0}, "float32"),
])
def test_half_precision_only_when_clearly_faster(timings, expected):
    assert dtype_choice.choose(timings) == expected


def test_measured_once_then_read_from_the_cache(fresh):
    first = dtype_choice.fastest_dtype()
    cache = json.loads((fresh / "dtype-choice.json").read_text())
    [entry] = cache.values()
    assert set(entry["seconds"]) == set(dtype_choice.CANDIDATES)
    assert dtype_choice.CANDIDATES[entry["choice"]] == first
    # What the cache says is what every later process uses.
    other = "float16" if first != torch.float16 else "float32"
    entry["choice"] = other
    (fresh / "dtype-choice.json").write_text(json.dumps(cache))
    dtype_choice.fastest_dtype.cache_clear()
    assert dtype_choice.fastest_dtype() == dtype_choice.CANDIDATES[other]


def test_the_environment_overrides_and_bad_values_are_named(fresh, monkeypatch):
    monkeypatch.setenv(dtype_choice.DTYPE_ENV, "float32")
    assert dtype_choice.fastest_dtype() == torch.float32
    dtype_choice.fastest_dtype.cache_clear()
    monkeypatch.setenv(dtype_choice.DTYPE_ENV, "fp8")
    with pytest.raises(ValueError, match="VLLM_COURSE_CPU_DTYPE='fp8'"):
        dtype_choice.fastest_dtype()
