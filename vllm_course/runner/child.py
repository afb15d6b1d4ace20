"""The graded child of the warm grader: plain `pytest exercises/lessonNN`,
run inside a forked, isolated process, reporting each check to the parent.

It runs exactly what a student's pytest run runs (the kit's plugin, the same
grader tests, the same feedback); the `Reporter` plugin only adds:
- the list of checks, sent before any submission code runs;
- the submission imported right after collection, so that a file that hangs or
  dies on import is told apart from a failing check;
- one event per check start and per result, with tamper detection
  (integrity.py) before each result is sent;
- for the warm-up's reference run only, the premises it established, which
  the parent hands to every child after it (premises.py).
The child never scores: the parent counts the results it receives.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from vllm_course.grading import feedback, integrity
from vllm_course.runner import sandbox, visible
from vllm_course.grading.kit import SERVER_URL_ENV
from vllm_course.course.manifest import REPO_ROOT, course

# Events (one JSON object per line on the result pipe), child -> parent.
SANDBOX, COLLECTED, IMPORT_START, IMPORT_DONE = "sandbox", "collected", "import-start", "import-done"
START, RESULT, MODULES, DONE, ERROR = "start", "result", "modules", "done", "error"
PREMISES = "premises"


class Channel:
    def __init__(self, fd: int) -> None:
        self.fd = fd

    def send(self, event: str, **data) -> None:
        line = (json.dumps(dict(data, event=event)) + "\n").encode()
        view = memoryview(line)
        while view:
            view = view[os.write(self.fd, view):]


def _function_of(item) -> str:
    return item.get_closest_marker("exercise").args[0]


class Reporter:
    def __init__(self, channel: Channel, lesson_id: str, keep: list[str] | None,
                 report_modules: bool) -> None:
        self.channel = channel
        self.lesson = course().lesson(lesson_id)
        self.keep = None if keep is None else set(keep)
        self.report_modules = report_modules
        self.snapshot: integrity.Snapshot | None = None
        self.functions: dict[str, str] = {}

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        if self.keep is None:
            return
        dropped = [i for i in items if i.nodeid not in self.keep]
        items[:] = [i for i in items if i.nodeid in self.keep]
        if dropped:
            config.hook.pytest_deselected(items=dropped)

    def pytest_collection_finish(self, session):
        self.functions = {i.nodeid: _function_of(i) for i in session.items}
        self.channel.send(COLLECTED, checks=[[n, f] for n, f in self.functions.items()])
        # Recorded before the submission runs a single line.
        self.snapshot = integrity.Snapshot({i.module for i in session.items})
        grading = session.config.pluginmanager.get_plugin("vllm_course_grading_session")
        self.channel.send(IMPORT_START)
        student = grading.student(self.lesson)
        broken = student.broken
        self.channel.send(IMPORT_DONE, broken=str(broken) if broken else None)

    def pytest_runtest_logstart(self, nodeid, location):
        self.channel.send(START, nodeid=nodeid)

    def pytest_runtest_logreport(self, report):
        if not (report.when == "call" or (report.when == "setup" and report.failed)):
            return
        changed = self.snapshot.verify() if self.snapshot else []
        message = str(report.longrepr) if report.failed else ""
        if changed:
            function = self.functions[report.nodeid]
            message = feedback.render(self.lesson, function, feedback.Tampering(
                "the submission changed the grading machinery during this check ("
                + ", ".join(changed[:5]) + (", ..." if len(changed) > 5 else "")
                + "), so the check is failed. Grade your own code, not the grader."))
        self.channel.send(RESULT, nodeid=report.nodeid, passed=report.passed and not changed,
                          kit_error=bool(getattr(report, "kit_error", False)) and not changed,
                          message=message, tampered=changed)

    def pytest_sessionfinish(self, session):
        if self.report_modules:  # the warm-up's reference run: trusted code only
            self.channel.send(MODULES, names=sorted(n for n, m in sys.modules.items() if m))
            from vllm_course.grading.premises import exported

            grading = session.config.pluginmanager.get_plugin("vllm_course_grading_session")
            kit = grading.kits.get(self.lesson.id) if grading else None
            self.channel.send(PREMISES, entries=exported(kit.premises) if kit else [])
        self.channel.send(DONE)


def main(request: dict, result_fd: int, output_fd: int) -> None:
    """Run in the forked child; never returns."""
    channel = Channel(result_fd)
    try:
        os.setpgid(0, 0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        keep = {0, 1, 2, result_fd}
        for fd in map(int, os.listdir("/proc/self/fd")):
            if fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        sys.dont_write_bytecode = True
        kit_env = dict(request["env"])
        server = request["server"]
        if server:  # the grader's one server: the kit uses it instead of starting its own
            kit_env[SERVER_URL_ENV] = server["url"]
        if request["sandbox"]:  # none of the grader's own variables (tokens, paths)
            kept = visible.environment(dict(os.environ), kit_env)
            os.environ.clear()
            os.environ.update(kept)
        else:
            os.environ.update(kit_env)
        if request["sandbox"]:
            workdir, missing = sandbox.enter(request["uid"], request["tmp_bytes"],
                                             server["port"] if server else None,
                                             request["visible"])
        else:
            workdir, missing = sandbox.own_workdir(), []
        channel.send(SANDBOX, workdir=workdir, missing=missing)
        # The submission is graded from a copy of the bytes the parent read:
        # the sandbox may not see the original, and nothing can change it now.
        target = request["origin"]
        if request["source"] is not None:
            target = os.path.join(workdir, request["filename"])
            with open(target, "wb") as f:
                f.write(request["source"])
        import torch

        from vllm_course.grading import premises

        premises.seed(request["premises"])  # established by the reference run
        torch.set_num_threads(request["threads"])
        lesson = course().lesson(request["lesson"])
        pytest.main([str(lesson.exercise_path), "--target", target, "-q", "-s", "-p", "no:cacheprovider",
                     "--time-limit", "0", "--rootdir", str(REPO_ROOT),
                     # The kit is imported before pytest starts, in the warm parent.
                     "-W", "ignore::pytest.PytestAssertRewriteWarning",
                     *(["--notebook-code"] if request["notebook"] else [])],
                    plugins=[Reporter(channel, lesson.id, request["keep"], request["report_modules"])])
    except BaseException as e:  # noqa: BLE001 - told to the parent, which decides
        try:
            channel.send(ERROR, message=f"{type(e).__name__}: {e}")
        except OSError:
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(0)
