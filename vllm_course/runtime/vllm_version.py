"""The kit is written against one vLLM release (vllm_course/course/versions.py)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


class VllmVersionError(RuntimeError):
    pass


def installed() -> str | None:
    try:
        return version("vllm")
    except PackageNotFoundError:
        return None


def mismatch(found: str | None, pinned: str) -> str | None:
    """A message when `found` is not the pinned release (local tags like +cpu pass)."""
    if found is None:
        return (f"vLLM is not installed in this Python ({_python()}); the course needs "
                f"vLLM {pinned}. Run `make setup`, then use .venv/bin/python "
                "(or `source .venv/bin/activate`).")
    if found.split("+")[0] != pinned:
        return (f"vLLM {found} is installed, but this course is pinned to vLLM {pinned} "
                "(vllm_course/course/versions.py), whose behaviour its lessons and graders "
                f"describe. Run `make setup` to install vLLM {pinned} in .venv.")
    return None


def check(pinned: str | None = None) -> str:
    """Return the installed version, or raise VllmVersionError saying what to do."""
    if pinned is None:
        from vllm_course.course.versions import VLLM as pinned
    found = installed()
    problem = mismatch(found, pinned)
    if problem:
        raise VllmVersionError(problem)
    return found  # type: ignore[return-value]


def _python() -> str:
    import sys

    return sys.executable
