"""The submission under grading: a file (or a notebook's namespace) whose
functions are called through wrappers that turn stubs and crashes into
feedback."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from functools import wraps
from pathlib import Path
from types import ModuleType

from vllm_course.course.paths import relative
from vllm_course.grading.compare import plain_values
from vllm_course.grading.feedback import (
    GradingFailure,
    MissingFunction,
    NotImplementedYet,
    StudentCodeError,
    SubmissionBroken,
    student_traceback,
)


def load_module(path: Path, name: str) -> ModuleType:
    """Import the file at `path`; a broken file raises SubmissionBroken."""
    where = relative(path)
    if not path.is_file():
        raise SubmissionBroken(f"there is no file {where} to grade.")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        sys.modules.pop(name, None)
        raise SubmissionBroken(
            f"{where} line {e.lineno}: SyntaxError: {e.msg}. Nothing in the file can be "
            "graded until it imports: fix that line and run again."
        ) from None
    except BaseException as e:  # noqa: BLE001 - any import-time failure is the student's
        sys.modules.pop(name, None)
        raise SubmissionBroken(
            f"{where} fails when imported, so nothing in it can be graded:\n"
            f"{student_traceback(e, path)}"
        ) from None
    return module


class Student:
    """The submission's functions, by name. Calls are wrapped so that
    - a stub (NotImplementedError raised in the student's own code) becomes
      "not implemented yet";
    - any other exception becomes a short traceback of the student's frames;
    - a missing function is named as missing;
    - what it returns is made of plain builtins (compare.plain_values)."""

    def __init__(self, namespace: dict, source: Path | None, broken: SubmissionBroken | None = None):
        self._ns = namespace
        self._source = source
        self._broken = broken

    @classmethod
    def from_file(cls, path: Path, module_name: str) -> "Student":
        try:
            module = load_module(path, module_name)
        except SubmissionBroken as e:
            return cls({}, path, broken=e)
        return cls(vars(module), path)

    @classmethod
    def from_notebook_code(cls, path: Path) -> "Student":
        """A notebook's code (its cells but the test cells, in one file), run as
        a kernel runs cells: in a `__main__` namespace, under a pseudo file name,
        so that the checks treat it exactly as in the notebook (source None)."""
        where = relative(path)
        try:
            code = compile(path.read_text(encoding="utf-8"), f"<notebook {path.name}>", "exec")
        except OSError:
            return cls({}, None, broken=SubmissionBroken(f"there is no file {where} to grade."))
        except SyntaxError as e:
            return cls({}, None, broken=SubmissionBroken(
                f"{where} (the notebook's code) line {e.lineno}: SyntaxError: {e.msg}. Nothing "
                "in it can be graded until it runs: fix that cell and run again."))
        namespace = {"__name__": "__main__"}
        try:
            exec(code, namespace)
        except BaseException as e:  # noqa: BLE001 - any failure of the cells is the student's
            return cls({}, None, broken=SubmissionBroken(
                f"the notebook's cells fail when run, so nothing in it can be graded:\n"
                f"{student_traceback(e, None)}"))
        return cls(namespace, None)

    @contextlib.contextmanager
    def replaced(self, functions: dict):
        """The namespace with `functions` in place of the student's, for a while."""
        missing = object()
        saved = {name: self._ns.get(name, missing) for name in functions}
        self._ns.update(functions)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is missing:
                    self._ns.pop(name, None)
                else:
                    self._ns[name] = value

    def defines(self, name: str) -> bool:
        return self._broken is None and callable(self._ns.get(name))

    @property
    def broken(self) -> SubmissionBroken | None:
        return self._broken

    @property
    def source(self) -> Path | None:
        """The submission file; None for a notebook's functions."""
        return self._source

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if self._broken is not None:
            raise self._broken
        fn = self._ns.get(name)
        if fn is None:
            where = relative(self._source) if self._source else "your notebook"
            raise MissingFunction(f"{where} has no function {name}(); define it with that name.")
        if not callable(fn):
            raise GradingFailure(f"{name} should be a function, found {type(fn).__name__}.")

        @wraps(fn)
        def call(*args, **kwargs):
            try:
                # Builtin subclasses become builtins: their __eq__ cannot lie.
                return plain_values(fn(*args, **kwargs))
            except GradingFailure:
                raise
            except NotImplementedError as e:
                if self._raised_here(e):
                    raise NotImplementedYet(f"{name}() is not implemented yet") from None
                raise StudentCodeError(self._crash(name, e)) from None
            except Exception as e:  # noqa: BLE001
                error = StudentCodeError(self._crash(name, e))
                error.raised = type(e)
                raise error from None

        return call

    def _raised_here(self, exc: BaseException) -> bool:
        """True when the innermost frame is the student's own code (a stub)."""
        tb = exc.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        if tb is None:
            return False
        filename = tb.tb_frame.f_code.co_filename
        if self._source is not None:
            return Path(filename).resolve() == self._source.resolve()
        # A notebook cell: IPython names cells <ipython-input-...> or
        # /tmp/ipykernel_<pid>/<hash>.py.
        return filename.startswith("<") or "ipykernel_" in filename

    def _crash(self, name: str, exc: BaseException) -> str:
        return (f"{name}() raised {type(exc).__name__} instead of returning:\n"
                f"{student_traceback(exc, self._source)}")
