"""One grading slot on a Ray node: a long-lived actor holding one warm grader.

The actor only relays: it starts the warm-grader service (service.py) as a
plain process of its own and passes each submission's bytes to it. It never
imports vLLM, the graders or student code (stdlib only here), so Ray's
threaded worker stays out of the fork the warm grader makes per submission.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections import deque

LOG_LINES = 20  # of the service's log, quoted when it fails


class SlotError(RuntimeError):
    """The slot's service failed or ended: its submission goes elsewhere."""


class GradingSlot:
    def __init__(self, lessons: list[str], limits: dict, sandbox: bool, env: dict,
                 threads: int) -> None:
        self.log = tempfile.NamedTemporaryFile("w+", prefix="vllm-course-slot-", suffix=".log")
        command = [sys.executable, "-m", "vllm_course.runner.service", *lessons,
                   "--limits", json.dumps(limits), "--threads", str(threads)]
        command += [] if sandbox else ["--no-sandbox"]
        self.service = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.log, env=dict(os.environ, **env),
                                        text=True, bufsize=1)
        self.error: str | None = None
        self.warm_up_failed = False
        first = self.service.stdout.readline()
        try:
            reply = json.loads(first)
        except ValueError:
            self.error = self._failure("the grading service ended while warming up")
            return
        if "error" in reply:
            self.error, self.warm_up_failed = reply["error"], True

    def ready(self) -> dict:
        """Where this slot runs, and whether it warmed up."""
        return {"host": socket.gethostname(), "pid": os.getpid(),
                "service": self.service.pid, "error": self.error,
                "warm_up_failed": self.warm_up_failed}

    def grade(self, request: dict) -> dict:
        if self.error:
            raise SlotError(self.error)
        try:
            self.service.stdin.write(json.dumps(request) + "\n")
            self.service.stdin.flush()
            line = self.service.stdout.readline()
            return json.loads(line)["graded"]
        except (OSError, ValueError, KeyError) as e:
            raise SlotError(self._failure(f"the grading service failed ({e!r})")) from None

    def _failure(self, what: str) -> str:
        code = self.service.poll()
        self.log.seek(0)
        tail = "".join(deque(self.log, maxlen=LOG_LINES))
        status = "" if code is None else f", exit status {code}"
        return f"{what} on {socket.gethostname()}{status}; its last log lines:\n{tail}"
