"""`course grade LESSON FOLDER --out DIR`: grade a whole class on the warm grader.

Writes, as each submission finishes (so an interrupted run loses nothing):
- DIR/<student>/results.json: Gradescope's format, with the kit's notes in
  "output" and, in "extra_data", the lesson and the SHA-256 of what was graded;
- DIR/<student>/output.txt: what the submission printed (capped);
and at the end DIR/grades.csv (student, one column per exercise in course.yaml
order, total) and a short summary. A submission whose results.json records the
same lesson and digest is not graded again unless --force is given.
"""

from __future__ import annotations

import csv
import json
from dataclasses import replace
import sys
import time
from pathlib import Path

from vllm_course.course.limits import DEFAULT, GIB, Limits, default_jobs
from vllm_course.runner.warm import Graded, Submission, WarmGrader, WarmUpError
from vllm_course.course.manifest import Lesson
from vllm_course.instructor.ray_grading import RayGrader, RayGradingError
from vllm_course.instructor.submissions import SubmissionsError, digest, find

RESULTS, OUTPUT, GRADES = "results.json", "output.txt", "grades.csv"


def _graded_bytes(sub: Submission) -> bytes:
    return sub.source if sub.source is not None else sub.path.read_bytes()


def _previous(out: Path, sub: Submission) -> dict | None:
    path = out / sub.student / RESULTS
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        extra = data["extra_data"]
        if extra["lesson"] == sub.lesson.id and extra["sha256"] == digest(_graded_bytes(sub)):
            return data
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _write_output(out: Path, graded: Graded) -> Path:
    folder = out / graded.submission.student
    folder.mkdir(parents=True, exist_ok=True)
    (folder / OUTPUT).write_text(graded.output, encoding="utf-8")
    return folder


def _write(out: Path, graded: Graded) -> dict:
    sub = graded.submission
    data = graded.results_json()
    data["extra_data"]["sha256"] = digest(_graded_bytes(sub))
    data["extra_data"]["submission"] = str(sub.path)
    folder = _write_output(out, graded)
    tmp = folder / (RESULTS + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / RESULTS)  # never a half-written results file
    return data


def write_grades(out: Path, lesson: Lesson, rows: dict[str, dict]) -> Path:
    functions = [e.function for e in lesson.exercises]
    path = out / GRADES
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *functions, "total"])
        for student in sorted(rows):
            scores = {t["name"]: t["score"] for t in rows[student]["tests"]}
            writer.writerow([student, *(scores.get(fn, 0) for fn in functions),
                             rows[student]["score"]])
    return path


class Progress:
    """A bar with the count and time left on a terminal; one plain line per
    submission elsewhere (logs, CI)."""

    def __init__(self, total: int, stream=sys.stderr) -> None:
        self.total, self.done, self.start = total, 0, time.monotonic()
        self.stream = stream
        self.live = None
        if stream.isatty() and total:
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar,
                                       TextColumn, TimeRemainingColumn)

            # auto_refresh off: its thread would be forked into every child.
            self.live = Bar(TextColumn("grading"), BarColumn(), MofNCompleteColumn(),
                            TimeRemainingColumn(), TextColumn("{task.description}"),
                            console=Console(file=stream), auto_refresh=False)
            self.task = self.live.add_task("", total=total)
            self.live.start()

    def advance(self, line: str) -> None:
        self.done += 1
        if self.live:
            self.live.update(self.task, advance=1, description=line)
            self.live.refresh()
            return
        elapsed = time.monotonic() - self.start
        left = elapsed / self.done * (self.total - self.done)
        print(f"[{self.done}/{self.total}] {line} (about {_duration(left)} left)",
              file=self.stream, flush=True)

    def close(self) -> None:
        if self.live:
            self.live.stop()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def summary(lesson: Lesson, rows: dict[str, dict], graded: int, skipped: int) -> list[str]:
    n = len(rows)
    totals = [r["score"] for r in rows.values()]
    lines = [f"{lesson.id}: {n} students ({graded} graded now, {skipped} already graded), "
             f"mean {sum(totals) / n:.1f}/{lesson.max_points}, "
             f"full marks {sum(t == lesson.max_points for t in totals)}"]
    width = max(len(e.function) for e in lesson.exercises)
    for e in lesson.exercises:
        passed = sum(any(t["name"] == e.function and t["status"] == "passed" for t in r["tests"])
                     for r in rows.values())
        lines.append(f"  {e.function:<{width}}  passed by {passed}/{n}")
    return lines


def grade_class(lesson: Lesson, folder: Path, out: Path, jobs: int | None = None,
                force: bool = False, limits: Limits = DEFAULT, sandbox: bool = True,
                log=None, ray: str | None = None, slot: dict | None = None) -> int:
    """Grade every submission in `folder`; `ray` (an address, or "local")
    grades on Ray slots shaped by `slot` (cpus_per_slot, gpus_per_slot)."""
    log = log or (lambda line: print(line, file=sys.stderr, flush=True))
    try:
        found = find(folder, lesson)
    except SubmissionsError as e:
        log(f"course grade: {e}")
        return 2
    out.mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict] = {}
    todo = []
    for sub in found.submissions:
        previous = None if force else _previous(out, sub)
        if previous is not None:
            rows[sub.student] = previous
        else:
            # Read once: the digest recorded is of exactly the bytes graded,
            # even if the file changes while the class is being graded.
            todo.append(replace(sub, source=_graded_bytes(sub)))
    if rows:
        log(f"{len(rows)} already graded (results.json up to date): skipped; --force regrades them")
    ungraded, kit_errors = [], {}
    if todo:
        grader = _grader(ray, jobs, limits, sandbox, slot, log)
        try:
            grader.prepare([lesson])
        except (WarmUpError, RayGradingError) as e:
            grader.close()
            log(f"course grade: {e}")
            return 1
        log(f"grading {len(todo)} submissions of {lesson.id}, {grader.jobs} at a time")
        progress = Progress(len(todo))

        def done(graded: Graded) -> None:
            student = graded.submission.student
            if graded.kit_errors:  # not final: no results.json, so the next run grades it
                kit_errors[student] = [m for r in graded.results.values() for m in r.messages
                                       if "kit error" in m.split("\n", 1)[0]]
                _write_output(out, graded)
                progress.advance(f"{student} KIT ERROR in {', '.join(graded.kit_errors)}")
                return
            rows[student] = _write(out, graded)
            flag = "  TAMPERING" if graded.tampered else ""
            progress.advance(f"{student} {graded.score}/{lesson.max_points}{flag}")

        try:
            grader.grade_all(todo, on_done=done)
        except RayGradingError as e:
            log(f"course grade: {e}")
        finally:
            progress.close()
            grader.close()
        ungraded = [s.student for s in todo if s.student not in rows and s.student not in kit_errors]
        for line in getattr(grader, "summary", list)():
            log(line)
    path = write_grades(out, lesson, rows)
    for line in summary(lesson, rows, len(todo), len(rows) - len(todo)):
        log(line)
    log(f"wrote {path} and {len(rows)} results.json files under {out}")
    for problem in found.problems:
        log(f"check: {problem}")
    if ungraded:
        log(f"not graded: {', '.join(ungraded)} (no results.json, not in {GRADES}); "
            "run the same command again to grade them")
    for student, messages in kit_errors.items():
        log(f"not graded, kit error (the kit's fault, not the student's): {student}: "
            + (messages[0].splitlines()[0] if messages else "see its output.txt"))
    if kit_errors:
        log(f"{len(kit_errors)} submissions not graded because of a kit error (no results.json, "
            f"not in {GRADES}); report it, then run the same command again to grade them")
    return 1 if found.problems or ungraded or kit_errors else 0


def _grader(ray: str | None, jobs: int | None, limits: Limits, sandbox: bool,
            slot: dict | None, log):
    """The local warm grader, or Ray slots when an address (or "local") is given."""
    if ray is None:
        return WarmGrader(limits, jobs=jobs or default_jobs(limits), sandbox=sandbox, log=log)
    return RayGrader(ray, limits, jobs, sandbox, log=log, **(slot or {}))


def limits_from(args) -> Limits:
    changes = {}
    if args.time_limit is not None:
        changes["check_seconds"] = args.time_limit
    if args.memory_limit is not None:
        changes["memory_bytes"] = int(args.memory_limit * GIB)
    return replace(DEFAULT, **changes)
