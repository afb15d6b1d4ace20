"""Runs `vllm serve` and makes sure it does not outlive whoever started it.

    python -m vllm_course.runtime.server_watchdog LIFELINE_FD -- vllm serve ...

serving.start runs the server under this watchdog, in a session of its own,
and keeps the write end of a pipe whose read end is LIFELINE_FD. When the
starter goes, however it goes (SIGKILL included: a notebook kernel killed, a
grader's terminal closed), the kernel closes its end; the watchdog then stops
the whole session: SIGTERM, then SIGKILL. Neither vLLM's API server nor its
engine process does that by itself: the engine outlives a killed API server,
and a SIGTERM that comes while the engine starts is lost.

A SIGTERM to the watchdog itself (the starter stopping the server, which
signals the whole group) is left to the server: the watchdog waits for it to
exit, then exits with its status.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys

STOP_SECONDS = 20.0  # after SIGTERM, before SIGKILL (serving.py's stop waits as long)


def _stop_session(server: subprocess.Popen) -> None:
    """SIGTERM to the API server (it stops its engine), then SIGKILL to all
    that is left of the session, this watchdog included."""
    try:
        server.terminate()
        server.wait(STOP_SECONDS)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    os.killpg(0, signal.SIGKILL)


def main(argv: list[str]) -> int:
    lifeline = int(argv[0])
    command = argv[2:] if argv[1:2] == ["--"] else argv[1:]
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the server decides; we follow it
    server = subprocess.Popen(
        command, preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_DFL))
    selector = selectors.DefaultSelector()
    selector.register(lifeline, selectors.EVENT_READ)
    exited = os.pidfd_open(server.pid)
    selector.register(exited, selectors.EVENT_READ)
    while True:
        for key, _ in selector.select():
            if key.fd == exited:
                return server.wait()
            if not os.read(lifeline, 64):  # the starter is gone
                _stop_session(server)
                return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
