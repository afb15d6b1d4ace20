"""One `vllm serve` at a time: on 127.0.0.1 and a free port, health-checked,
and always stopped.

    with serve(model) as server:          # waits for /health
        client = OpenAI(base_url=server.base_url, api_key="unused")
        ...
    # stopped here: after the block, when it raises (a student's crash, a
    # check's timeout) and on Ctrl-C; its whole process group goes with it.

The server runs in a session of its own (its watchdog, its API process and the
engine process it spawns), so that stopping it reaches every process it
started; and if the process that started it dies without stopping it (killed
outright), its watchdog (server_watchdog.py) stops it.
Start-up is bounded by limits.server_start_seconds; a server that exits or
does not become healthy in time raises ServerError with its last log lines.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from vllm_course.course.limits import DEFAULT as LIMITS
from vllm_course.runtime.server_watchdog import STOP_SECONDS  # after SIGTERM, before SIGKILL

HOST = "127.0.0.1"  # never 0.0.0.0: the server is for this machine only
LOG_LINES = 25  # of the server's log, shown when it fails
# Never passed to a server: they open routes that change it for every client
# (dev mode: /sleep, /collective_rpc, cache resets; runtime LoRA loading), and
# during class grading every submission shares one server.
SHARED_SERVER_UNSAFE_ENV = ("VLLM_SERVER_DEV_MODE", "VLLM_ALLOW_RUNTIME_LORA_UPDATING")


class ServerError(RuntimeError):
    pass


@dataclass
class Server:
    model: str
    port: int
    process: subprocess.Popen  # the server's watchdog (server_watchdog.py), its session's leader
    log_path: Path
    lifeline: int | None = None  # closed once the server is stopped

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """What the openai client takes as base_url."""
        return f"{self.url}/v1"

    def last_lines(self, n: int = LOG_LINES) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join(lines[-n:])

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL if it lingers."""
        if self.process.poll() is None:
            _signal_group(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        # The engine process may outlive the API process: the group goes in all cases.
        _signal_group(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_SECONDS)
        if self.lifeline is not None:
            os.close(self.lifeline)
            self.lifeline = None


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def start(model: str, *args: str, timeout: float | None = None, log_dir: str | None = None,
          progress=None) -> Server:
    """Start `vllm serve model *args` and wait until it is healthy. Relative
    paths in `args` are read from the repository root."""
    from vllm_course.course.manifest import REPO_ROOT

    timeout = LIMITS.server_start_seconds if timeout is None else timeout
    port = free_port()
    log_path = Path(tempfile.mkstemp(prefix="vllm-serve-", suffix=".log", dir=log_dir)[1])
    command = [str(Path(sys.executable).parent / "vllm"), "serve", model,
               "--host", HOST, "--port", str(port), *args]
    # The server's watchdog holds the read end; when this process dies, however
    # it dies, the write end closes and the watchdog stops the server.
    lifeline, keep = os.pipe()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "vllm_course.runtime.server_watchdog", str(lifeline), "--", *command],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=REPO_ROOT, pass_fds=(lifeline,),
            env={k: v for k, v in os.environ.items() if k not in SHARED_SERVER_UNSAFE_ENV})
    os.close(lifeline)
    os.set_inheritable(keep, False)
    server = Server(model, port, process, log_path, keep)
    started = time.monotonic()
    try:
        while not _healthy(server.url):
            if process.poll() is not None:
                raise ServerError(f"vllm serve {model} exited with status {process.returncode} "
                                  f"before it was ready. Its last log lines:\n"
                                  f"{server.last_lines()}")
            waited = time.monotonic() - started
            if waited > timeout:
                raise ServerError(f"vllm serve {model} was not ready after {timeout:g} s "
                                  f"(limits.server_start_seconds). Its last log lines:\n"
                                  f"{server.last_lines()}")
            if progress:
                progress(waited)
            time.sleep(0.5)
    except BaseException:  # Ctrl-C while waiting included
        server.stop()
        raise
    return server


def lesson_args(lesson) -> list[str]:
    """The flags a lesson's server gets: its model served under its course
    name (so requests say "facebook/opt-125m" whatever was loaded), then the
    lesson's own (course.yaml `serve`)."""
    return ["--served-model-name", lesson.model, *lesson.serve]


def start_for(lesson, model: str, **options) -> Server:
    """The server a lesson's checks use, on `model` (what resolution chose)."""
    return start(model, *lesson_args(lesson), **options)


@contextlib.contextmanager
def serve(model: str, *args: str, **options):
    """`start` as a context manager: the server is stopped however the block ends."""
    server = start(model, *args, **options)
    try:
        yield server
    finally:
        server.stop()
