"""Isolation a graded child process enters before any student code runs.

Called in the child right after fork, while it still runs only kit code. As
root (CI, a grading server) it applies, in this order:

- core dumps off and a cap on processes, so a fork bomb stops at the limit;
- a new network namespace with only loopback up: the engine's own local
  sockets work, nothing else is reachable but, when the lesson has one, the
  grader's `vllm serve` at its usual address (port_relay.py);
- a fresh working directory (also its HOME and TMPDIR) with a size-limited
  tmpfs mounted on it in a mount namespace of its own: nothing the submission
  writes there is seen by another submission or outlives it. (Not a private
  /tmp: the kit, its .venv or the model may themselves live under /tmp.)
- a uid and gid of its own (one per grading slot), no supplementary groups,
  no_new_privs, and of root's capabilities only CAP_DAC_READ_SEARCH, so that it
  can still read the interpreter, the kit and the model wherever they live, but
  can write none of them, cannot signal or trace the grader or another slot,
  and cannot raise its own limits.

Without root none of the namespaces or the uid change is possible; the child
then only gets its working directory and limits, and `enter` returns what it
could not apply so that the report says so. Limits on time, memory and output
are enforced by the parent (grading/warm.py), never in here.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import socket
import struct

from vllm_course.grading import port_relay

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 1, 2, 4, 0x4000, 1 << 18
PR_SET_KEEPCAPS, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE = 8, 38, 47, 2
CAP_DAC_READ_SEARCH = 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
MAX_PROCESSES = 1024  # threads count too: the engine and torch start dozens
WORKDIR_PREFIX = "course-grade-"
UID_BASE = 61000  # grading slots run as uids from here on (warm.py picks them)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0, bytes(14))
        flags = struct.unpack("16sH", fcntl.ioctl(s, SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(s, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, bytes(14)))


def _private_mount(libc, workdir: str, size: int, uid: int) -> None:
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")
    _check(libc.mount(b"tmpfs", workdir.encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                      f"size={size},mode=0700,uid={uid},gid={uid}".encode()),
           "mount a private working directory")


def _drop_to(libc, uid: int) -> None:
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
    _check(libc.prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0), "keep capabilities")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    data[0].effective = data[0].permitted = data[0].inheritable = 1 << CAP_DAC_READ_SEARCH
    _check(libc.capset(ctypes.byref(header), data), "drop capabilities")
    # Ambient, so that programs it starts (lesson 2 runs the student's script
    # with the course Python, which may live under /root) can read them too.
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_DAC_READ_SEARCH, 0, 0),
           "keep read access for started programs")


def enter(uid: int | None, tmp_bytes: int,
          server_port: int | None = None) -> tuple[str, list[str]]:
    """Isolate this process; return (working directory, what could not be
    applied). `server_port`: the grader's server on 127.0.0.1 stays reachable."""
    missing: list[str] = []
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    cap = MAX_PROCESSES if hard == resource.RLIM_INFINITY else min(hard, MAX_PROCESSES)
    resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    if os.geteuid() != 0 or uid is None:
        workdir = own_workdir()
        missing.append("not run as root, so the network is not cut off, the submission runs "
                       "as your own user and can write wherever you can")
        return workdir, missing
    libc = _libc()
    listen = None if server_port is None else port_relay.fork_relay(server_port)
    try:
        _check(libc.unshare(CLONE_NEWNET), "new network namespace")
        _loopback_up()
        if listen is not None:
            listen()
    except OSError as e:
        missing.append(f"the network is not cut off ({e})")
    workdir = own_workdir(uid)  # 0700 and the submission's own, whatever follows
    try:
        _check(libc.unshare(CLONE_NEWNS), "new mount namespace")
        _private_mount(libc, workdir, tmp_bytes, uid)
    except OSError as e:
        missing.append(f"its working directory is not size-limited ({e})")
    try:
        _drop_to(libc, uid)
    except OSError as e:
        missing.append(f"still runs as root ({e})")
    os.chdir(workdir)
    os.environ.update(HOME=workdir, TMPDIR=workdir)
    return workdir, missing


def own_workdir(uid: int | None = None) -> str:
    import tempfile

    path = tempfile.mkdtemp(prefix=WORKDIR_PREFIX)
    if uid is not None:
        os.chown(path, uid, uid)
    os.chdir(path)
    os.environ.update(HOME=path, TMPDIR=path)
    return path
