"""The kit refuses a vLLM other than the pinned one, saying what to do."""

import re
from pathlib import Path

import pytest

from vllm_course import vllm_version
from vllm_course.manifest import course

ROOT = Path(__file__).resolve().parent.parent


def test_installed_vllm_is_the_pinned_one():
    assert vllm_version.check() == course().vllm_version


def test_other_version_is_a_clear_error():
    with pytest.raises(vllm_version.VllmVersionError) as e:
        vllm_version.check(pinned="0.31.0")
    msg = str(e.value)
    assert "0.31.0" in msg and vllm_version.installed() in msg and "make setup" in msg


def test_local_build_tags_are_the_same_release():
    assert vllm_version.mismatch("0.32.0+cpu", "0.32.0") is None
    assert "not installed" in vllm_version.mismatch(None, "0.32.0")


def test_build_files_pin_what_course_yaml_says():
    pinned = course().vllm_version
    assert f'"vllm=={pinned}"' in (ROOT / "pyproject.toml").read_text()
    assert re.search(rf"^vllm=={re.escape(pinned)}$", (ROOT / "requirements/cpu.txt").read_text(), re.M)
