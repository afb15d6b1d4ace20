"""Grading inside a Jupyter kernel (nbgrader test cells).

A generated test cell runs `check("lesson01", "generate", globals())`: the
same grader functions as `pytest exercises/lesson01`, on the functions the
student defined in the notebook. nbgrader gives a cell zero for any output on
stderr, so vLLM's logs and progress bars (Python- and C-level) are diverted
while a check runs; the cell prints only the outcome.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import sys
import tempfile

from vllm_course.grading import feedback, registry
from vllm_course.grading.kit import Kit
from vllm_course.course.limits import DEFAULT as LIMITS
from vllm_course.grading.student import Student
from vllm_course.course.manifest import course

_kits: dict[str, Kit] = {}  # one per lesson per kernel: the model loads once


class CheckFailed(AssertionError):
    pass


@contextlib.contextmanager
def _quiet():
    """Send everything written to stdout/stderr, at fd level too, to a file."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile(mode="w+b") as sink:
        saved = os.dup(1), os.dup(2)
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def _kit(lesson, namespace: dict) -> Kit:
    kit = _kits.get(lesson.id)
    student = Student(namespace, source=None)
    if kit is None:
        from vllm_course.models.model_resolution import resolve

        main, *others = [resolve(m).model for m in course().models_of(lesson)]
        kit = Kit(student, main, lesson, dict(zip(lesson.also, others)))
        _kits[lesson.id] = kit
        atexit.register(kit.close)  # the kernel's server goes with the kernel
    kit.student = student  # the latest definitions of the student's functions
    return kit


def check(lesson_id: str, function: str, namespace: dict, hidden: bool = False) -> None:
    """Run the exercise's grader checks on the notebook's functions."""
    from vllm_course.grading.plugin import time_limit

    lesson = course().lesson(lesson_id)
    selected = registry.checks_for(lesson, function, hidden)
    if not selected:
        raise CheckFailed(f"no {'hidden ' if hidden else ''}checks for {lesson_id}.{function}")
    problem = None
    with _quiet():
        kit = _kit(lesson, namespace)
        try:
            if kit.serves:  # its start-up is no check's time
                kit.server_url()
        except Exception as e:  # noqa: BLE001 - reported as feedback below
            problem = feedback.render(lesson, function, e)
            selected = []
        for c in selected:
            try:
                with time_limit(LIMITS.check_seconds, function):
                    c.run(student=kit.student, kit=kit)
            except Exception as e:  # noqa: BLE001 - reported as feedback below
                problem = feedback.render(lesson, function, e)
                break
    if problem is not None:
        print(problem)
        raise CheckFailed(problem.splitlines()[0]) from None
    print(f"{function}: {'hidden checks' if hidden else 'all checks'} passed")
