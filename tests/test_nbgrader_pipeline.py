"""Instructor grading with real nbgrader and real vLLM, end to end, on CPU.

For every lesson in course.yaml: course nbgrader build -> generate_assignment
-> submissions (one planted mistake, and for the first lesson the reference
and the untouched release too) -> autograde -> generate_feedback -> export to
CSV; exact scores, and the wrong exercise's message in its feedback; the
warm grader gave the same answer the same score in the lesson's class run
(conftest.graded_class); and, for the first lesson, `course grade` on the same
submitted/ folder gives the same scores.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import selected
from grading_helpers import notebook_mistake

from vllm_course.course.manifest import course
from vllm_course.instructor.nbgrader_build import build, filled_submission
from vllm_course.authoring.stubs import solution_regions

LESSONS = list(course().lessons)
BIN = Path(sys.executable).parent


def nbgrader(course_dir, *args, env=None):
    done = subprocess.run([str(BIN / "nbgrader"), *args], cwd=course_dir, capture_output=True,
                          text=True, timeout=1800, env=env)
    assert done.returncode == 0, f"nbgrader {' '.join(args)}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout + done.stderr


def cells(path):
    return json.loads(Path(path).read_text())["cells"]


def grade_id(cell):
    return cell["metadata"].get("nbgrader", {}).get("grade_id")


def submit(dest, release, source, answers=None):
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(filled_submission(release, source, answers)))


def test_build_is_deterministic(tmp_path):
    a, b = build(course(), tmp_path / "a"), build(course(), tmp_path / "b")
    for x, y in zip(a, b):
        assert x.read_bytes() == y.read_bytes(), x.name


def longest_solution_line(code):
    lines = code.splitlines()
    inside = [l.strip() for begin, end, _ in solution_regions(code) for l in lines[begin + 1:end]]
    return max(inside, key=len)


def wrong_exercise(lesson):
    """The exercise whose planted mistake carol submits: nb-wrong's in the class."""
    return notebook_mistake(lesson).function


def validated(lesson):
    return lesson == LESSONS[0]


def pipeline(lesson, root, env):
    """nbgrader from build to export for one lesson in the course folder
    `root`; the scores of grades.csv, by student."""
    name, wrong_fn = lesson.id, wrong_exercise(lesson)
    done = subprocess.run([str(BIN / "course"), "nbgrader", "build", name, "--out", str(root)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    source = root / "source" / name / f"{name}.ipynb"
    # `nbgrader validate` executes the notebook, as autograde does below for alice
    # (the source's solutions: full marks) and bob (the release: 0). So it runs
    # for the first lesson only: the command stays covered, its vLLM start-ups
    # are not paid again for every lesson. So do alice and bob: carol, right in
    # all but one exercise, runs every check cell of every lesson, and that
    # solutions score full and stubs 0 in every lesson is test_grading's.
    validate = validated(lesson)
    if validate:
        nbgrader(root, "validate", str(source), env=env)

    nbgrader(root, "generate_assignment", name, "--force", env=env)
    release = root / "release" / name / f"{name}.ipynb"
    text = release.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN" not in text
    assert "hidden=True" not in text
    reference = {grade_id(c): "".join(c["source"]) for c in cells(source)}
    for e in lesson.exercises:  # no solution code is released
        solution = longest_solution_line(reference[e.function])
        assert solution not in text, f"{e.function}: {solution!r} is in the release"
    if validate:
        nbgrader(root, "validate", "--invert", str(release), env=env)

    submitted = root / "submitted"
    if validate:
        submit(submitted / "alice" / name / f"{name}.ipynb", release, source)
        (submitted / "bob" / name).mkdir(parents=True)
        shutil.copy(release, submitted / "bob" / name / f"{name}.ipynb")
    wrong = notebook_mistake(lesson).apply(reference[wrong_fn])
    submit(submitted / "carol" / name / f"{name}.ipynb", release, source, {wrong_fn: wrong})
    students = ("alice", "bob", "carol") if validate else ("carol",)
    for student in students:
        nbgrader(root, "db", "student", "add", student, env=env)

    nbgrader(root, "autograde", name, "--force", env=env)
    nbgrader(root, "generate_feedback", name, "--force", env=env)
    nbgrader(root, "export", env=env)

    with open(root / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    full = lesson.max_points
    want = {"alice": full, "bob": 0.0, "carol": full - lesson.exercise(wrong_fn).points}
    assert scores == {s: want[s] for s in students}, scores

    html = (root / "feedback" / "carol" / name / f"{name}.html").read_text()
    assert f"{wrong_fn}: " in html and "Hint:" in html
    assert "all checks passed" in html  # carol's other exercises
    if validate:
        ok_html = (root / "feedback" / "alice" / name / f"{name}.html").read_text()
        assert "all checks passed" in ok_html and "Hint:" not in ok_html  # no failure

    return scores


@pytest.fixture(scope="module")
def pipelines(request, stand_ins, background, tmp_path_factory):
    """Every selected lesson's pipeline, started together in the background
    (conftest's pool: autograde's kernels start vLLM). lesson id -> (course
    folder, environment, Future of scores)."""
    env = dict(os.environ, **dict(stand_ins.values()),
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    runs = {}
    for lesson in selected(request, "test_pipeline", "lesson"):
        root = tmp_path_factory.mktemp(lesson.id) / "course"
        runs[lesson.id] = root, env, background.submit(pipeline, lesson, root, env)
    return runs


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda l: l.id)
def test_pipeline(lesson, pipelines, graded_class, tmp_path):
    root, env, future = pipelines[lesson.id]
    scores = future.result()
    name = lesson.id
    # The warm grader gives the same answer the same score: in the lesson's
    # class (conftest.graded_class), nb-wrong is carol's notebook answer.
    results, *_ = graded_class(lesson)
    assert results["nb-wrong"]["score"] == scores["carol"], (results["nb-wrong"], scores)
    if not validated(lesson):
        return
    # And `course grade` reads nbgrader's own submitted/ folder and agrees; once:
    # a warm-up per lesson for it would repeat what the line above checks.
    done = subprocess.run([str(BIN / "course"), "grade", name, str(root), "--out",
                           str(tmp_path / "grades")], capture_output=True, text=True,
                          timeout=1800, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "grades" / "grades.csv") as f:
        ours = {row["student"]: float(row["total"]) for row in csv.DictReader(f)}
    assert ours == scores, (ours, scores)
