"""Run the graders on a submission the way a student does, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from vllm_course.authoring import planted
from vllm_course.course.manifest import REPO_ROOT, Lesson
from vllm_course.authoring.planted import replace_region as replace_solution
from vllm_course.authoring.stubs import solution_path


def grade(lesson: Lesson, target: str | Path, tmp_path: Path, *extra: str) -> tuple[dict, str]:
    """Run `pytest exercises/<lesson> --target ...`; return (results.json, output)."""
    results = tmp_path / f"results-{abs(hash(str(target)))}.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", f"exercises/{lesson.id}", "--target", str(target),
         "--results", str(results), *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
    )
    assert results.exists(), f"no results written:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return json.loads(results.read_text()), done.stdout + done.stderr


def scores(results: dict) -> dict[str, int]:
    return {t["name"]: t["score"] for t in results["tests"]}


def with_body(lesson: Lesson, function: str, body: str) -> str:
    """The solution file with `function`'s solution region replaced by `body`."""
    return replace_solution(solution_path(lesson).read_text(), function, body)


def notebook_mistake(lesson: Lesson) -> planted.Mistake:
    """The planted mistake that nb-wrong makes (and nbgrader's carol)."""
    return planted.mistakes(lesson)[0]


def write_class(lesson: Lesson, folder: Path, notebooks: bool = True,
                mistakes: list[planted.Mistake] | None = None) -> None:
    """A class of plain-file submissions: the reference solution (graded last:
    its id sorts last), the untouched stubs, and each planted mistake (or those
    in `mistakes`); and, in
    nbgrader's layout (submitted/<student>/<lesson>/<lesson>.ipynb), nb-right
    with the lesson's notebook as built and nb-wrong with notebook_mistake in
    its solution cell (unless `notebooks` is False)."""
    import json

    from vllm_course.instructor.nbgrader_build import notebook
    from vllm_course.authoring.stubs import exercise_path

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zz-reference.py").write_text(solution_path(lesson).read_text())
    (folder / "stub.py").write_text(exercise_path(lesson).read_text())
    reference = solution_path(lesson).read_text()
    for mistake in planted.mistakes(lesson) if mistakes is None else mistakes:
        (folder / f"{mistake.student}.py").write_text(mistake.apply(reference))
    if not notebooks:
        return
    wrong = notebook_mistake(lesson)
    for student, answers in (("nb-right", {}), ("nb-wrong", {wrong.function: wrong})):
        nb = notebook(lesson)
        for cell in nb["cells"]:
            grade_id = cell["metadata"]["nbgrader"]["grade_id"]
            if grade_id in answers:
                cell["source"] = answers[grade_id].apply(cell["source"])
        path = folder / "submitted" / student / lesson.id / f"{lesson.id}.ipynb"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(nb))


def course_grade(lesson: Lesson, folder: Path, out: Path, *extra: str,
                 env: dict | None = None) -> tuple[dict, str, int]:
    """Run `course grade` (with `env` added to the environment); return
    ({student: results.json}, its output, exit status)."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "course"), "grade", lesson.id, str(folder),
         "--out", str(out), *extra],
        capture_output=True, text=True, timeout=3000, env={**os.environ, **(env or {})},
    )
    results = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}
    return results, done.stdout + done.stderr, done.returncode


def adopt_orphans() -> None:
    """Make this process the child subreaper of what it starts: a process
    orphaned by a run the tests start (a server its grader failed to stop)
    is then still this process's descendant, where processes_since finds it."""
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def processes_since(started: float, grace: float = 20.0) -> list[str]:
    """Command lines of this process's descendants created since `started`
    (a time.time(); adopt_orphans() first) still alive after waiting up to
    `grace` seconds for them to go."""
    import psutil

    new = [p for p in psutil.Process().children(recursive=True)
           if p.create_time() >= started - 0.5]
    _, alive = psutil.wait_procs(new, timeout=grace)
    found = []
    for p in alive:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                found.append(" ".join(p.cmdline())[:200] or p.name())
        except psutil.NoSuchProcess:
            pass
    return found
