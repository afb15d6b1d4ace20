"""A student's progress: which exercises their own code passed, per lesson.

Saved by every grading of the student's own exercise files (`pytest
exercises/lessonNN` without --target, and `course watch`), never by grading
the solutions or another file. One small JSON file in the checkout, ignored
by git (VLLM_COURSE_PROGRESS moves it). A corrupt or old file is reported
once and rebuilt by the next grading, never a traceback.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from vllm_course.course.manifest import REPO_ROOT, Lesson

PROGRESS_ENV = "VLLM_COURSE_PROGRESS"
FORMAT = 1
PASSED, FAILED = "passed", "failed"


def path() -> Path:
    return Path(os.environ.get(PROGRESS_ENV) or REPO_ROOT / ".course-progress.json")


@dataclass
class Progress:
    lessons: dict[str, dict] = field(default_factory=dict)  # id -> {graded_at, exercises}
    problem: str | None = None  # why the file on disk was not used

    def status(self, lesson_id: str, function: str) -> str | None:
        return self.lessons.get(lesson_id, {}).get("exercises", {}).get(function)

    def passed(self, lesson: Lesson, function: str) -> bool:
        return self.status(lesson.id, function) == PASSED

    def graded_at(self, lesson_id: str) -> float | None:
        return self.lessons.get(lesson_id, {}).get("graded_at")


def load() -> Progress:
    where = path()
    try:
        data = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Progress()
    except (OSError, ValueError) as e:
        return Progress(problem=f"{where} could not be read ({e}); it is rebuilt by your next grading")
    if not isinstance(data, dict) or data.get("format") != FORMAT or \
            not isinstance(data.get("lessons"), dict):
        return Progress(problem=f"{where} is from another version of the kit; it is rebuilt by "
                                "your next grading")
    return Progress(lessons=data["lessons"])


def record(lesson: Lesson, statuses: dict[str, str]) -> None:
    """Save a grading of `lesson`: function -> "passed" / "failed" for each
    exercise that ran (the others keep what they had)."""
    progress = load()
    entry = progress.lessons.setdefault(lesson.id, {"exercises": {}})
    entry["exercises"].update({f: s for f, s in statuses.items() if s in (PASSED, FAILED)})
    entry["graded_at"] = time.time()
    where = path()
    try:
        tmp = where.with_name(where.name + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"format": FORMAT, "lessons": progress.lessons}, indent=2) + "\n",
                       encoding="utf-8")
        tmp.replace(where)
    except OSError:
        pass  # a read-only checkout: grading still works, progress is not kept
