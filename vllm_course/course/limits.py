"""The limits put on a submission while it is graded, each declared once with
its default and why.

`pytest exercises/lessonNN` (`--time-limit`), notebooks (the check's alarm),
the generated nbgrader config (cell timeout) and the warm grader (`course
grade`, `course watch`) all read their numbers from here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields

GIB = 1024 ** 3
MIB = 1024 ** 2


@dataclass(frozen=True)
class Limits:
    check_seconds: float = field(default=120.0, metadata={"doc": (
        "Wall-clock time for one grader check. The first check of a run also loads the model (seconds for the offline model, up to a minute for the real opt-125m on a slow CPU), and lesson 2 starts a script: 120 s covers both with room, and a student's endless loop is still stopped within 2 minutes.")})

    submission_seconds: float = field(default=900.0, metadata={"doc": (
        'Wall-clock time for all checks of one submission, restarts included.')})

    memory_bytes: int = field(default=6 * GIB, metadata={"doc": (
        "Resident memory of the submission's processes. The engine on the offline model takes about 2.5 GiB (1 GiB of it KV cache); the real opt-125m adds little. Two graded at once then fit a 16 GiB machine.")})

    output_bytes: int = field(default=1 * MIB, metadata={"doc": (
        'What the submission may print (stdout and stderr together); the excess is dropped with a note.')})

    tmp_bytes: int = field(default=256 * MIB, metadata={"doc": (
        'The size of a sandboxed submission\'s own working directory (also its HOME and TMPDIR).')})

    server_start_seconds: float = field(default=240.0, metadata={"doc": (
        "Wall-clock time for `vllm serve` to answer /health (vllm_course/runtime/serving.py). Seen: 38 s for the offline model on a busy 2-core machine, most of it imports; 240 s leaves room for the real opt-125m on a slow CPU, and a server that cannot start still fails within 4 minutes, with its last log lines.")})

    @property
    def notebook_cell_seconds(self) -> float:
        """nbgrader's per-cell timeout. A test cell runs every check of one
        exercise (visible and hidden), each under check_seconds, plus the
        kernel's own start: the cell limit must not cut a check short."""
        return 4 * self.check_seconds

    def describe(self) -> list[str]:
        return [f"{f.name} = {getattr(self, f.name)}: {f.metadata['doc']}"
                for f in fields(self)]


CHECK_SECONDS_ENV = "VLLM_COURSE_CHECK_SECONDS"  # overrides check_seconds everywhere


def _from_environment() -> Limits:
    value = os.environ.get(CHECK_SECONDS_ENV, "").strip()
    if not value:
        return Limits()
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        raise ValueError(f"{CHECK_SECONDS_ENV}={value!r}: expected a positive number of seconds "
                         "per grader check; unset it for the default")
    return Limits(check_seconds=seconds)


DEFAULT = _from_environment()


def default_jobs(limits: Limits = DEFAULT) -> int:
    """How many submissions fit at once: one per core, as memory allows."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        pages = limits.memory_bytes
    return max(1, min(cores, pages // limits.memory_bytes))
