"""`course watch [lessonNN]`: grade the lesson, then regrade on every save.

Grading runs on the warm grader (grading/warm.py): vLLM's start-up is paid
once, and each save is graded in a fresh limited child, so a verdict takes
seconds. Only the first failing exercise's feedback is shown: one thing at a
time. When the lesson passes, the watch moves on to the next one. The file is
watched through its folder (watchfiles), so an editor that deletes and
recreates it on save is followed too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from vllm_course.grading import progress as progress_store
from vllm_course.grading import scoring
from vllm_course.course.paths import relative
from vllm_course.course.manifest import Lesson, course
from vllm_course.student.study import StudyError, find_lesson, next_exercise


def _say(line: str = "") -> None:
    print(line, flush=True)


def _verdict(graded, lesson: Lesson) -> None:
    _say()
    for line in scoring.table(lesson, graded.results):
        _say(line)
    failing = next((r for r in graded.results.values() if r.status != "passed"), None)
    if failing is not None and failing.messages:
        _say()
        _say(failing.messages[0])
    for note in graded.notes:
        if not note.startswith("isolation:"):
            _say(f"note: {note}")


def _content(target: Path) -> bytes | None:
    try:
        return target.read_bytes()
    except OSError:
        return None


def _changed(target: Path, graded: bytes | None) -> None:
    """Block until `target` differs from what was graded. Events wake the
    check up; it also runs every half second, so that a save made while the
    last grading ran (before the watcher started) is not missed."""
    import watchfiles

    for _ in watchfiles.watch(target.parent, debounce=300, step=50, rust_timeout=500,
                              yield_on_timeout=True, raise_interrupt=True):
        if _content(target) != graded:
            return


def watch(lesson_id: str | None, target: str | None) -> int:
    from vllm_course.runner.warm import Submission, WarmGrader, WarmUpError

    progress = progress_store.load()
    if lesson_id:
        lesson = find_lesson(lesson_id)
    else:
        found = next_exercise(progress)
        lesson = found[0] if found else course().lessons[-1]
    own = target is None  # the student's own file: progress is saved
    path = Path(target).resolve() if target else lesson.exercise_path
    if target and not path.parent.is_dir():
        raise StudyError(f"{target}: no such folder to watch")
    _say(f"Watching {relative(path)} ({lesson.id} {lesson.title}). Save it to regrade; "
         "Ctrl-C to stop.")
    _say("Starting the grader once (vLLM's start-up)...")
    grader = WarmGrader(jobs=1, log=lambda line: None)
    try:
        grader.prepare([lesson])
        while True:
            start = time.perf_counter()
            graded_bytes = _content(path)
            graded = grader.grade(Submission("you", lesson, path, graded_bytes))
            _verdict(graded, lesson)
            _say(f"(graded in {time.perf_counter() - start:.1f} s)")
            if own:
                progress_store.record(lesson, {f: r.status for f, r in graded.results.items()})
            if graded.score == lesson.max_points:
                _say(f"\n{lesson.id} passed: every exercise, {lesson.max_points} points.")
                following = [l for l in course().lessons if l.id > lesson.id]
                if own and following:
                    lesson = following[0]
                    path = lesson.exercise_path
                    _say(f"On to {lesson.id} {lesson.title}: watching {relative(path)}.")
                    grader.prepare([lesson])
                    continue
                if own:
                    _say("That was the last lesson: the course is done. `course` shows your board.")
            _changed(path, graded_bytes)
    except KeyboardInterrupt:
        _say("\nStopped watching.")
        return 0
    except WarmUpError as e:
        print(f"course watch: {e}", file=sys.stderr)
        return 1
    finally:
        grader.close()  # the lesson's server, if it has one
