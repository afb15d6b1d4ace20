"""vLLM platform plugin: the kit's CPU reference platform.

Registered in pyproject.toml under vLLM's entry-point group
`vllm.platform_plugins`; vLLM calls `register()` in every process it starts and
uses the returned class, or stays with its own platforms when it gets None.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

SWITCH_ENV = "VLLM_COURSE_CPU_PLATFORM"  # "1" forces on, "0" forces off
PLATFORM_CLASS = "vllm_course.runtime.cpu_platform.platform.CourseCpuPlatform"

_ON = {"1", "on", "true", "yes", "force"}
_OFF = {"0", "off", "false", "no"}


@dataclass(frozen=True)
class Decision:
    active: bool
    reason: str


def decide(
    env: Mapping[str, str],
    accelerator: Callable[[], str | None],
    vllm_version: str,
) -> Decision:
    """Whether the CPU reference platform should run, and why.

    `accelerator` returns the name of a device vLLM's own plugins detect (or
    None); it is only called when the switch is on auto.
    """
    switch = env.get(SWITCH_ENV, "").strip().lower()
    if switch in _OFF:
        return Decision(False, f"{SWITCH_ENV}={env[SWITCH_ENV]}")
    if switch in _ON:
        return Decision(True, f"{SWITCH_ENV}={env[SWITCH_ENV]}")
    if switch:
        raise ValueError(
            f"{SWITCH_ENV}={env[SWITCH_ENV]!r} is not understood: "
            "use 1 to force the CPU reference platform on, 0 to force it off, "
            "or leave it unset to decide automatically."
        )
    if "cpu" in vllm_version:
        return Decision(False, f"vLLM {vllm_version} is a CPU build with its own kernels")
    found = accelerator()
    if found:
        return Decision(False, f"vLLM detected a {found} device")
    return Decision(True, "no GPU or other accelerator for vLLM on this machine")


def _vllm_accelerator() -> str | None:
    """Ask vLLM's own built-in detectors (all but CPU) for a device."""
    from vllm_course.runtime.vllm_internals import accelerator_detectors

    for name, detect in accelerator_detectors().items():
        if name == "cpu":
            continue
        try:
            if detect():
                return name
        except Exception:  # a detector that breaks has found nothing usable
            continue
    return None


def _vllm_version() -> str:
    from importlib.metadata import version

    return version("vllm")


def register() -> str | None:
    found = _vllm_version()
    decision = decide(os.environ, _vllm_accelerator, found)
    if not decision.active:
        return None
    # The pin lives in the package, not in the checkout's course.yaml: a
    # non-editable install has no checkout, and vLLM swallows errors raised here.
    from vllm_course.course import versions
    from vllm_course.runtime import vllm_version

    problem = vllm_version.mismatch(found, versions.VLLM)
    if problem:
        # The reference ops mirror one release's op signatures: refuse others.
        # vLLM swallows exceptions raised here, so say it loudly instead.
        from vllm.logger import init_logger

        init_logger("vllm.vllm_course").error("CPU reference platform is off: %s", problem)
        return None
    return PLATFORM_CLASS
