"""Instructor grading with real nbgrader and real vLLM, end to end, on CPU.

course nbgrader build -> generate_assignment -> three submissions (reference,
untouched release, one planted mistake) -> autograde -> generate_feedback ->
export to CSV; exact scores, and the wrong exercise's message in its feedback.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grading_helpers import PLANTED, replace_solution
from vllm_course.manifest import course
from vllm_course.nbgrader_build import build, filled_submission

LESSON = course().lesson("lesson01")
WRONG = "extract_completions"
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


def test_pipeline(tmp_path, offline_model_path):
    root = tmp_path / "course"
    done = subprocess.run([str(BIN / "course"), "nbgrader", "build", "lesson01", "--out", str(root)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    env = dict(os.environ, VLLM_COURSE_MODEL=offline_model_path,
               PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    source = root / "source" / "lesson01" / "lesson01.ipynb"
    nbgrader(root, "validate", str(source), env=env)

    nbgrader(root, "generate_assignment", "lesson01", "--force", env=env)
    release = root / "release" / "lesson01" / "lesson01.ipynb"
    text = release.read_text()
    assert "BEGIN SOLUTION" not in text and "HIDDEN" not in text
    assert "SamplingParams(temperature=0.8, top_p=0.95)" not in text  # no solution code
    assert "hidden=True" not in text
    nbgrader(root, "validate", "--invert", str(release), env=env)

    submitted = root / "submitted"
    submit(submitted / "alice" / "lesson01" / "lesson01.ipynb", release, source)
    (submitted / "bob" / "lesson01").mkdir(parents=True)
    shutil.copy(release, submitted / "bob" / "lesson01" / "lesson01.ipynb")
    reference = {grade_id(c): "".join(c["source"]) for c in cells(source)}
    wrong = replace_solution(reference[WRONG], WRONG, PLANTED["lesson01"][WRONG])
    submit(submitted / "carol" / "lesson01" / "lesson01.ipynb", release, source, {WRONG: wrong})
    for student in ("alice", "bob", "carol"):
        nbgrader(root, "db", "student", "add", student, env=env)

    nbgrader(root, "autograde", "lesson01", "--force", env=env)
    nbgrader(root, "generate_feedback", "lesson01", "--force", env=env)
    nbgrader(root, "export", env=env)

    with open(root / "grades.csv") as f:
        scores = {row["student_id"]: float(row["score"]) for row in csv.DictReader(f)}
    full = LESSON.max_points
    assert scores == {"alice": full, "bob": 0.0,
                      "carol": full - LESSON.exercise(WRONG).points}, scores

    html = (root / "feedback" / "carol" / "lesson01" / "lesson01.html").read_text()
    assert f"{WRONG}: " in html and "Hint:" in html
    ok_html = (root / "feedback" / "alice" / "lesson01" / "lesson01.html").read_text()
    assert "all checks passed" in ok_html
