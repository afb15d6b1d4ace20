"""A sandboxed submission's way to the lesson's server, and no further.

The warm grader runs one `vllm serve` on 127.0.0.1:PORT for the whole run,
while each graded child gets a network namespace of its own with only
loopback (sandbox.py), where that port is nobody's. So before the child
leaves the grader's namespace it forks a relay that stays behind; in its new
namespace the child listens on 127.0.0.1:PORT itself and hands the listening
socket to the relay, which joins every connection made there to the server's
port. The submission sees the server at the very address pytest would give
it, and reaches nothing else: the relay connects to one port only.

The relay runs kit code only, as the grader's user (so a submission, dropped
to a uid of its own, cannot signal or trace it), in the child's process group
(killed with it), and exits when the child does (its control socket closes,
and the kernel's parent-death signal).
"""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import socket

HOST = "127.0.0.1"
BUFFER = 1 << 16
PR_SET_PDEATHSIG = 1
_controls: list[socket.socket] = []  # open for the child's whole life: closing ends the relay


def fork_relay(port: int):
    """Fork the relay (in this, the grader's, namespace). Returns `listen`, to
    call once in the new namespace: it listens on HOST:port there and hands
    the socket over."""
    control, relay_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:  # the relay: never returns
        try:
            control.close()
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            _only_fds(relay_end.fileno())
            _relay(relay_end, port)
        finally:
            os._exit(0)
    relay_end.close()

    def listen() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((HOST, port))
            server.listen(128)
            socket.send_fds(control, [b"L"], [server.fileno()])
        _controls.append(control)

    return listen


def _only_fds(keep: int) -> None:
    """Close what the relay inherited (the grader's pipes above all, so that
    the grader sees them close when the child exits)."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _relay(control: socket.socket, port: int) -> None:
    _, fds, _, _ = socket.recv_fds(control, 1, 1)
    if fds:
        pump(socket.socket(fileno=fds[0]), port, control)


def pump(listener: socket.socket, port: int, control: socket.socket, on_data=None) -> None:
    """Join each connection accepted on `listener` to HOST:port until
    `control` becomes readable (closed). `on_data(connection, to_server)`
    is told of every piece of data passed on."""
    listener.setblocking(False)
    control.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(listener, selectors.EVENT_READ, "accept")
    peers: dict[socket.socket, socket.socket] = {}
    inside: set[socket.socket] = set()  # the accepted ends

    def drop(sock: socket.socket) -> None:
        for s in (sock, peers.pop(sock, None)):
            if s is not None:
                peers.pop(s, None)
                inside.discard(s)
                try:
                    selector.unregister(s)
                except (KeyError, ValueError):
                    pass
                s.close()

    try:
        while True:
            for key, _ in selector.select():
                if key.data == "control":
                    return
                if key.data == "accept":
                    try:
                        accepted, _ = listener.accept()
                    except BlockingIOError:
                        continue
                    try:
                        outside = socket.create_connection((HOST, port), timeout=10)
                    except OSError:
                        accepted.close()
                        continue
                    for s in (accepted, outside):
                        s.setblocking(False)
                        selector.register(s, selectors.EVENT_READ, "data")
                    peers[accepted], peers[outside] = outside, accepted
                    inside.add(accepted)
                    continue
                sock = key.fileobj
                try:
                    data = sock.recv(BUFFER)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                other = peers.get(sock)
                if not data or other is None:
                    drop(sock)
                    continue
                if on_data is not None:
                    to_server = sock in inside
                    on_data(sock if to_server else other, to_server)
                try:
                    other.setblocking(True)  # simple back-pressure: HTTP here is small
                    other.sendall(data)
                    other.setblocking(False)
                except OSError:
                    drop(sock)
    finally:
        for s in list(peers):
            drop(s)
        listener.close()
        selector.close()


class Watch:
    """A relay to HOST:port in a thread of this process, that counts how many
    requests were in flight at once: a request is in flight from its first
    bytes to the first bytes of its answer. `base_url` goes to the code
    watched; `most_at_once()` is read after."""

    def __init__(self, port: int) -> None:
        import threading
        import time

        self._clock = time.monotonic
        self._since: dict[socket.socket, float] = {}
        self.spans: list[tuple[float, float]] = []
        listener = socket.socket()
        listener.bind((HOST, 0))
        listener.listen(128)
        self.base_url = f"http://{HOST}:{listener.getsockname()[1]}/v1"
        self._stop, control = socket.socketpair()
        self._thread = threading.Thread(target=pump, args=(listener, port, control, self._seen),
                                        daemon=True, name="kit-request-watch")
        self._thread.start()

    def _seen(self, connection: socket.socket, to_server: bool) -> None:
        if to_server:
            self._since.setdefault(connection, self._clock())
        elif connection in self._since:
            self.spans.append((self._since.pop(connection), self._clock()))

    def close(self) -> None:
        self._stop.close()
        self._thread.join(10)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def most_at_once(self) -> int:
        events = sorted([(start, 1) for start, _ in self.spans]
                        + [(end, -1) for _, end in self.spans], key=lambda e: (e[0], e[1]))
        most = now = 0
        for _, step in events:
            now += step
            most = max(most, now)
        return most
