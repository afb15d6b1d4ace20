"""The CPU reference platform stays out of the way where it must."""

import os
import subprocess
import sys

import pytest

from vllm_course.runtime.cpu_platform import PLATFORM_CLASS, SWITCH_ENV, decide

no_device = lambda: None  # noqa: E731
cuda = lambda: "cuda"  # noqa: E731 - what vLLM's CUDA detector reports on a GPU machine


def test_active_on_a_cpu_only_machine_with_the_cuda_wheel():
    d = decide({}, no_device, "0.32.0")
    assert d.active and "no GPU" in d.reason


def test_inactive_where_vllm_finds_a_cuda_device():
    d = decide({}, cuda, "0.32.0")
    assert not d.active and "cuda" in d.reason


def test_inactive_with_a_cpu_build_of_vllm():
    called = []
    d = decide({}, lambda: called.append(1), "0.32.0+cpu")
    assert not d.active and "CPU build" in d.reason
    assert not called  # no device probing needed


@pytest.mark.parametrize("value", ["0", "off", "false"])
def test_forced_off(value):
    assert not decide({SWITCH_ENV: value}, no_device, "0.32.0").active


@pytest.mark.parametrize("value", ["1", "on"])
def test_forced_on_even_with_cuda(value):
    assert decide({SWITCH_ENV: value}, cuda, "0.32.0").active


def test_unknown_switch_value_is_a_clear_error():
    with pytest.raises(ValueError, match=f"{SWITCH_ENV}='maybe'.*use 1.*0"):
        decide({SWITCH_ENV: "maybe"}, no_device, "0.32.0")


def test_register_on_this_machine(course_platform_active):
    # Without a GPU the entry point vLLM calls must activate; with one it stays out.
    env = {k: v for k, v in os.environ.items() if k != SWITCH_ENV}
    code = "from vllm_course.runtime.cpu_platform import register; print(register())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    expected = PLATFORM_CLASS if course_platform_active else "None"
    assert out.stdout.strip() == expected, out.stderr[-2000:]


def test_forced_off_leaves_vllm_to_itself(course_platform_active):
    # With the plugin off on a machine without a GPU, stock vLLM 0.32.0 finds
    # no platform: exactly the failure the kit exists to prevent. On a GPU
    # machine vLLM finds its own platform.
    env = dict(os.environ, **{SWITCH_ENV: "0"})
    code = (
        "from vllm.platforms import current_platform as p\n"
        "print(type(p).__module__ + '.' + type(p).__name__)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("UnspecifiedPlatform") == course_platform_active, out.stdout
    assert "vllm_course" not in out.stdout


def test_plugin_is_registered_in_vllms_entry_point_group():
    from importlib.metadata import entry_points

    values = [ep.value for ep in entry_points(group="vllm.platform_plugins")]
    assert "vllm_course.runtime.cpu_platform:register" in values
