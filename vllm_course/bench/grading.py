"""Grading figures for `make bench`, measured side by side in one run.

- Class grading: the same 30 lesson-1 notebooks (references, stubs, each
  planted mistake, syntax errors, hangs) in nbgrader's layout, graded by
  `nbgrader autograde`, by `course grade -j 2`, and by `course grade --ray -j 2`
  (two Ray slots on a local Ray instance: Ray's start and one warm-up per slot
  are its overhead on one machine).
- One regrade: `pytest exercises/lesson01` started cold, against a regrade of
  the same file on a warm grader (what `course watch` does on every save).
Hangs are stopped after HANG_SECONDS on both sides (VLLM_COURSE_CHECK_SECONDS).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vllm_course.course.limits import CHECK_SECONDS_ENV
from vllm_course.course.manifest import REPO_ROOT, course

HANG_SECONDS = 20
REGRADES = 3
BIN = Path(sys.executable).parent


def _class(lesson) -> dict[str, dict[str, str]]:
    """30 students: name -> {exercise: wrong code} (empty: the reference)."""
    from vllm_course.authoring import planted

    # One planted mistake per exercise (the first listed): the same class as
    # when each exercise had one, so that runs of the bench stay comparable.
    first = {}
    for m in planted.mistakes(lesson):
        first.setdefault(m.function, m)
    solution = lesson.solution_path.read_text()
    stub = "# YOUR CODE HERE\nraise NotImplementedError()"
    students = {f"ref{i:02d}": {} for i in range(12)}
    students.update({f"stub{i}": {e.function: stub for e in lesson.exercises} for i in range(4)})
    students.update({f"mistake-{f}": {f: m.new_region(solution)} for f, m in first.items()})
    students.update({f"syntax{i}": {"generate": "return llm.generate(prompts sampling_params)"}
                     for i in range(3)})
    students.update({f"hang{i}": {"focused_params": "while True:\n    pass"} for i in range(3)})
    assert len(students) == 30, len(students)
    return students


def _run(cmd, cwd, env) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"bench: `{' '.join(map(str, cmd))}` failed:\n"
                         f"{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return seconds


def _write_class(root: Path, lesson, env) -> None:
    """nbgrader's course with the class's notebooks in submitted/."""
    from vllm_course.instructor.nbgrader_build import build, filled_submission
    from vllm_course.authoring.stubs import solution_regions

    build(course(), root, [lesson.id])
    _run([BIN / "nbgrader", "generate_assignment", lesson.id, "--force"], root, env)
    source = root / "source" / lesson.id / f"{lesson.id}.ipynb"
    release = root / "release" / lesson.id / f"{lesson.id}.ipynb"
    reference = {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"])
                 for c in json.loads(source.read_text())["cells"]}
    for student, wrong in _class(lesson).items():
        answers = {}
        for function, body in wrong.items():
            code = reference[function]
            lines = code.splitlines()
            [(begin, end, indent)] = solution_regions(code)
            new = [indent + l for l in body.splitlines()]
            answers[function] = "\n".join(lines[:begin] + new + lines[end + 1:])
        nb = filled_submission(release, source, answers)
        dest = root / "submitted" / student / lesson.id / f"{lesson.id}.ipynb"
        dest.parent.mkdir(parents=True)
        dest.write_text(json.dumps(nb))


def class_grading_ratio(offline: str) -> None:
    lesson = course().lesson("lesson01")
    env = dict(os.environ, VLLM_COURSE_MODEL=offline, **{CHECK_SECONDS_ENV: str(HANG_SECONDS)},
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "course"
        _write_class(root, lesson, env)
        students = sorted(_class(lesson))
        print(f"Class grading: {len(students)} lesson01 notebooks (references, stubs, planted "
              f"mistakes, syntax errors, hangs stopped after {HANG_SECONDS} s)", flush=True)
        for student in students:
            _run([BIN / "nbgrader", "db", "student", "add", student], root, env)
        nb_seconds = _run([BIN / "nbgrader", "autograde", lesson.id, "--force"], root, env)
        print(f"  nbgrader autograde: {nb_seconds:.1f} s", flush=True)
        out = Path(tmp) / "grades"
        cg_seconds = _run([BIN / "course", "grade", lesson.id, str(root), "--out", str(out),
                           "-j", "2"], root, env)
        print(f"  course grade -j 2:  {cg_seconds:.1f} s", flush=True)
        ray_seconds = _run([BIN / "course", "grade", lesson.id, str(root), "--out",
                            str(Path(tmp) / "ray-grades"), "-j", "2", "--ray"], root, env)
        print(f"  course grade --ray -j 2 (local Ray instance): {ray_seconds:.1f} s", flush=True)
    print(f"class grading, course grade -j 2 vs nbgrader autograde ({len(students)} submissions): "
          f"ratio: {nb_seconds / cg_seconds:.2f}x (goal: >= 5x)", flush=True)
    print(f"class grading, course grade --ray -j 2 vs -j 2 on this machine ({len(students)} "
          f"submissions): Ray takes {ray_seconds / cg_seconds:.2f}x the local time", flush=True)


def regrade_ratio(offline: str) -> None:
    env = dict(os.environ, VLLM_COURSE_MODEL=offline)
    cold = _run([sys.executable, "-m", "pytest", "exercises/lesson01", "--target", "solutions",
                 "-q"], REPO_ROOT, env)
    done = subprocess.run([sys.executable, "-m", "vllm_course.bench.grading", "warm-regrade"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench: the warm regrade failed:\n{done.stderr[-3000:]}")
    warm = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
    print(f"warm regrade {warm:.1f} s (goal: <= 5 s) vs cold pytest {cold:.1f} s "
          f"(lesson01, reference solution): ratio: {cold / warm:.2f}x", flush=True)


def _warm_regrade() -> None:
    """In its own process (the warm parent must be alone): the median of a few
    regrades of lesson 1's reference, after the one-off warm-up."""
    from vllm_course.runner.warm import Submission, WarmGrader

    lesson = course().lesson("lesson01")
    grader = WarmGrader(log=lambda line: print(line, file=sys.stderr))
    grader.prepare([lesson])
    submission = Submission("bench", lesson, lesson.solution_path)
    times = []
    for _ in range(REGRADES):
        start = time.perf_counter()
        graded = grader.grade(submission)
        times.append(time.perf_counter() - start)
        assert graded.score == lesson.max_points, graded.results
    print(json.dumps({"seconds": statistics.median(times), "all": times}))


if __name__ == "__main__" and sys.argv[1:] == ["warm-regrade"]:
    _warm_regrade()
