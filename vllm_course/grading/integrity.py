"""Tamper detection: what the graders rely on, recorded before the submission
is imported and compared after every check.

A submission runs in the same process as the checks that grade it, so it could
rebind `expect`, a grader's helper, `math.isclose`, a builtin, a vLLM class's
`__eq__`, or replace the code of a pytest or kit function. `snapshot` records,
for every module the graders stand on, each callable or class it binds (and a
function's code and defaults, and a class's own methods). `verify` names every
difference and puts the original back, so that the check is failed as tampered
and the next check runs on the real machinery again.

What is covered: the kit (vllm_course.*), the grader modules and every module,
class and function they import, pytest and pluggy, and the builtins. What is
not: a submission that rewrites this module's own code objects or the parent's
report pipe can still lie from inside its process; the parent (warm.py)
computes every score itself, so printed or written scores count for nothing.
"""

from __future__ import annotations

import builtins
import sys
import types

_PREFIXES = ("vllm_course", "_pytest", "pluggy", "pytest")
# Hooks that the engine or a library legitimately replaces while a check runs
# (vLLM's CPU worker replaces torch.set_num_threads; logging and progress bars
# install exception hooks). None of them decides a check's outcome.
_MUTABLE = {"sys.excepthook", "sys.displayhook", "sys.unraisablehook", "sys.breakpointhook",
            "threading.excepthook", "torch.set_num_threads"}


def _tracked_modules(grader_modules) -> dict[str, types.ModuleType]:
    mods = {name: m for name, m in list(sys.modules.items())
            if m is not None and name.split(".")[0] in _PREFIXES}
    mods["builtins"] = builtins
    # The graders' modules, and the module of the helpers they compare with
    # (compare.py binds math.isclose, json.loads...): what those bind is watched.
    compare = sys.modules.get("vllm_course.grading.compare")
    for grader in [*grader_modules, *([compare] if compare else [])]:
        mods[grader.__name__] = grader
        for value in vars(grader).values():
            if isinstance(value, types.ModuleType):
                mods[value.__name__] = value
            elif isinstance(value, type) or callable(value):
                owner = sys.modules.get(getattr(value, "__module__", "") or "")
                if owner is not None:
                    mods[owner.__name__] = owner
    return mods


def _facts(value) -> tuple:
    """What identifies a callable beyond its identity: its code and defaults."""
    if isinstance(value, (classmethod, staticmethod)):
        value = value.__func__
    if isinstance(value, property):
        return tuple(_facts(f) for f in (value.fget, value.fset, value.fdel))
    if isinstance(value, types.FunctionType):
        return (value.__code__, value.__defaults__, value.__kwdefaults__)
    return ()


def _watched(value) -> bool:
    return isinstance(value, (type, types.FunctionType, types.BuiltinFunctionType,
                              classmethod, staticmethod, property)) or callable(value)


class Snapshot:
    def __init__(self, grader_modules=()) -> None:
        # (owner, attribute) -> (the value, its facts); owner is a module or a class
        self._entries: dict[tuple[object, str], tuple[object, tuple]] = {}
        self._names: dict[tuple[object, str], str] = {}
        classes: dict[int, type] = {}
        for mod_name, module in _tracked_modules(grader_modules).items():
            for attr, value in list(vars(module).items()):
                if not _watched(value):
                    continue
                self._record(module, attr, value, f"{mod_name}.{attr}")
                if isinstance(value, type):
                    classes[id(value)] = value
        for cls in classes.values():
            for attr, value in list(vars(cls).items()):
                if _watched(value) and not isinstance(value, type):
                    self._record(cls, attr, value, f"{cls.__module__}.{cls.__qualname__}.{attr}")

    def _record(self, owner, attr, value, name) -> None:
        if name in _MUTABLE:
            return
        self._entries[(owner, attr)] = (value, _facts(value))
        self._names[(owner, attr)] = name

    def verify(self) -> list[str]:
        """The names of everything changed since the snapshot, each put back."""
        changed = []
        for (owner, attr), (value, facts) in self._entries.items():
            now = vars(owner).get(attr, _MISSING)
            if now is value and _facts(value) == facts:
                continue
            changed.append(self._names[(owner, attr)])
            _restore(owner, attr, value, facts)
        return changed


_MISSING = object()


def _restore(owner, attr, value, facts) -> None:
    try:
        setattr(owner, attr, value)
        target = value.__func__ if isinstance(value, (classmethod, staticmethod)) else value
        if isinstance(target, types.FunctionType) and facts:
            target.__code__, target.__defaults__, target.__kwdefaults__ = facts
    except (AttributeError, TypeError):  # a read-only builtin type: nothing was changed there
        pass
