"""Gradescope: the results.json format every grading path writes, and the
autograder zip (`course gradescope`) run in a temporary root laid out as
Gradescope's /autograder, on real vLLM.

What is not run here: the zip's setup.sh, which needs apt-get and PyPI (it is
checked for syntax and for what it installs); the test root's source/.venv
is this checkout's environment, as setup.sh would have made it.
"""

import dataclasses
import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from vllm_course.grading import scoring
from vllm_course.course.manifest import REPO_ROOT, course

LESSON = course().lesson("lesson01")
SCHEMA = json.loads((Path(__file__).parent / "gradescope_results.schema.json").read_text())
BIN = Path(sys.executable).parent


def valid(data: dict) -> dict:
    jsonschema.validate(data, SCHEMA)
    return data


# --- the format (pure) -------------------------------------------------------
def test_one_test_per_exercise_numbered_and_tagged_in_the_lessons_order():
    results = scoring.new_results(LESSON)
    for r in results.values():
        r.outcomes = [True]
    results["generate"].outcomes, results["generate"].messages = [False], ["generate: no"]
    data = valid(scoring.gradescope([(LESSON, results)], 1.25, ["a note"]))
    assert [t["name"] for t in data["tests"]] == [e.function for e in LESSON.exercises]
    assert [t["number"] for t in data["tests"]] == [str(i) for i in range(1, len(LESSON.exercises) + 1)]
    assert data["tests"][0]["tags"] == ["lesson01", LESSON.exercises[0].section]
    assert data["score"] == LESSON.max_points - LESSON.exercise("generate").points
    assert data["output"].splitlines() == [f"lesson01: {data['score']}/13 points", "a note"]
    assert data["stdout_visibility"] == "hidden" and data["execution_time"] == 1.2


def test_an_exercise_with_a_hidden_check_takes_its_lessons_visibility():
    from vllm_course.grading.registry import declared

    hidden = {d.function for d in declared(LESSON) if d.hidden}
    assert hidden, "lesson 1 has a hidden check"
    results = scoring.new_results(LESSON)
    for lesson, expected in ((LESSON, "after_published"),
                             (dataclasses.replace(LESSON, hidden_visibility="visible"), "visible")):
        tests = valid(scoring.gradescope([(lesson, results)], 0))["tests"]
        assert {t["name"]: t["visibility"] for t in tests} == \
            {e.function: expected if e.function in hidden else "visible" for e in LESSON.exercises}


def test_what_was_not_run_is_said_at_the_top():
    data = valid(scoring.gradescope([(LESSON, scoring.new_results(LESSON))], 0))
    assert "not run: create_llm, create_sampling_params" in data["output"]


def test_two_lessons_in_one_file_keep_apart():
    other = course().lesson("lesson02")
    data = valid(scoring.gradescope([(LESSON, scoring.new_results(LESSON)),
                                     (other, scoring.new_results(other))], 0))
    assert data["tests"][0]["name"] == "lesson01.create_llm" and data["tests"][0]["number"] == "1.1"
    assert data["tests"][-1]["number"] == f"2.{len(other.exercises)}"


# --- the autograder zip ------------------------------------------------------
@pytest.fixture(scope="module")
def autograder(tmp_path_factory):
    """The zip, built by the CLI and unpacked as Gradescope does."""
    root = tmp_path_factory.mktemp("autograder")
    zipped = root / "autograder.zip"
    done = subprocess.run([BIN / "course", "gradescope", LESSON.id, "--out", str(zipped)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with zipfile.ZipFile(zipped) as z:
        names = z.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in z.infolist()}
        z.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        assert modes[name] & stat.S_IXUSR, name
        os.chmod(root / "source" / name, 0o755)
    (root / "source" / ".venv").symlink_to(Path(sys.prefix))  # what setup.sh makes
    return root, names


def run_autograder(root: Path, files: dict[str, bytes]) -> tuple[dict, subprocess.CompletedProcess]:
    submission = root / "submission"
    if submission.exists():
        for p in submission.iterdir():
            p.unlink()
    else:
        submission.mkdir()
    for name, data in files.items():
        (submission / name).write_bytes(data)
    (root / "results" / "results.json").unlink(missing_ok=True)
    done = subprocess.run([root / "source" / "run_autograder"], capture_output=True, text=True,
                          timeout=900, env=dict(os.environ, VLLM_COURSE_AUTOGRADER_ROOT=str(root)))
    return valid(json.loads((root / "results" / "results.json").read_text())), done


def test_the_zip_holds_the_kit_and_its_scripts_but_no_tests(autograder):
    _, names = autograder
    assert {"setup.sh", "run_autograder", "course.yaml", "Makefile"} <= set(names)
    assert f"solutions/lesson01/{LESSON.exercise_file}" in names  # graded first, at warm-up
    assert not [n for n in names if n.startswith(("tests/", ".venv/", ".git/"))]
    assert not [n for n in names if "__pycache__" in n]


def test_setup_sh_parses_and_fetches_the_lessons_models(autograder):
    root, _ = autograder
    setup = root / "source" / "setup.sh"
    assert subprocess.run(["bash", "-n", str(setup)]).returncode == 0
    text = setup.read_text()
    assert "make setup" in text and "facebook/opt-125m" in text and "@" not in text
    assert "chmod -R go-rwx solutions" in text  # closed to a submission without namespaces


def test_setup_sh_trains_adapters_only_for_a_lesson_that_serves_them():
    from vllm_course.instructor.gradescope_build import _script

    for lesson in course().lessons:
        text = _script("setup.sh", lesson)
        wanted = "yes" if lesson.engine.get("enable_lora") else "no"
        assert f'[ "{wanted}" = "yes" ]' in text and "@" not in text
    assert any(l.engine.get("enable_lora") for l in course().lessons)


def test_the_reference_gets_full_marks_and_a_stub_zero(autograder):
    root, _ = autograder
    data, done = run_autograder(root, {LESSON.exercise_file: LESSON.solution_path.read_bytes()})
    assert done.returncode == 0, done.stderr[-3000:]
    assert data["score"] == LESSON.max_points, data["output"]
    assert data["output"].startswith(f"lesson01: {LESSON.max_points}/{LESSON.max_points} points")
    data, done = run_autograder(root, {"mine.py": LESSON.exercise_path.read_bytes()})
    assert done.returncode == 0 and data["score"] == 0
    assert all(t["status"] == "failed" and t["output"] for t in data["tests"])


def test_a_notebook_is_graded_like_a_file(autograder):
    from vllm_course.instructor.nbgrader_build import notebook

    root, _ = autograder
    data, done = run_autograder(root, {f"{LESSON.id}.ipynb": json.dumps(notebook(LESSON)).encode()})
    assert done.returncode == 0, done.stderr[-3000:]
    assert data["score"] == LESSON.max_points, data["output"]


@pytest.mark.parametrize("files,says", [
    ({}, "nothing was submitted: upload basic_inference.py"),
    ({"basic_inference.py": b"  \n"}, "basic_inference.py is empty"),
    ({"answers.txt": b"LLM(model=...)"}, "expected basic_inference.py (a .py file) or a notebook"),
    ({"a.py": b"x = 1", "b.py": b"y = 2"}, "2 candidate files were submitted (a.py, b.py)"),
])
def test_a_submission_that_cannot_be_graded_gets_zero_and_says_why(autograder, files, says):
    root, _ = autograder
    data, done = run_autograder(root, files)
    assert done.returncode == 0, done.stderr[-3000:]
    assert data["score"] == 0 and data["output"].startswith(f"Not graded: {says}"), data["output"]
    assert all(says in t["output"] for t in data["tests"])
    assert "Traceback" not in done.stdout + done.stderr
