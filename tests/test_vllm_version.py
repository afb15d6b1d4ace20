"""The kit refuses a vLLM other than the pinned one, saying what to do."""

from pathlib import Path

import pytest

from vllm_course.runtime import vllm_version
from vllm_course.course.manifest import course

ROOT = Path(__file__).resolve().parent.parent


def test_installed_vllm_is_the_pinned_one():
    from vllm_course.course import versions

    assert vllm_version.check().split("+")[0] == versions.VLLM


def test_other_version_is_a_clear_error():
    with pytest.raises(vllm_version.VllmVersionError) as e:
        vllm_version.check(pinned="0.31.0")
    msg = str(e.value)
    assert "0.31.0" in msg and vllm_version.installed() in msg and "make setup" in msg


def test_local_build_tags_are_the_same_release():
    assert vllm_version.mismatch("0.32.0+cpu", "0.32.0") is None
    assert "not installed" in vllm_version.mismatch(None, "0.32.0")


def test_every_copy_of_a_pinned_version_agrees():
    from vllm_course.authoring.consistency import version_problems

    assert version_problems((ROOT / "pyproject.toml").read_text(),
                            (ROOT / "requirements/cpu.txt").read_text(),
                            course().vllm_version) == []


def test_course_check_catches_a_drifted_copy():
    from vllm_course.course import versions
    from vllm_course.authoring.consistency import version_problems

    pyproject = (ROOT / "pyproject.toml").read_text()
    lock = (ROOT / "requirements/cpu.txt").read_text()
    drifted = pyproject.replace(f"torch=={versions.TORCH}", "torch==2.14.0")
    assert any("pyproject.toml" in p and "torch" in p for p in version_problems(drifted, lock, versions.VLLM))
    stale = lock.replace(f"vllm=={versions.VLLM}", "vllm==0.31.0")
    assert any("requirements/cpu.txt" in p for p in version_problems(pyproject, stale, versions.VLLM))
    assert any("course.yaml" in p for p in version_problems(pyproject, lock, "0.31.0"))


def test_the_plugin_and_the_scripts_read_the_one_pin():
    from vllm_course.course import versions

    assert course().vllm_version == versions.VLLM
    for script in ("scripts/setup.sh", "scripts/lock_cpu_requirements.sh"):
        text = (ROOT / script).read_text()
        assert versions.TORCH not in text and versions.VLLM not in text, script
        assert "vllm_course/course/versions.py" in text, script
