"""Tables kept as data per lesson and exercise: `lesson: {function: [entry, ...]}`.

Planted mistakes and contract clauses share this nesting; it is read, checked
and filtered here once, and each table checks its own entries' fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence, TypeVar

import yaml

from vllm_course.course.paths import relative

T = TypeVar("T")


def load(path: Path) -> object:
    """The YAML data at `path`; an absent or empty file is an empty table."""
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def entries(data: object, path: Path, error: type[Exception], what: str,
            nonempty: bool = False) -> Iterator[tuple[str, str, str, object]]:
    """(lesson, function, where-it-is, entry) for every entry, in file order.

    A wrong nesting raises `error` naming the file, the place and what came."""
    where = relative(path)
    if not isinstance(data, dict):
        raise error(f"{where}: expected a mapping of lesson ids, got {type(data).__name__}")
    for lesson, functions in data.items():
        if not isinstance(functions, dict):
            raise error(f"{where}: {lesson}: expected a mapping of exercise functions")
        for function, items in functions.items():
            if not isinstance(items, list) or (nonempty and not items):
                got = "an empty list" if isinstance(items, list) else type(items).__name__
                raise error(f"{where}: {lesson}.{function}: expected a list of {what}, got {got}")
            for i, entry in enumerate(items):
                yield lesson, function, f"{where}: {lesson}.{function}[{i}]", entry


def select(items: Sequence[T], lesson=None, function: str | None = None) -> list[T]:
    """The items of a lesson (a Lesson or its id) and function; None means all."""
    lesson_id = getattr(lesson, "id", lesson)
    return [item for item in items if (lesson_id is None or item.lesson == lesson_id)
            and (function is None or item.function == function)]
