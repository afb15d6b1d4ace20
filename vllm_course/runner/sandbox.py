"""Isolation a graded child process enters before any student code runs.

Called in the child right after fork, while it still runs only kit code. As
root (CI, a grading server) it applies, in this order:

- core dumps off and a cap on processes, so a fork bomb stops at the limit;
- a new network namespace with only loopback up: the engine's own local
  sockets work, nothing else is reachable but, when the lesson has one, the
  grader's `vllm serve` at its usual address (port_relay.py);
- new mount and PID namespaces. The process forks once more: what stays
  behind only waits and passes the exit status on; the new process is PID 1
  of its namespace and builds a fresh root from an allow-list (visible.py),
  as bubblewrap and nsjail do: a tmpfs, the listed paths bind-mounted into it
  read-only, a size-limited writable /tmp (its working folder inside) and
  /dev/shm, a few device nodes, and a fresh /proc that shows only its own
  processes. Then it pivots into that root and detaches the old one: the
  class folder, --out, other slots, solutions/ and every home folder are not
  there to be read;
- a uid and gid of its own (one per grading slot), no supplementary groups,
  no_new_privs and no capabilities at all: it cannot write what it was lent,
  signal or trace the grader or another slot, raise its own limits, or open
  files by handle (CAP_DAC_READ_SEARCH, the capability that reads past
  mounts, is gone: visible.check_readable makes sure it is not needed);
- an environment of the kit's variables only (visible.environment).

Why not bubblewrap or nsjail: both exec a new program inside the sandbox,
while a graded child is a fork of the warm grader, which holds vLLM and torch
imported (that fork is what makes class grading fast). The same steps are
taken here with the same system calls, in the forked process itself.

Without root none of the namespaces or the uid change is possible; the child
then only gets its working directory and limits, and `enter` returns what it
could not apply, so that the report says so and names what is lost. Limits on
time, memory and output are enforced by the parent (grading/warm.py), never in
here.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import resource
import socket
import struct

from vllm_course.course.paths import WORKDIR_PREFIX
from vllm_course.runtime import port_relay
from vllm_course.runner.visible import DEVICES

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 1, 38, 24
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
MAX_PROCESSES = 1024  # threads count too: the engine and torch start dozens
UID_BASE = 61000  # grading slots run as uids from here on (warm.py picks them)
OLD_ROOT = ".old-root"
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}  # no libc wrapper for it


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


def _mount(libc, source, target: str, fstype, flags: int, data: str | None = None) -> None:
    _check(libc.mount(None if source is None else str(source).encode(), target.encode(),
                      None if fstype is None else fstype.encode(), flags,
                      None if data is None else data.encode()), f"mount {target}")


def _bind(libc, root: str, path: str, writable: bool = False) -> None:
    """Bind `path` at the same path under `root`, read-only unless asked."""
    target = root + path
    if os.path.islink(path):  # a link (/bin -> usr/bin) is copied as a link
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.lexists(target):
            os.symlink(os.readlink(path), target)
        return
    if os.path.isdir(path):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(libc, path, target, None, MS_BIND | MS_REC)
    if not writable:
        _mount(libc, None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _build_root(libc, root: str, listed: list[str], workdir: str, tmp_bytes: int,
                uid: int) -> None:
    """A fresh root at `root` (an empty folder): the listed paths read-only,
    a private /tmp holding `workdir`, /dev, /dev/shm, and a fresh /proc."""
    _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE)
    _mount(libc, "tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    # /tmp first: the kit or a model may itself live under /tmp.
    os.makedirs(root + "/tmp", exist_ok=True)
    _mount(libc, "tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={tmp_bytes},mode=1777")
    for path in listed:
        _bind(libc, root, path)
    os.makedirs(root + workdir, mode=0o700, exist_ok=True)
    os.chown(root + workdir, uid, uid)
    os.makedirs(root + "/dev/shm", exist_ok=True)
    for name in DEVICES:
        _bind(libc, root, f"/dev/{name}", writable=True)
    _mount(libc, "tmpfs", root + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={tmp_bytes},mode=1777")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(target, f"{root}/dev/{name}")
    os.makedirs(root + "/proc", exist_ok=True)
    # This process is PID 1 of a new namespace: the fresh procfs lists its own.
    _mount(libc, "proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
           "hidepid=invisible")
    os.makedirs(root + "/" + OLD_ROOT)
    os.chdir(root)
    _check(libc.syscall(SYS_PIVOT_ROOT[os.uname().machine], b".", OLD_ROOT.encode()),
           "pivot_root")
    os.chroot(".")
    _check(libc.umount2(("/" + OLD_ROOT).encode(), MNT_DETACH), "detach the old root")
    os.rmdir("/" + OLD_ROOT)
    _mount(libc, None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_to(libc, uid: int) -> None:
    _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
    for cap in range(64):  # the bounding set: nothing it runs can get one back
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 and ctypes.get_errno() != 22:
            _check(-1, "drop the capability bounding set")  # EINVAL: past the last one
    _check(libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient")
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # a uid change from root clears the rest
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    _check(libc.capset(ctypes.byref(header), (_CapData * 2)()), "drop capabilities")


def _keep_waiting(worker: int) -> None:
    """What stays behind in the grader's PID namespace: wait for the worker,
    then end the same way it did, so the grader reads its status as before.
    Never returns."""
    try:
        os.closerange(0, 65536)
        while True:
            try:
                _, status = os.waitpid(worker, 0)
                break
            except InterruptedError:
                continue
        if os.WIFSIGNALED(status):
            import signal

            sig = os.WTERMSIG(status)
            try:
                signal.signal(sig, signal.SIG_DFL)
            except (OSError, ValueError):  # SIGKILL, SIGSTOP: default already
                pass
            os.kill(os.getpid(), sig)
        os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)
    finally:
        os._exit(1)


def enter(uid: int | None, tmp_bytes: int, server_port: int | None = None,
          listed: list[str] | None = None) -> tuple[str, list[str]]:
    """Isolate this process; return (working directory, what could not be
    applied). `server_port`: the grader's server on 127.0.0.1 stays reachable;
    `listed`: what the submission may read (visible.paths)."""
    missing: list[str] = []
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    cap = MAX_PROCESSES if hard == resource.RLIM_INFINITY else min(hard, MAX_PROCESSES)
    resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))
    if os.geteuid() != 0 or uid is None:
        workdir = own_workdir()
        missing.append("not run as root, so the network is not cut off, and the submission "
                       "runs as your own user: it can read every file you can (classmates' "
                       "submissions, other results, solutions/) and write wherever you can")
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
    host_workdir = own_workdir(uid)  # empty; its path is the working folder's inside
    try:
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWPID), "new mount and PID namespaces")
    except OSError as e:
        missing.append(f"the submission can see the whole machine's files ({e})")
        return _without_root_of_its_own(libc, uid, host_workdir, missing)
    worker = os.fork()
    if worker != 0:
        _keep_waiting(worker)
    _check(libc.prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0), "die with the process left behind")
    _build_root(libc, host_workdir, listed or [], host_workdir, tmp_bytes, uid)
    import tempfile

    tempfile.tempdir = host_workdir  # cached by the grader: "/tmp" outside
    try:
        _drop_to(libc, uid)
    except OSError as e:
        missing.append(f"still runs as root ({e})")
    os.chdir(host_workdir)
    os.environ.update(HOME=host_workdir, TMPDIR=host_workdir)
    return host_workdir, missing


def _without_root_of_its_own(libc, uid: int, workdir: str,
                             missing: list[str]) -> tuple[str, list[str]]:
    try:
        _drop_to(libc, uid)
    except OSError as e:
        missing.append(f"still runs as root ({e})")
    return workdir, missing


def own_workdir(uid: int | None = None) -> str:
    import tempfile

    path = tempfile.mkdtemp(prefix=WORKDIR_PREFIX)
    if uid is not None:
        os.chown(path, uid, uid)
    os.chdir(path)
    os.environ.update(HOME=path, TMPDIR=path)
    return path
