"""What a sandboxed submission may see: the allow-list that sandbox.py builds
its fresh root from, computed once in the grader (never in the child).

Read-only, each at its own path:
- the system's programs and libraries (/usr and the links to it), /sys, and
  the few files of /etc that programs read;
- the interpreter (sys.base_prefix), its environment (sys.prefix) and the
  library folders on sys.path (site-packages, dist-packages, zips); any other
  folder there (PYTHONPATH=$HOME, say) would lend all it holds, so it is not
  lent;
- of the kit's checkout only the code and the graders (KIT_PARTS): never
  solutions/, tests/ or .git;
- the models the lessons load, the kit's cache, vLLM's cache, and of Hugging
  Face's home only its hub cache (never its token).

Writable: its own /tmp (its working folder is there) and /dev/shm, both
size-limited. Nothing else of the machine exists in there: not the class
folder, not --out, not other slots, not anyone's home.

The environment is an allow-list too (`environment`): the grader's own
variables (tokens, keys, paths of the class) are not handed down.
"""

from __future__ import annotations

import os
import shutil
import stat
import sys
from collections.abc import Iterable
from pathlib import Path

from vllm_course.course.manifest import REPO_ROOT

KIT_PARTS = ("vllm_course", "graders", "exercises", "lessons", "course.yaml", "pyproject.toml",
             "conftest.py")
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/sys")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group",
       "nsswitch.conf", "hosts", "host.conf", "ssl", "ca-certificates", "alternatives",
       "os-release", "mime.types", "gai.conf")
DEVICES = ("null", "zero", "full", "random", "urandom")
# Variables a child keeps (by prefix), unless the name says it holds a secret.
ENV_PREFIXES = ("VLLM_", "PATH", "LANG", "LC_", "PYTHON", "OMP_", "MKL_", "KMP_", "TORCH",
                "CUDA_", "NVIDIA_", "HF_HOME", "HF_HUB_", "TZ", "TERM")
ENV_SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "CREDENTIAL", "AUTH")


class NotReadable(RuntimeError):
    """A path the sandboxed submissions need cannot be read by their uid."""


def paths(models: Iterable[str], env: dict[str, str]) -> list[str]:
    """The absolute paths bound read-only into a graded child's root. `models`:
    what the lessons load (a folder, or a hub id found in the hub cache);
    `env`: the child's kit environment (its cache folders)."""
    wanted = [*SYSTEM, *(f"/etc/{name}" for name in ETC)]
    wanted += [sys.base_prefix, sys.prefix, sys.exec_prefix, os.path.dirname(sys.executable)]
    kit = REPO_ROOT.resolve()
    for entry in sys.path:
        if not entry or not os.path.isabs(entry):
            continue
        where = Path(entry).resolve()
        if where == kit or kit.is_relative_to(where) or where.is_relative_to(kit):
            continue  # the checkout itself: only its KIT_PARTS below
        if _library(where):
            wanted.append(entry)
    wanted += [str(kit / part) for part in KIT_PARTS]
    for key in ("VLLM_COURSE_CACHE", "VLLM_CACHE_ROOT"):
        if env.get(key):
            wanted.append(env[key])
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        env.get("HF_HOME") or os.path.expanduser("~/.cache/huggingface"), "hub")
    for model in models:
        wanted.append(model if os.path.isabs(model) else hub)
    return _outermost(p for p in wanted if os.path.lexists(p))


def _library(where: Path) -> bool:
    """A sys.path folder that holds installed packages only, not a user's files."""
    prefixes = {Path(p).resolve() for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    return (where.name in ("site-packages", "dist-packages") or where.suffix in (".zip", ".egg")
            or any(where.is_relative_to(p) for p in prefixes))


def _outermost(candidates: Iterable[str]) -> list[str]:
    """Each path once, with the real path of each link beside it; a path
    inside another listed one is left out (its parent's bind holds it)."""
    found: set[str] = set()
    for path in candidates:
        path = os.path.normpath(os.path.abspath(path))
        found.add(path)
        real = os.path.realpath(path)
        if os.path.exists(real):
            found.add(real)
    kept: list[str] = []
    for path in sorted(found):
        if not any(path.startswith(outer.rstrip("/") + "/") and not os.path.islink(outer)
                   for outer in kept):
            kept.append(path)
    return kept


def check_readable(listed: list[str], env: dict[str, str]) -> None:
    """Raise NotReadable for a listed path that another user cannot read: the
    submissions run as a uid of their own with no capability to read past
    file modes. The small trees (models, caches) are walked whole; the large
    ones (the interpreter, the kit) only at their top."""
    small = {os.path.realpath(env[k]) for k in ("VLLM_COURSE_CACHE", "VLLM_CACHE_ROOT") if env.get(k)}
    for path in listed:
        real = os.path.realpath(path)
        if not os.path.exists(real) or real.startswith(("/sys", "/proc", "/dev")):
            continue
        _readable(real)
        if real in small or any(real.startswith(s + "/") for s in small):
            for folder, dirs, files in os.walk(real):
                for name in dirs + files:
                    _readable(os.path.join(folder, name))


def _readable(path: str) -> None:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return  # a dangling link inside a cache: nothing to read either way
    need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(mode) else 0)
    if mode & need != need:
        raise NotReadable(
            f"{path} is not readable by other users (mode {stat.S_IMODE(mode):o}), so the "
            "sandboxed submissions, which run as a uid of their own, could not read it: "
            f"run `chmod -R o+rX {path}` (it must hold nothing private), or grade with "
            "--no-sandbox")


def readable_cache(original: str, snapshot: str) -> None:
    """Fill `snapshot` (the children's VLLM_CACHE_ROOT) from vLLM's cache:
    its model-class records, which vLLM writes readable by their owner only,
    copied readable for all (without them each child re-inspects the model in
    a 10 s subprocess); every other entry linked to the original."""
    os.makedirs(snapshot, mode=0o755, exist_ok=True)
    for name in os.listdir(original) if os.path.isdir(original) else []:
        source, target = os.path.join(original, name), os.path.join(snapshot, name)
        if name == "modelinfos" and os.path.isdir(source):
            os.makedirs(target, mode=0o755, exist_ok=True)
            for record in os.listdir(source):
                shutil.copyfile(os.path.join(source, record), os.path.join(target, record))
                os.chmod(os.path.join(target, record), 0o644)
        elif not os.path.lexists(target):
            os.symlink(source, target)


def environment(current: dict[str, str], kit_env: dict[str, str]) -> dict[str, str]:
    """The variables a graded child keeps: the kit's own, and of the grader's
    only those that steer the runtime (no tokens, no keys)."""
    kept = {k: v for k, v in current.items()
            if k.startswith(ENV_PREFIXES) and not any(w in k for w in ENV_SECRET_WORDS)}
    kept.update(kit_env)
    # torch and getpass ask for a user name; the child's uid has none in /etc/passwd.
    kept.update(USER="student", LOGNAME="student")
    return kept
