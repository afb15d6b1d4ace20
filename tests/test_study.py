"""The student's commands, driven as a student drives them: `course`,
`course next`, `hint`, `show`, `solution`, `reset`, and `course watch` in a
pseudo-terminal (edit, verdict, Ctrl-C), against real vLLM where it grades."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grading_helpers import with_body
from vllm_course.course.manifest import course

COURSE = str(Path(sys.executable).parent / "course")
LESSON = course().lesson("lesson01")


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    monkeypatch.setenv("VLLM_COURSE_PROGRESS", str(path))
    return path


def run(*args, stdin=None):
    done = subprocess.run([COURSE, *args], capture_output=True, text=True, timeout=600,
                          input=stdin)
    return done.returncode, done.stdout, done.stderr


def passed_everything_but(progress_file, *unpassed):
    lessons = {l.id: {"graded_at": time.time(), "exercises": {
        e.function: "failed" if e.function in unpassed else "passed" for e in l.exercises}}
        for l in course().lessons}
    progress_file.write_text(json.dumps({"format": 1, "lessons": lessons}))


def test_the_board_and_next_step_of_a_new_student(progress_file):
    status, out, err = run()
    assert status == 0, err
    for lesson in course().lessons:
        assert f"{lesson.id} {lesson.title}" in out and f"0/{lesson.max_points} points" in out
    assert "Next: create_llm (2 points)" in out
    assert "exercises/lesson01/basic_inference.py:" in out
    assert "lessons/01-basic-inference/README.md#loading-a-model" in out


def test_the_board_reflects_a_pytest_run_on_the_students_files(progress_file):
    done = subprocess.run([sys.executable, "-m", "pytest", "exercises/lesson01", "-q",
                           "-k", "create_sampling_params"],
                          cwd=LESSON.exercise_path.parents[2], capture_output=True, text=True,
                          timeout=600)
    assert "lesson01: 0/13 points" in done.stdout, done.stdout[-2000:]
    saved = json.loads(progress_file.read_text())["lessons"]["lesson01"]
    assert saved["exercises"] == {"create_sampling_params": "failed"}  # only what ran
    _, out, _ = run("status")
    assert "0/8 exercises" in out and "graded just now" in out
    # Grading the solutions (or any --target) never touches a student's progress.
    subprocess.run([sys.executable, "-m", "pytest", "exercises/lesson01", "-q", "-k",
                    "create_sampling_params", "--target", "solutions"],
                   cwd=LESSON.exercise_path.parents[2], capture_output=True, timeout=600)
    assert json.loads(progress_file.read_text())["lessons"]["lesson01"] == saved


def test_a_corrupt_progress_file_is_reported_not_a_traceback(progress_file):
    progress_file.write_text("{not json")
    status, out, err = run()
    assert status == 0 and "could not be read" in err and "Traceback" not in err
    assert "Next: create_llm" in out


def test_a_finished_course_says_so(progress_file):
    passed_everything_but(progress_file)
    _, out, _ = run("next")
    assert "passed every exercise of the course" in out


def test_hints_and_bad_names(progress_file):
    e = LESSON.exercise("generate")
    _, out, _ = run("hint", "generate")
    assert e.hint in out and "--more" in out
    _, out, _ = run("hint", "generate", "--more")
    assert e.more in out
    status, _, err = run("hint", "generat")
    assert status == 2 and "Did you mean generate?" in err
    status, _, err = run("reset", "lesson1")
    assert status == 2 and "Did you mean lesson01?" in err


def test_show_names_every_place(progress_file):
    _, out, _ = run("show", "describe_output")
    for needle in ("lessons/01-basic-inference/README.md#reading-the-output",
                   "exercises/lesson01/basic_inference.py:", "graders/lesson01/test_basic_inference.py:",
                   "test_describe_output", "solutions/lesson01/basic_inference.py:",
                   "planted mistake", "2 points"):
        assert needle in out, needle


def test_the_solution_only_once_passed(progress_file):
    passed_everything_but(progress_file, "focused_params")
    status, out, _ = run("solution", "focused_params")
    assert status == 1 and "not passed it yet" in out and "return SamplingParams" not in out
    status, out, _ = run("solution", "creative_params")
    assert status == 0 and "def creative_params" in out and "top_p=0.95" in out
    assert "BEGIN SOLUTION" not in out


def test_reset_one_function_keeps_a_backup(progress_file):
    path = LESSON.exercise_path
    original = path.read_bytes()
    backups = path.parents[2] / ".course-backups"
    before = set(backups.glob("*")) if backups.exists() else set()
    try:
        path.write_text(with_body(LESSON, "generate", "return 42"))
        status, _, err = run("reset", "lesson01", "generate")  # no terminal, no --yes
        assert status == 2 and "--yes" in err
        status, out, _ = run("reset", "lesson01", "generate", "--yes")
        assert status == 0, out
        text = path.read_text()
        generate = text[text.index("def generate("):text.index("def extract_completions(")]
        assert "raise NotImplementedError()" in generate  # the stub is back
        assert "return SamplingParams(temperature=0.8, top_p=0.95)" in text  # the rest stays
        [backup] = set(backups.glob("*")) - before
        assert "return 42" in backup.read_text()
        backup.unlink()
    finally:
        path.write_bytes(original)


def _read_until(fd, needle, seconds, seen):
    deadline = time.monotonic() + seconds
    while needle not in seen[0]:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} within {seconds} s:\n{seen[0][-3000:]}"
        if select.select([fd], [], [], min(left, 1.0))[0]:
            try:
                seen[0] += os.read(fd, 65536).decode(errors="replace")
            except OSError:
                break
    return seen[0]


def test_watch_regrades_on_save_and_stops_on_ctrl_c(tmp_path, progress_file):
    target = tmp_path / LESSON.exercise_file
    target.write_text(LESSON.exercise_path.read_text())  # the stub
    pid, fd = pty.fork()
    if pid == 0:
        # As at a terminal: a run started in the background inherits SIGINT ignored.
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execv(COURSE, [COURSE, "watch", LESSON.id, "--target", str(target)])
    seen = [""]
    try:
        _read_until(fd, "lesson01: 0/13 points", 300, seen)
        assert "not implemented yet" in seen[0]
        seen[0] = ""
        start = time.monotonic()
        target.write_text(LESSON.solution_path.read_text())
        _read_until(fd, "lesson01: 13/13 points", 120, seen)
        print(f"save to verdict: {time.monotonic() - start:.1f} s")
        # An editor that deletes and recreates the file on save.
        seen[0] = ""
        target.unlink()
        target.write_text(with_body(LESSON, "extract_completions", "return []"))
        _read_until(fd, "lesson01: 11/13 points", 120, seen)
        _read_until(fd, "Hint:", 30, seen)  # the details follow the table
        assert "extract_completions:" in seen[0], seen[0]
        seen[0] = ""
        os.write(fd, b"\x03")  # Ctrl-C at the terminal
        _read_until(fd, "Stopped watching", 30, seen)
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)
    # No grading process outlives the watch, and --target kept progress untouched.
    time.sleep(0.5)
    left = [p for p in os.listdir("/proc") if p.isdigit() and _parent(p) == pid]
    assert left == []
    assert not progress_file.exists()


def _parent(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None
