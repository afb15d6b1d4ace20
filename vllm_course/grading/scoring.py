"""From per-test outcomes to points, the score table and Gradescope's results.json."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from vllm_course.course.manifest import Lesson

KIT_ERROR = "kit error"


@dataclass
class ExerciseResult:
    function: str
    max_points: int
    # One per grader test run: True passed, False failed, None a kit error
    # (the check could not be made: feedback.KitError).
    outcomes: list[bool | None] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if not self.outcomes:
            return "not run"
        if False in self.outcomes:  # a real failure stands, whatever else happened
            return "failed"
        return KIT_ERROR if None in self.outcomes else "passed"

    @property
    def points(self) -> int:
        # All of an exercise's tests must pass for its points: no partial credit
        # that a half-working answer could collect.
        return self.max_points if self.status == "passed" else 0


def new_results(lesson: Lesson) -> dict[str, ExerciseResult]:
    return {e.function: ExerciseResult(e.function, e.points) for e in lesson.exercises}


def kit_errors(results: dict[str, ExerciseResult]) -> list[str]:
    """The exercises that could not be graded (a kit error)."""
    return [r.function for r in results.values() if r.status == KIT_ERROR]


def score_line(lesson: Lesson, results: dict[str, ExerciseResult]) -> str:
    got = sum(r.points for r in results.values())
    line = f"{lesson.id}: {got}/{lesson.max_points} points"
    ungraded = kit_errors(results)
    if ungraded:
        points = sum(results[f].max_points for f in ungraded)
        line += f" ({points} not graded: kit error in {', '.join(ungraded)})"
    return line


def table(lesson: Lesson, results: dict[str, ExerciseResult]) -> list[str]:
    width = max(len(f) for f in results)
    lines = [f"{lesson.id} - {lesson.title}"]
    for r in results.values():
        mark = {"passed": "ok  ", "failed": "FAIL", "not run": "--  ", KIT_ERROR: "KIT "}[r.status]
        first = r.messages[0].splitlines()[0].removeprefix(f"{r.function}: ") if r.messages else ""
        note = "" if r.status == "passed" else ("  " + first if first else "  (not run)")
        lines.append(f"  {mark} {r.function:<{width}}  {r.points}/{r.max_points}{note}")
    lines.append(score_line(lesson, results))
    return lines


def gradescope(lessons: list[tuple[Lesson, dict[str, ExerciseResult]]], seconds: float,
               notes: list[str] | tuple[str, ...] = ()) -> dict:
    """Gradescope's results.json, the one writer that pytest, notebooks and
    `course grade` share: one test per exercise, numbered in the lesson's
    order; an exercise with a hidden check takes its lesson's
    `hidden_visibility`; what the student prints stays hidden."""
    from vllm_course.grading.registry import declared

    many = len(lessons) > 1
    tests, lines = [], []
    for i, (lesson, results) in enumerate(lessons, 1):
        hidden = {d.function for d in declared(lesson) if d.hidden}
        for n, exercise in enumerate(lesson.exercises, 1):
            r = results[exercise.function]
            tests.append({
                "name": f"{lesson.id}.{r.function}" if many else r.function,
                "number": f"{i}.{n}" if many else str(n),
                "score": r.points,
                "max_score": r.max_points,
                "status": "passed" if r.status == "passed" else "failed",
                "output": "\n\n".join(r.messages) if r.messages else
                          ("" if r.status == "passed" else "not run"),
                "output_format": "text",  # the kit's messages are plain text, laid out
                "tags": [lesson.id, exercise.section],
                "visibility": lesson.hidden_visibility if r.function in hidden else "visible",
            })
        lines.append(score_line(lesson, results))
        not_run = [r.function for r in results.values() if r.status == "not run"]
        if not_run:
            lines.append(f"not run: {', '.join(not_run)}")
    return {"score": sum(t["score"] for t in tests), "execution_time": round(seconds, 1),
            "output": "\n".join([*lines, *notes]), "output_format": "text",
            "stdout_visibility": "hidden", "tests": tests}


def write_results(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
