"""The warm grader (`course grade`) on real vLLM: limits enforced from outside
the submission, tampering detected, nbgrader's layout read, results the same
as plain pytest, and clear errors for bad input.

The lesson 1 class graded once (conftest.graded_class) holds the reference,
the stubs, every planted mistake, the hostile submissions of hostile.py and two
notebooks in nbgrader's layout.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import hostile
from conftest import CLASS_GRADE_OPTIONS, selected
from grading_helpers import grade
from vllm_course.grading.integrity import Snapshot

LESSON = hostile.LESSON
FULL = {e.function: e.points for e in LESSON.exercises}
COURSE = str(Path(sys.executable).parent / "course")
ROOT = os.geteuid() == 0


def scores(results):
    return {t["name"]: t["score"] for t in results["tests"]}


@pytest.fixture(scope="module")
def lesson01(graded_class):
    return graded_class(LESSON)


@pytest.mark.parametrize("name", sorted(hostile.expectations()))
def test_hostile_submission_loses_exactly_its_exercises(name, lesson01):
    results, out, _, _ = lesson01
    zeros, text = hostile.expectations()[name]
    graded = results[name]
    assert scores(graded) == {f: 0 if f in zeros else p for f, p in FULL.items()}, \
        (graded, out[-3000:])
    failed = [t["output"] for t in graded["tests"] if t["status"] == "failed"]
    assert all(text in message for message in failed[:1]), failed


def test_each_tampering_is_flagged(lesson01):
    results, out, _, _ = lesson01
    for name in ("patch-expect-during-call", "patch-isclose", "patch-pytest-report",
                 "patch-expect-at-import"):
        assert results[name]["extra_data"]["tampered"], name
        assert "tampering detected" in results[name]["output"], name
    assert "TAMPERING" in out
    assert results["zz-reference"]["extra_data"]["tampered"] == []


def test_a_forged_report_is_ignored_and_flagged(lesson01):
    results, _, _, _ = lesson01
    assert "report channel" in results["forged-report"]["extra_data"]["tampered"]
    assert hostile.DECOY.is_dir()  # the grader removed nothing it was told to
    hostile.DECOY.rmdir()


def test_printed_and_written_scores_count_for_nothing(lesson01):
    results, _, _, root = lesson01
    printed = (root / "out" / "fake-score" / "output.txt").read_text()
    assert "lesson01: 13/13 points" in printed  # printed, and ignored
    protected = root / "out" / "zz-reference" / "results.json"
    if ROOT:  # the sandbox can neither see nor write the instructor's files
        assert f"blocked {protected}" in printed, printed[-2000:]
    assert results["zz-reference"]["score"] == LESSON.max_points


@pytest.mark.parametrize("door", sorted(hostile.DOORS))
def test_no_door_opens_onto_another_students_work(door, lesson01):
    """Each door submission tried (it says so) and, as root, found nothing:
    no classmate's file, no results, no solution, no grader's variable, no
    folder to write into, no process to signal."""
    results, _, _, root = lesson01
    printed = (root / "out" / door / "output.txt").read_text()
    assert f"DOOR {door} tried" in printed, printed[-2000:]
    if ROOT:
        assert "LEAK" not in printed and hostile.SECRET not in printed, printed[-2000:]
        assert hostile.SECRET not in json.dumps(results[door])
        assert not list(root.rglob("written-by-a-submission"))
    else:  # without root nothing is private, and the report says so plainly
        assert "classmates' submissions" in results[door]["output"]


def test_output_is_capped(lesson01):
    results, _, _, root = lesson01
    printed = root / "out" / "output-flood" / "output.txt"
    assert printed.stat().st_size <= 1024 ** 2
    assert "output cut at 1 MiB" in results["output-flood"]["output"]


def test_isolation_is_complete_as_root_or_said_to_be_missing(lesson01):
    results, _, _, _ = lesson01
    notes = results["zz-reference"]["output"]
    if ROOT:
        assert "isolation:" not in notes, notes
        assert results["network"]["score"] == LESSON.max_points  # only loopback visible
    else:  # no namespaces without root: the report must say so, never silently
        assert "isolation: not run as root" in notes, notes


def test_a_child_that_dies_costs_only_its_check(lesson01):
    results, _, _, _ = lesson01
    # os._exit, a segfault and the memory kill each end a child; the checks
    # after it ran in a fresh one.
    for name in ("os-exit-0", "segfault", "memory-hog", "hang"):
        assert results[name]["extra_data"]["processes"] >= 2, name


def test_the_engine_works_after_many_children(lesson01):
    results, _, _, _ = lesson01
    # The reference's id sorts last: graded after every other submission.
    assert len(results) > 25
    assert results["zz-reference"]["score"] == LESSON.max_points


def test_grades_csv_has_a_row_per_student(lesson01):
    results, out, status, root = lesson01
    with open(root / "out" / "grades.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["student", *FULL, "total"]
    assert {r["student"] for r in rows} == set(results)
    for row in rows:
        assert int(row["total"]) == results[row["student"]]["score"]
        assert sum(int(row[f]) for f in FULL) == int(row["total"])
    # The syntax error is reported as a problem of the input: graded, and a non-zero exit.
    assert status == 1 and "syntax-error.py: does not parse" in out


def test_a_second_run_skips_what_is_graded(lesson01):
    results, _, _, root = lesson01
    done = subprocess.run([COURSE, "grade", LESSON.id, str(root / "in"), "--out",
                           str(root / "out"), *CLASS_GRADE_OPTIONS],
                          capture_output=True, text=True, timeout=600)
    assert f"{len(results)} already graded" in done.stderr, done.stderr
    assert "0 graded now" in done.stderr
    assert "warming up" not in done.stderr  # nothing to grade: vLLM is not even started


# patch-isclose and lying-equality: plain pytest has no tamper check, so there
# the graders' own bound helpers and plain values must catch them.
MIXED = ["zz-reference", "stub", "mistake-generate-ignores-params", "syntax-error", "crash",
         "hang", "patch-isclose", "lying-equality"]


@pytest.fixture(scope="module")
def plain_runs(request, lesson01, background, tmp_path_factory):
    """`pytest exercises/lesson01` on each selected name of MIXED, started
    together in the background (conftest's pool). name -> Future of
    (results.json, output)."""
    *_, root = lesson01
    folder = tmp_path_factory.mktemp("plain")
    return {name: background.submit(grade, LESSON, root / "in" / f"{name}.py", folder,
                                    "--time-limit", "30")
            for name in selected(request, "test_scores_equal_plain_pytest", "name")}


@pytest.mark.parametrize("name", MIXED)
def test_scores_equal_plain_pytest(name, lesson01, plain_runs):
    results, *_ = lesson01
    alone, out = plain_runs[name].result()
    assert scores(alone) == scores(results[name]), out[-3000:]
    assert [t["status"] for t in alone["tests"]] == [t["status"] for t in results[name]["tests"]]


@pytest.mark.parametrize("args,expected", [
    (["lesson1", "."], "no lesson 'lesson1' in course.yaml"),
    (["lesson01", "/no/such/folder"], "/no/such/folder: no such folder"),
    (["lesson01", "EMPTY"], "no submissions for lesson01"),
    (["lesson01", "DUPLICATES"], "the same student id comes from more than one submission"),
])
def test_bad_input_gets_one_clear_line(args, expected, tmp_path):
    (tmp_path / "empty").mkdir()
    dup = tmp_path / "dup"
    (dup / "alice").mkdir(parents=True)
    (dup / "alice.py").write_text("")
    (dup / "alice" / LESSON.exercise_file).write_text("")
    args = [a.replace("EMPTY", str(tmp_path / "empty")).replace("DUPLICATES", str(dup))
            for a in args]
    done = subprocess.run([COURSE, "grade", *args, "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert expected in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    if args[0] == "lesson1":
        assert "Did you mean lesson01?" in done.stderr


def test_snapshot_names_and_undoes_a_change():
    import math
    import types

    import vllm_course.grading.feedback as fb

    grader = types.ModuleType("a_grader")  # what a grader module imports is watched
    grader.math = math
    snap = Snapshot([grader])
    original, code = math.isclose, fb.expect.__code__
    math.isclose = lambda *a, **k: True
    fb.expect.__code__ = (lambda condition, message: None).__code__
    try:
        changed = snap.verify()
    finally:
        math.isclose, fb.expect.__code__ = original, code
    assert "math.isclose" in changed
    assert "vllm_course.grading.feedback.expect" in changed
    assert math.isclose is original and fb.expect.__code__ is code
    assert snap.verify() == []


def test_a_late_close_leaves_the_next_owner_of_the_fd_number_alone():
    # The bug it guards against: a child's output pipe reached EOF and closed,
    # the next child's new pipe got the same fd number, and the first child's
    # reap then closed it: that child died on a broken pipe, its checks "could
    # not be run", and so did every child after it.
    import selectors

    from vllm_course.runner.warm import WarmGrader, _Child

    grader = WarmGrader(jobs=1, sandbox=False)
    grader._selector, grader._by_fd = selectors.DefaultSelector(), {}

    def child(fd):
        c = _Child(pid=0, slot=0, uid=None, task=None, result_fd=fd, output_fd=fd, open_fds=1)
        grader._selector.register(fd, selectors.EVENT_READ)
        grader._by_fd[fd] = c
        return c

    read, write = os.pipe()
    old = child(read)
    grader._close(read, old)  # EOF: the old child's pipe closes
    os.close(write)
    again, write = os.pipe()
    assert again == read  # the lowest free number is reused
    new = child(again)
    grader._close(read, old)  # the old child's reap closes "its" fds again
    assert grader._by_fd[again] is new and new.open_fds == 1
    os.fstat(again)  # still open
    grader._close(again, new)
    os.close(write)
    assert grader._by_fd == {} and old.open_fds == new.open_fds == 0
