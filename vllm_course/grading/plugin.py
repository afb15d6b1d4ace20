"""pytest plugin: `pytest exercises/lessonNN` grades a submission.

- collecting exercises/<lesson>/<exercise_file> collects graders/<lesson>/test_*.py;
- `--target` picks what is graded: the exercises (default), the solutions, or
  any file with the same functions;
- each grader test is tied to one exercise by @pytest.mark.exercise and is
  worth that exercise's points from course.yaml;
- failures are reported as feedback (what was expected, what came back, the
  lesson section to reread), stopped by a per-test time limit, and summed into
  `lessonNN: N/M points`; `--results FILE` writes Gradescope's results.json.
"""

from __future__ import annotations

import signal
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from vllm_course.grading import feedback, scoring
from vllm_course.course.limits import DEFAULT as LIMITS
from vllm_course.grading.kit import Kit
from vllm_course.grading.student import Student
from vllm_course.course.manifest import Lesson, course


def pytest_addoption(parser):
    group = parser.getgroup("vllm_course", "vLLM course grading")
    group.addoption("--target", default="exercises",
                    help="what to grade: 'exercises' (default), 'solutions', or a path to a "
                         "file (or folder) with the lesson's functions")
    group.addoption("--notebook-code", action="store_true",
                    help="the target holds a notebook's code (its cells but the test cells): "
                         "grade it as its notebook would be graded")
    group.addoption("--results", default=None, metavar="FILE",
                    help="also write the score in Gradescope's results.json format to FILE")
    group.addoption("--time-limit", type=float, default=LIMITS.check_seconds, metavar="SECONDS",
                    help=f"stop a grader test after this long (default {LIMITS.check_seconds:g}; "
                         "0: no limit)")


def pytest_configure(config):
    config.addinivalue_line("markers", "exercise(function): the course.yaml exercise this grades")
    config.addinivalue_line("markers", "hidden: an instructor-only check (hidden in nbgrader releases)")
    config.pluginmanager.register(GradingSession(config), "vllm_course_grading_session")


def _lesson_for_exercise_file(path: Path) -> Lesson | None:
    for lesson in course().lessons:
        if path.resolve() == lesson.exercise_path:
            return lesson
    return None


def _lesson_for_grader(path: Path) -> Lesson | None:
    parent = path.resolve().parent
    for lesson in course().lessons:
        if parent == lesson.graders_dir:
            return lesson
    return None


class LessonGraders(pytest.File):
    """Stands for an exercise file; its children are the lesson's grader modules."""

    def collect(self):
        lesson = _lesson_for_exercise_file(self.path)
        graders = lesson.grader_files()
        if not graders:
            raise pytest.UsageError(f"no grader tests in graders/{lesson.id}/ for {lesson.id}")
        for path in graders:
            yield pytest.Module.from_parent(self, path=path, name=path.name)


def pytest_collect_file(file_path: Path, parent):
    if file_path.suffix == ".py" and _lesson_for_exercise_file(file_path) is not None:
        return LessonGraders.from_parent(parent, path=file_path)
    return None


class GradingSession:
    def __init__(self, config):
        self.config = config
        self.started = time.monotonic()  # results.json's execution_time
        self.results: dict[str, dict[str, scoring.ExerciseResult]] = {}
        self.students: dict[str, Student] = {}
        self.kits: dict[str, Kit] = {}
        self._models: dict[str, str] = {}  # hub id -> what LLM(model=...) is given
        self._rules: dict[str, dict[str, str | None]] = {}

    # --- what is graded ---------------------------------------------------
    def target_file(self, lesson: Lesson) -> Path:
        target = self.config.getoption("--target")
        if target == "exercises":
            return lesson.exercise_path
        if target == "solutions":
            return lesson.solution_path
        path = Path(target).expanduser()
        if not path.is_absolute():
            path = Path(self.config.invocation_params.dir) / path
        return path / lesson.exercise_file if path.is_dir() else path

    def student(self, lesson: Lesson) -> Student:
        if lesson.id not in self.students:
            name = f"_graded_{lesson.id}_{len(self.students)}"
            path = self.target_file(lesson)
            self.students[lesson.id] = (Student.from_notebook_code(path)
                                        if self.config.getoption("--notebook-code")
                                        else Student.from_file(path, name))
        return self.students[lesson.id]

    def model(self, name: str) -> str:
        """What LLM(model=...) loads for the course model `name`, resolved once
        per session."""
        if name not in self._models:
            from vllm_course.models.model_resolution import resolve
            from vllm_course.runtime.vllm_version import check

            check()
            chosen = resolve(course().models[name],
                             progress=lambda line: print(line, file=sys.stderr))
            if chosen.notice:
                print("\n" + chosen.notice, file=sys.stderr)
            self._models[name] = chosen.model
        return self._models[name]

    def kit(self, lesson: Lesson) -> Kit:
        if lesson.id not in self.kits:
            self.kits[lesson.id] = Kit(self.student(lesson), self.model(lesson.model), lesson,
                                       {name: self.model(name) for name in lesson.also})
        return self.kits[lesson.id]

    def _declared(self, lesson: Lesson) -> dict[str, str | None]:
        from vllm_course.grading.registry import declared

        if lesson.id not in self._rules:
            self._rules[lesson.id] = {d.name: d.function for d in declared(lesson)}
        return self._rules[lesson.id]

    # --- collection checks -----------------------------------------------
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        for item in items:
            lesson = _lesson_for_grader(item.path)
            if lesson is None:
                continue
            marker = item.get_closest_marker("exercise")
            if marker is None or not marker.args:
                raise pytest.UsageError(
                    f"{item.nodeid}: grader tests need @pytest.mark.exercise(\"function\")")
            function = marker.args[0]
            try:
                lesson.exercise(function)
            except KeyError as e:
                raise pytest.UsageError(f"{item.nodeid}: {e.args[0]}") from None
            rule = self._declared(lesson).get(item.originalname)
            if rule != function:  # notebooks and course check read the same files by registry.py
                raise pytest.UsageError(
                    f"{item.nodeid}: pytest grades it as {function!r}, the kit's rule "
                    f"(vllm_course/grading/registry.py) as {rule!r}: mark the function itself")
            item.stash[_LESSON] = lesson
            item.stash[_FUNCTION] = function
            self.results.setdefault(lesson.id, scoring.new_results(lesson))

    # --- running -----------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        if _LESSON not in item.stash:
            return (yield)
        lesson = item.stash[_LESSON]
        if lesson.serve is not None:  # its start-up is no check's time
            self.kit(lesson).server_url(progress=_server_progress())
        seconds = self.config.getoption("--time-limit")
        with time_limit(seconds, item.stash[_FUNCTION]):
            return (yield)

    def pytest_sessionfinish(self, session):
        for kit in self.kits.values():  # also after Ctrl-C and crashes: pytest calls this
            kit.close()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        report = yield
        if _LESSON not in item.stash:
            return report
        lesson, function = item.stash[_LESSON], item.stash[_FUNCTION]
        result = self.results[lesson.id][function]
        if report.when == "call" or (report.when == "setup" and report.failed):
            kit_error = report.failed and call.excinfo is not None and \
                isinstance(call.excinfo.value, feedback.KitError)
            report.kit_error = kit_error  # read by the warm grader's child (child.py)
            result.outcomes.append(None if kit_error else report.passed)
            if report.failed and call.excinfo is not None:
                message = feedback.render(lesson, function, call.excinfo.value)
                result.messages.append(message)
                report.longrepr = message
                # The feedback says it all; captured vLLM logs would bury it.
                report.sections = [s for s in report.sections if not s[0].startswith("Captured")]
        return report

    def pytest_terminal_summary(self, terminalreporter):
        if not self.results:
            return
        for lesson_id, results in self.results.items():
            lesson = course().lesson(lesson_id)
            terminalreporter.write_line("")
            for line in scoring.table(lesson, results):
                terminalreporter.write_line(line)
        if self.config.getoption("--target") == "exercises" and \
                not self.config.getoption("--notebook-code"):
            from vllm_course.grading import progress  # the student's own files: keep their progress

            for lesson_id, results in self.results.items():
                progress.record(course().lesson(lesson_id),
                                {f: r.status for f, r in results.items()})
        path = self.config.getoption("--results")
        if path:
            data = scoring.gradescope(
                [(course().lesson(lid), res) for lid, res in self.results.items()],
                time.monotonic() - self.started)
            scoring.write_results(Path(path), data)
            terminalreporter.write_line(f"results written to {path}")


def _server_progress():
    """Says once that the lesson's server is starting (it takes a while)."""
    said = []

    def progress(waited: float) -> None:
        if not said:
            said.append(True)
            print("\nstarting `vllm serve` for this lesson's checks (about a minute)...",
                  file=sys.stderr, flush=True)

    return progress


_LESSON = pytest.StashKey[Lesson]()
_FUNCTION = pytest.StashKey[str]()


@contextmanager
def time_limit(seconds: float, function: str):
    """Raise GradingTimeout in the test after `seconds` (main thread, POSIX)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def stop(signum, frame):
        raise feedback.GradingTimeout(feedback.timeout_message(seconds, function))

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _session(request) -> GradingSession:
    return request.config.pluginmanager.get_plugin("vllm_course_grading_session")


def _lesson(request) -> Lesson:
    lesson = _lesson_for_grader(request.node.path)
    if lesson is None:
        raise pytest.UsageError(f"{request.node.nodeid} is not in graders/<lesson>/")
    return lesson


@pytest.fixture
def student(request) -> Student:
    """The submission's functions; using one fails the test with feedback if
    the file does not import, so a broken file scores 0 without crashing."""
    return _session(request).student(_lesson(request))


@pytest.fixture
def kit(request) -> Kit:
    """The shared engine and the kit's references for this lesson."""
    return _session(request).kit(_lesson(request))
