"""The warm grader: pays vLLM's start-up once, then grades each submission in a
fresh, isolated child process forked from that warm state.

Why fork, not a forkserver: the parent is a plain single-threaded process that
has imported vLLM, torch, pytest and the kit, and has never created an engine
or run a torch operation (so no thread pool exists to be broken by fork).
`os.fork` then gives each child all those modules for free, copy-on-write,
with no pickling of requests. A forkserver would add a second process and a
protocol for the same effect. Before the first fork the parent grades the
lesson's reference solution once (trusted code) in a child, which both proves
the set-up works and tells which modules an engine start imports lazily; the
parent imports those too, then freezes its heap out of the garbage
collector's sight (`gc.freeze`), the usual pre-fork-server cure for vLLM's
repeated `gc.collect()` at start-up. That run also reports the inputs its
checks' premises chose (premises.py), and every later child starts with them
instead of asking the model again.

Each child runs `pytest exercises/<lesson>` with the kit's own plugin
(child.py), so nothing is checked twice in two ways, and reports each check
over a pipe. The parent alone keeps time, memory and output limits, kills a
child that breaks one, reruns the remaining checks in a fresh child, and
computes the score. One event loop (selectors), no threads: forking from a
threaded process is unsafe.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import selectors
import shutil
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from vllm_course.runner import child as events
from vllm_course.grading import feedback, scoring
from vllm_course.runner import visible
from vllm_course.grading.kit import reference_module
from vllm_course.runner.sandbox import UID_BASE
from vllm_course.course.limits import DEFAULT, GIB, MIB, Limits
from vllm_course.course.manifest import Lesson
from vllm_course.course.paths import WORKDIR_PREFIX

MAX_JOBS = 64
POLL_SECONDS = 0.2
MEMORY_POLL_SECONDS = 0.5
EXIT_GRACE_SECONDS = 2.0
NOT_RUN = "this check could not be run"  # a child ended without running it


@dataclass(frozen=True)
class Submission:
    student: str  # the id it is reported under
    lesson: Lesson
    path: Path  # the file handed in (a .py, or a notebook)
    source: bytes | None = None  # the code to grade, when it is not the file's bytes
    exercises: frozenset[str] | None = None  # grade only these exercises' checks (mutants)

    @property
    def notebook(self) -> bool:
        return self.path.suffix == ".ipynb"


@dataclass
class Graded:
    submission: Submission
    results: dict[str, scoring.ExerciseResult]
    notes: list[str]
    output: str
    seconds: float
    children: int
    tampered: list[str]

    @property
    def score(self) -> int:
        return sum(r.points for r in self.results.values())

    @property
    def kit_errors(self) -> list[str]:
        """Exercises the kit could not grade: the grade is not final."""
        return scoring.kit_errors(self.results)

    def results_json(self) -> dict:
        """Gradescope's results.json, with the kit's notes beside it."""
        data = scoring.gradescope([(self.submission.lesson, self.results)], self.seconds,
                                  self.notes)
        data["extra_data"] = {"lesson": self.submission.lesson.id, "tampered": self.tampered,
                              "seconds": round(self.seconds, 1), "processes": self.children,
                              "kit_errors": self.kit_errors}
        return data


class WarmUpError(RuntimeError):
    """The reference solutions do not pass here: the set-up, not a student, is broken."""


@dataclass
class _Task:
    submission: Submission
    source: bytes | None  # read once, so that every child grades the same text
    report_modules: bool = False
    checks: list[tuple[str, str]] | None = None  # (node id, exercise), in run order
    results: dict[str, tuple[bool | None, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    output: bytearray = field(default_factory=bytearray)
    dropped: int = 0
    # Set when its first child starts: time spent waiting in the queue counts
    # neither against submission_seconds nor in the seconds reported.
    started: float | None = None
    children: int = 0
    tampered: list[str] = field(default_factory=list)

    def pending(self) -> list[str]:
        return [n for n, _ in self.checks or [] if n not in self.results]

    def function(self, nodeid: str) -> str:
        return dict(self.checks or [])[nodeid]

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


@dataclass
class _Child:
    pid: int
    slot: int
    uid: int | None
    task: _Task
    result_fd: int
    output_fd: int
    buffer: bytes = b""
    open_fds: int = 2
    phase: str = "starting"  # starting, importing, checking
    current: str | None = None
    since: float = field(default_factory=time.monotonic)
    done: bool = False
    stopped: str | None = None  # why the parent killed it
    memory_checked: float = 0.0
    results_before: int = 0  # results the task had when this child started
    status: int | None = None  # from waitpid, once it has exited
    workdir: str | None = None  # removed when it is reaped
    reported_sandbox: bool = False
    exited: float = 0.0
    ended: str = ""  # why it ended early, when it did


class WarmGrader:
    def __init__(self, limits: Limits = DEFAULT, jobs: int = 1, sandbox: bool = True,
                 log: Callable[[str], None] | None = None, threads: int | None = None) -> None:
        self.limits = limits
        self.jobs = max(1, min(jobs, MAX_JOBS))
        self.sandbox = sandbox and sys.platform.startswith("linux")
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.models: dict[str, str] = {}  # hub id -> the model its lessons load
        self._child_env: dict[str, str] | None = None
        self.checks: dict[str, list[tuple[str, str]]] = {}
        self.servers: dict = {}  # lesson id -> its serving.Server, one for the whole run
        self._modules: set[str] = set()
        # lesson id -> the premises its reference run established (premises.py),
        # handed to every child: established once per run, not per submission.
        self.premises: dict[str, list] = {}
        cores = len(os.sched_getaffinity(0))
        # Torch threads per child: the machine's cores shared by the jobs, or
        # what the caller was given (a Ray slot shares its node with others).
        self.threads = threads or max(1, cores // self.jobs)
        # Slots of different graders on one machine get different uids.
        self._uid_base = None if not self.sandbox or os.geteuid() != 0 else (
            UID_BASE + (os.getpid() % 4096) * MAX_JOBS)
        self._visible: list[str] = []  # what a sandboxed child may read (visible.py)
        self._snapshot: str | None = None  # its readable copy of vLLM's cache
        self._sandbox_env: dict[str, str] = {}

    # --- warm-up ----------------------------------------------------------
    def prepare(self, lessons: Iterable[Lesson]) -> None:
        """Import everything once, and grade each lesson's solution to learn its
        checks. Raises WarmUpError if a reference solution does not pass."""
        lessons = [l for l in lessons if l.id not in self.checks]
        if self._child_env is None:
            self._import_runtime()
        for lesson in lessons:
            self._resolve_model(lesson)
            self._start_server(lesson)
        for lesson in lessons:
            self.log(f"warming up: grading the reference solution of {lesson.id}")
            solution = lesson.solution_path
            task = _Task(Submission("reference", lesson, solution), _read(solution),
                         report_modules=True)
            graded = self._run([task])[0]
            if graded.score != lesson.max_points:
                failed = [m for r in graded.results.values() for m in r.messages]
                raise WarmUpError(
                    f"the reference solution of {lesson.id} scores {graded.score}/"
                    f"{lesson.max_points} here, so nothing can be graded fairly:\n"
                    + "\n".join(failed[:3] + graded.notes[:3])
                    + "\nRun `pytest exercises/" + lesson.id + " --target solutions` to see why.")
            self.checks[lesson.id] = task.checks
            # Loaded here, before any submission: a check that lends the reference's
            # helpers (kit.reference_helpers) finds them in memory, while the
            # sandboxed submission cannot open solutions/.
            reference_module(lesson)
        if self._uid_base is not None:
            self._isolate()
        self._preload()

    def _isolate(self) -> None:
        """What sandboxed children see (visible.py), settled after the
        reference runs, which fill vLLM's cache."""
        if self._snapshot is None:
            self._snapshot = tempfile.mkdtemp(prefix="course-vllm-cache-")
            os.chmod(self._snapshot, 0o755)
        visible.readable_cache(self._child_env["VLLM_CACHE_ROOT"], self._snapshot)
        self._sandbox_env = dict(self._child_env, VLLM_CACHE_ROOT=self._snapshot)
        self._visible = visible.paths(self.models.values(), self._child_env) + [self._snapshot]
        try:
            visible.check_readable(self._visible, self._sandbox_env)
        except visible.NotReadable as e:
            raise WarmUpError(str(e)) from None

    def _resolve_model(self, lesson: Lesson) -> None:
        """Resolve the lesson's models once; children find them in their environment."""
        from vllm_course.course.manifest import course
        from vllm_course.models.model_resolution import resolve

        for spec in course().models_of(lesson):
            if spec.name in self.models:
                continue
            chosen = resolve(spec, progress=self.log)
            if chosen.notice:
                self.log(chosen.notice)
            self.models[spec.name] = chosen.model
            self._child_env[spec.env] = chosen.model

    def _start_server(self, lesson: Lesson) -> None:
        """One `vllm serve` per lesson that needs one, for every submission
        (a process of its own: this process still never makes an engine)."""
        if lesson.serve is None or lesson.id in self.servers:
            return
        from vllm_course.runtime import serving

        self.log(f"starting `vllm serve` for {lesson.id}'s checks (once for the run)")
        try:
            self.servers[lesson.id] = serving.start_for(lesson, self.models[lesson.model])
        except serving.ServerError as e:
            raise WarmUpError(f"the server {lesson.id}'s checks need did not start: {e}") from None

    def close(self) -> None:
        """Stop the servers this grader started; remove its cache snapshot."""
        while self.servers:
            self.servers.popitem()[1].stop()
        if self._snapshot:
            shutil.rmtree(self._snapshot, ignore_errors=True)

    def __enter__(self) -> "WarmGrader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _import_runtime(self) -> None:
        from vllm_course.runtime.vllm_version import check

        check()
        import huggingface_hub.constants
        import vllm.envs

        # Caches stay where the reference run wrote them: a sandboxed child
        # (HOME in its own working folder) reads them and cannot write them.
        from vllm_course.course.paths import cache_root

        self._child_env = {"PYTHONDONTWRITEBYTECODE": "1",
                           "VLLM_COURSE_CACHE": str(cache_root().resolve()),
                           "VLLM_CACHE_ROOT": str(Path(vllm.envs.VLLM_CACHE_ROOT).resolve()),
                           "HF_HOME": str(Path(huggingface_hub.constants.HF_HOME).resolve()),
                           "HF_HUB_OFFLINE": "1"}
        import pytest  # noqa: F401
        import torch  # noqa: F401
        import vllm  # noqa: F401
        from vllm import LLM, SamplingParams  # noqa: F401

        import vllm_course.grading.plugin  # noqa: F401

    def _preload(self) -> None:
        """Import what the reference run imported lazily (only deeper modules of
        packages the parent already has), then freeze the heap for the children."""
        roots = {name.split(".")[0] for name in sys.modules}
        for name in sorted(self._modules - set(sys.modules)):
            if name.split(".")[0] in roots and not name.startswith("_graded_"):
                try:
                    importlib.import_module(name)
                except Exception:  # noqa: BLE001 - a preload is an optimisation only
                    pass
        self._modules.clear()
        gc.collect()
        gc.freeze()

    # --- grading ------------------------------------------------------------
    def grade(self, submission: Submission) -> Graded:
        return self.grade_all([submission])[0]

    def grade_all(self, submissions: list[Submission],
                  on_done: Callable[[Graded], None] | None = None) -> list[Graded]:
        """Grade each submission alone, `jobs` at a time; results in input order."""
        self.prepare({s.lesson.id: s.lesson for s in submissions}.values())
        tasks = [_Task(s, s.source if s.source is not None else _read(s.path),
                       checks=[c for c in self.checks[s.lesson.id]
                               if s.exercises is None or c[1] in s.exercises])
                 for s in submissions]
        return self._run(tasks, on_done)

    def _run(self, tasks: list[_Task], on_done=None) -> list[Graded]:
        self._selector = selectors.DefaultSelector()
        self._by_fd: dict[int, _Child] = {}  # the pipes still open
        queue = deque(tasks)
        free = list(range(self.jobs))
        live: list[_Child] = []
        finished: dict[int, Graded] = {}
        order = {id(t): i for i, t in enumerate(tasks)}
        try:
            while queue or live:
                while queue and free:
                    task = queue.popleft()
                    keep = None if task.submission.exercises is None else task.pending()
                    live.append(self._spawn(task, free.pop(0), keep))
                for key, _ in self._selector.select(timeout=POLL_SECONDS):
                    self._read(key.fd, self._by_fd[key.fd])
                now = time.monotonic()
                for c in list(live):
                    # A process it left running may hold its pipes: not waited for.
                    if c.open_fds and not self._exited_long_ago(c, now):
                        self._enforce(c, now)
                        continue
                    live.remove(c)
                    self._reap(c)
                    keep = self._next_checks(c.task, c)
                    if keep:
                        live.append(self._spawn(c.task, c.slot, keep))
                        continue
                    free.append(c.slot)
                    graded = self._finish(c.task)
                    finished[order[id(c.task)]] = graded
                    if on_done:
                        on_done(graded)
        finally:
            for c in live:
                self._kill(c, "the grading run was interrupted")
                self._reap(c)
            self._selector.close()
        return [finished[i] for i in range(len(tasks))]

    def _close(self, fd: int, owner: _Child) -> None:
        # Once closed, an fd number goes to the next pipe opened, maybe another
        # child's: a late close for the old owner (its reap) must not touch it.
        if self._by_fd.get(fd) is not owner:
            return
        del self._by_fd[fd]
        self._selector.unregister(fd)
        os.close(fd)
        owner.open_fds -= 1

    def _spawn(self, task: _Task, slot: int, keep) -> _Child:
        result_r, result_w = os.pipe()
        output_r, output_w = os.pipe()
        uid = None if self._uid_base is None else self._uid_base + slot
        lesson = task.submission.lesson
        # The reference run is trusted and runs unisolated, as a student's plain
        # pytest would: it fills vLLM's caches (the model-class inspection alone
        # costs a 10 s subprocess on a miss), which sandboxed children then read.
        isolated = self.sandbox and not task.report_modules
        request = {"lesson": lesson.id, "source": task.source, "keep": keep,
                   "filename": lesson.exercise_file, "origin": str(task.submission.path),
                   "notebook": task.submission.notebook,
                   "report_modules": task.report_modules, "sandbox": isolated,
                   "uid": uid, "tmp_bytes": self.limits.tmp_bytes, "threads": self.threads,
                   "env": self._sandbox_env if isolated and self._sandbox_env else self._child_env,
                   "server": self._server_of(lesson),
                   "premises": self.premises.get(lesson.id, []), "visible": self._visible}
        if threading.active_count() > 1:  # a fork would copy their locks, held
            raise RuntimeError("the warm grader's process has started threads "
                               f"({[t.name for t in threading.enumerate()]}); it must fork alone")
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(result_r)
            os.close(output_r)
            events.main(request, result_w, output_w)
        os.close(result_w)
        os.close(output_w)
        if task.started is None:
            task.started = time.monotonic()
        task.children += 1
        c = _Child(pid, slot, uid, task, result_r, output_r, results_before=len(task.results))
        for fd in (result_r, output_r):
            os.set_blocking(fd, False)
            self._selector.register(fd, selectors.EVENT_READ)
            self._by_fd[fd] = c
        return c

    def _server_of(self, lesson: Lesson) -> dict | None:
        server = self.servers.get(lesson.id)
        return None if server is None else {"url": server.url, "port": server.port}

    def _read(self, fd: int, c: _Child) -> None:
        try:
            data = os.read(fd, 1 << 16)
        except BlockingIOError:
            return
        if not data:
            self._close(fd, c)
            return
        if fd == c.output_fd:
            task = c.task
            room = self.limits.output_bytes - len(task.output)
            task.output += data[:max(room, 0)]
            task.dropped += max(len(data) - max(room, 0), 0)
            return
        c.buffer += data
        *lines, c.buffer = c.buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line)
                self._on_event(c, event)
            except (ValueError, KeyError, TypeError):
                c.task.note("the submission wrote into the grader's report channel; "
                            "that text was ignored")
                c.task.tampered.append("report channel")

    def _on_event(self, c: _Child, event: dict) -> None:
        kind, task, now = event["event"], c.task, time.monotonic()
        if kind == events.SANDBOX:
            if c.reported_sandbox:  # sent once, before any student code: a second is forged
                raise ValueError("a second sandbox report")
            c.reported_sandbox = True
            workdir = Path(event["workdir"])
            # Only ever remove what own_workdir makes: a fresh folder in the temp dir.
            if workdir.parent == Path(tempfile.gettempdir()) and \
                    workdir.name.startswith(WORKDIR_PREFIX):
                c.workdir = str(workdir)
            for missing in event["missing"]:
                task.note(f"isolation: {missing}")
        elif kind == events.COLLECTED:
            if task.checks is None:
                task.checks = [tuple(pair) for pair in event["checks"]]
        elif kind == events.IMPORT_START:
            c.phase, c.since = "importing", now
        elif kind == events.IMPORT_DONE:
            c.phase = "checking"
        elif kind == events.START:
            if event["nodeid"] in dict(task.checks or []):
                c.current, c.since = event["nodeid"], now
        elif kind == events.RESULT:
            nodeid = event["nodeid"]
            if nodeid == c.current and nodeid not in task.results:
                # None: a kit error, neither passed nor failed (scoring.ExerciseResult).
                passed = None if event.get("kit_error") else bool(event["passed"])
                task.results[nodeid] = (passed, str(event["message"]))
                task.tampered.extend(event["tampered"])
            c.current = None
        elif kind == events.MODULES:
            self._modules.update(event["names"])
        elif kind == events.PREMISES:
            if task.report_modules:  # only the reference run's, never a submission's
                self.premises[task.submission.lesson.id] = event["entries"]
        elif kind == events.DONE:
            c.done = True
        elif kind == events.ERROR:
            task.note(f"the grading process failed: {event['message']}")

    # --- limits -------------------------------------------------------------
    def _enforce(self, c: _Child, now: float) -> None:
        if c.stopped:
            return
        limits, function = self.limits, None
        if c.current is not None:
            function = c.task.function(c.current)
        if now - c.task.started > limits.submission_seconds:
            self._kill(c, self._overall_message())
        elif c.phase == "importing" and now - c.since > limits.check_seconds:
            self._kill(c, f"importing the file did not finish within {limits.check_seconds:g} s: "
                          "look for a loop or a long computation at the top level of the file")
        elif function and now - c.since > limits.check_seconds:
            self._kill(c, feedback.timeout_message(limits.check_seconds, function))
        elif now - c.memory_checked > MEMORY_POLL_SECONDS:
            c.memory_checked = now
            used = sum(_rss(pid) for pid in self._pids(c))
            if used > limits.memory_bytes:
                self._kill(c, f"used {used / GIB:.2f} GiB of memory, more than the limit of "
                              f"{limits.memory_bytes / GIB:.2f} GiB, and was stopped: look for a "
                              "list or string that grows without end, or an engine created twice")

    def _overall_message(self) -> str:
        return (f"all checks together took more than {self.limits.submission_seconds:g} s, "
                "the limit for one submission")

    def _pids(self, c: _Child) -> list[int]:
        """Every process of the submission: its uid's (sandboxed) or its group's."""
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                if c.uid is not None:
                    with open(f"/proc/{entry}/status") as f:
                        uid_line = next(l for l in f if l.startswith("Uid:"))
                    if int(uid_line.split()[1]) == c.uid:
                        found.append(int(entry))
                else:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[2]) == c.pid:
                            found.append(int(entry))
            except (OSError, StopIteration, ValueError, IndexError):
                continue
        return found

    def _kill(self, c: _Child, why: str) -> None:
        if c.stopped is None:
            c.stopped = why
        for target in (lambda: os.killpg(c.pid, signal.SIGKILL), lambda: os.kill(c.pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass
        self._sweep(c)

    def _sweep(self, c: _Child) -> None:
        """Kill what the submission left running (a daemon that left the group)."""
        for pid in self._pids(c):
            if pid != os.getpid():
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def _exited_long_ago(self, c: _Child, now: float) -> bool:
        """True once the child has exited and EXIT_GRACE_SECONDS have passed:
        a process it left running (holding its pipes open) is not waited for."""
        if c.status is None:
            try:
                pid, status = os.waitpid(c.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = c.pid, 0
            if pid == 0:
                return False
            c.status, c.exited = status, now
        return now - c.exited > EXIT_GRACE_SECONDS

    def _reap(self, c: _Child) -> None:
        for fd in (c.result_fd, c.output_fd):
            self._close(fd, c)
        if c.status is None:
            try:
                _, c.status = os.waitpid(c.pid, 0)
            except ChildProcessError:
                c.status = 0
        status = c.status
        try:  # its group: the relay to the server (port_relay.py) goes too
            os.killpg(c.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self._sweep(c)
        if c.workdir:  # empty here when it was the child's own mount
            shutil.rmtree(c.workdir, ignore_errors=True)
        if c.done:
            return
        task = c.task
        if c.stopped:
            why = c.stopped
        elif os.WIFSIGNALED(status):
            sig = signal.Signals(os.WTERMSIG(status)).name
            why = f"the process running it was killed by {sig}"
        else:
            code = os.WEXITSTATUS(status)
            why = (f"the process running it ended (exit status {code}) before the check "
                   "finished: sys.exit, os._exit or a crash in your code ends grading; "
                   "return a value instead")
        c.ended = why
        lesson = task.submission.lesson
        if c.phase == "importing" or task.checks is None:
            for nodeid in task.pending():
                function = task.function(nodeid)
                task.results[nodeid] = (False, feedback.render(lesson, function, feedback.ProcessDied(
                    f"your file could not be imported: {why}.")))
            if task.checks is None:
                task.note(f"the submission could not be graded: {why}")
        elif c.current is not None:
            function = task.function(c.current)
            task.results[c.current] = (False, feedback.render(lesson, function,
                                                              feedback.ProcessDied(why)))
        if c.stopped == self._overall_message():
            for nodeid in task.pending():
                task.results[nodeid] = (False, feedback.render(
                    lesson, task.function(nodeid), feedback.ProcessDied(c.stopped)))

    def _next_checks(self, task: _Task, c: _Child) -> list[str] | None:
        """The checks a fresh child should run, or None when the task is over."""
        pending = task.pending()
        if not pending:
            return None
        # A child that ran to its end, or died without finishing a check, will
        # not do better a second time: what is left is not run.
        if c.done or len(task.results) == c.results_before:
            task.note(f"the grading process ended with {len(pending)} check(s) not run: "
                      + (c.ended or "pytest finished without them; its output says why"))
            for nodeid in pending:
                task.results[nodeid] = (False, feedback.render(
                    task.submission.lesson, task.function(nodeid),
                    feedback.ProcessDied(NOT_RUN)))
            return None
        return pending

    def _finish(self, task: _Task) -> Graded:
        lesson = task.submission.lesson
        results = scoring.new_results(lesson)
        for nodeid, function in task.checks or []:
            passed, message = task.results.get(nodeid, (False, f"{function}: not run"))
            results[function].outcomes.append(passed)
            if not passed and message:
                results[function].messages.append(message)
        if not self.sandbox:
            task.note("isolation: turned off (--no-sandbox): the submission ran as this user, "
                      "with the network")
        if task.dropped:
            task.note(f"output cut at {self.limits.output_bytes / MIB:g} MiB: "
                      f"{task.dropped} more bytes were dropped")
        if task.tampered:
            task.note("tampering detected: " + ", ".join(sorted(set(task.tampered))[:10]))
        return Graded(task.submission, results, task.notes,
                      task.output.decode("utf-8", "replace"),
                      time.monotonic() - task.started, task.children, sorted(set(task.tampered)))


def _read(path: Path) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0
