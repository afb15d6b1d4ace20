"""What a student reads when a check fails: short, specific, actionable."""

from __future__ import annotations

import traceback
from pathlib import Path

from vllm_course.course.manifest import Lesson
from vllm_course.course.paths import WORKDIR_PREFIX


class GradingFailure(AssertionError):
    """A check failed; the message says what was expected and what came back."""


class NotImplementedYet(GradingFailure):
    pass


class MissingFunction(GradingFailure):
    pass


class SubmissionBroken(GradingFailure):
    """The submission file could not be imported at all."""


class StudentCodeError(GradingFailure):
    """The student's function raised; the message carries a short traceback,
    and `raised` the exception's type (a check that asks for an error reads it)."""

    raised: type = Exception


class GradingTimeout(GradingFailure):
    pass


class Tampering(GradingFailure):
    """The submission changed what grades it."""


class ProcessDied(GradingFailure):
    """The process running the check ended or was stopped on a limit."""


class KitError(Exception):
    """The kit could not establish what a check needs on this engine (a
    premise about what the model does failed: premises.py). Not a
    GradingFailure: the exercise is neither passed nor failed, but not graded."""


def timeout_message(seconds: float, function: str) -> str:
    return (f"stopped after {seconds:g} s: the check of {function}() did not finish. "
            "Look for a loop that never ends or a very large max_tokens "
            "(--time-limit changes the limit).")


def expect(condition: bool, message: str) -> None:
    """Fail the check with `message` unless `condition` holds."""
    if not condition:
        raise GradingFailure(message)


def short_repr(value, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_type(value) -> str:
    return f"{type(value).__name__} {short_repr(value, 60)}"


def student_traceback(exc: BaseException, student_file: Path | None) -> str:
    """The frames of `exc` that are in the student's file, newest last."""
    frames = traceback.extract_tb(exc.__traceback__)
    if student_file is not None:
        mine = [f for f in frames if Path(f.filename).resolve() == student_file.resolve()]
        if student_file.parent.name.startswith(WORKDIR_PREFIX):
            # A grader's copy in a throwaway folder: its file name is what the
            # student knows, and the feedback reads the same in every run.
            mine = [traceback.FrameSummary(student_file.name, f.lineno, f.name, line=f.line)
                    for f in mine]
        frames = traceback.StackSummary.from_list(mine or frames[-1:])
    lines = "".join(traceback.format_list(frames[-4:])).rstrip()
    return f"{lines}\n{type(exc).__name__}: {exc}"


def anchor(heading: str) -> str:
    """The fragment GitHub (and most Markdown viewers) give a heading: lower
    case, spaces to hyphens, punctuation other than - and _ dropped."""
    return "".join(c for c in heading.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def section_link(lesson: Lesson, section: str) -> str:
    return f"{lesson.readme_link}#{anchor(section)}"


def render(lesson: Lesson, function: str, exc: BaseException) -> str:
    """The feedback for one failed exercise, the same in pytest and nbgrader."""
    exercise = lesson.exercise(function)
    if isinstance(exc, NotImplementedYet):
        head = f"{function}: not implemented yet."
    elif isinstance(exc, GradingFailure):
        head = f"{function}: {exc}"
    elif isinstance(exc, KitError):
        head = (f"{function}: kit error, not graded (not your code's fault): {exc}. "
                "Tell your instructor; the same command grades it once the kit is fixed.")
    elif isinstance(exc, SystemExit):  # left alone by Student: argparse exits on purpose
        head = (f"{function}: your code called sys.exit({exc.code!r}) during the check, which "
                "ends the program instead of returning: return a value instead")
    else:  # a bug in a check or in the kit, not the student's fault: say so
        head = (f"{function}: the grader itself failed ({type(exc).__name__}: {exc}). "
                "This is a bug in the course kit; please report it.")
    return (f"{head}\n"
            f"  Hint: {exercise.hint}\n"
            f"  Reread: {section_link(lesson, exercise.section)} "
            f"(section \"{exercise.section}\")")
