"""What the graders get besides the submission: the model, one shared engine,
and the kit's own reference runs."""

from __future__ import annotations

import contextlib
import os
from functools import cache, cached_property

from vllm_course.grading.feedback import MissingFunction, describe_type


# Set by the warm grader in its children: where its one server for the run
# answers. Unset, the kit starts a server itself (pytest, a notebook kernel).
SERVER_URL_ENV = "VLLM_COURSE_SERVER_URL"


class ServerUnavailable(RuntimeError):
    """The kit's own server did not start: the set-up, not the student, is at fault."""


@cache
def reference_module(lesson):
    """The lesson's solution, loaded once. Kept out of sys.modules: a
    submission cannot import it by name."""
    import sys

    from vllm_course.grading.student import load_module

    name = f"_course_reference_{lesson.id}"
    module = load_module(lesson.solution_path, name)
    sys.modules.pop(name, None)
    return module


class StudentEngine:
    """The outcome of calling the student's create_llm, once per session."""

    def __init__(self, llm=None, error: BaseException | None = None):
        self.llm = llm
        self.error = error


class Kit:
    """Shared by every check of one grading session (a pytest run or a notebook).

    The engine is the student's own when their create_llm works, so a typical
    run loads the model once; otherwise the kit loads its own, so that a broken
    create_llm costs only that exercise's points.
    """

    def __init__(self, student, model: str, lesson=None, others: dict | None = None):
        self.student = student
        self.model = model
        self.lesson = lesson
        self.others = others or {}  # the lesson's other models: hub id -> what LLM() loads
        self._other_llms: dict = {}
        self._attempt: StudentEngine | None = None
        self._greedy: dict[tuple, list[list[int]]] = {}
        self._server = None  # the server this kit started, if it started one
        self._server_url: str | None = None  # read once: later changes redirect nothing
        from vllm_course.grading.premises import seeded

        self.premises: dict = seeded()  # premises.establish's answers for this engine

    @property
    def engine_factory(self) -> str:
        return self.lesson.engine_factory if self.lesson else "create_llm"

    def student_engine(self) -> StudentEngine:
        """Call the student's engine factory (create_llm) with the model the
        first time only (again only if it was missing then and is defined now:
        a notebook defines it in a later cell than an earlier check that
        needed an engine)."""
        if (self._attempt is not None and isinstance(self._attempt.error, MissingFunction)
                and self.student.defines(self.engine_factory)):
            self._attempt = None
        if self._attempt is None:
            try:
                llm = getattr(self.student, self.engine_factory)(self.model)
            except BaseException as e:  # noqa: BLE001 - timeouts included
                self._attempt = StudentEngine(error=e)
                if not isinstance(e, Exception):
                    raise
            else:
                self._attempt = StudentEngine(llm=llm)
        return self._attempt

    def engine_problem(self, attempt: StudentEngine) -> str | None:
        """Why the student's engine cannot be used, or None if it can."""
        from vllm import LLM

        if attempt.error is not None:
            return str(attempt.error)
        if not isinstance(attempt.llm, LLM):
            return f"expected a vllm.LLM, got {describe_type(attempt.llm)}"
        from vllm_course.runtime.vllm_internals import loaded_model, model_config

        loaded = loaded_model(attempt.llm)
        if loaded != self.model:
            return f"expected the model {self.model!r} to be loaded, got {loaded!r}"
        runner = (self.lesson.engine if self.lesson else {}).get("runner")
        got = model_config(attempt.llm).runner_type
        if runner is not None and got != runner:
            return f"expected a {runner} model (runner={runner!r}), got runner {got!r}"
        return None

    @cached_property
    def llm(self):
        """The engine every other check uses."""
        attempt = self.student_engine()
        if self.engine_problem(attempt) is None:
            return attempt.llm
        return self.own_llm

    def dtype_name(self) -> str | None:
        """The dtype of the engine in this process, if one was made."""
        if "llm" not in self.__dict__:  # no engine here (yet): a served lesson
            return None
        from vllm_course.runtime.vllm_internals import model_config

        return str(model_config(self.llm).dtype).removeprefix("torch.")

    # --- the lesson's server (course.yaml `serve`) ---------------------------
    @property
    def serves(self) -> bool:
        return self.lesson is not None and self.lesson.serve is not None

    def server_url(self, progress=None) -> str:
        """Where the lesson's `vllm serve` answers ("http://127.0.0.1:PORT"):
        the warm grader's, else one started now (outside any check's time
        limit: callers start it first) and stopped by `close`."""
        if self._server_url is None:
            url = os.environ.get(SERVER_URL_ENV)
            if not url:
                from vllm_course.runtime import serving

                try:
                    self._server = serving.start_for(self.lesson, self.model, progress=progress)
                except serving.ServerError as e:
                    raise ServerUnavailable(
                        f"the course's `vllm serve` for {self.lesson.id} did not start, so "
                        f"nothing could be checked (not your code's fault): {e}") from None
                url = self._server.url
            self._server_url = url
        return self._server_url

    @property
    def base_url(self) -> str:
        """What an OpenAI client takes as base_url."""
        return self.server_url() + "/v1"

    @property
    def served_model(self) -> str:
        """The name requests use: the lesson's model, whatever was loaded."""
        return self.lesson.model

    def client(self, on_request=None, timeline=None):
        """An OpenAI client of the lesson's server. `on_request(request)` sees
        every HTTP request it sends (httpx.Request): how a check learns how
        the student's code called the server; a `timeline`
        (stream_timeline.StreamTimeline) records when each part of each
        response arrived."""
        import httpx
        from openai import OpenAI

        hooks = {"request": [on_request]} if on_request else {}
        return OpenAI(base_url=self.base_url, api_key="EMPTY", max_retries=0,
                      http_client=httpx.Client(event_hooks=hooks, timeout=60,
                                               transport=timeline))

    def watch(self):
        """A port_relay.Watch of the lesson's server: its base_url for the
        student's code, and how many of its requests were in flight at once."""
        from urllib.parse import urlsplit

        from vllm_course.runtime.port_relay import Watch

        return Watch(urlsplit(self.server_url()).port)

    def close(self) -> None:
        """Stop the server this kit started (none if the warm grader's was used)."""
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._server_url = None

    @cached_property
    def own_llm(self):
        from vllm import LLM

        return LLM(model=self.model, **(self.lesson.engine if self.lesson else {}))

    def llm_for(self, name: str):
        """The kit's engine on another model of the lesson (course.yaml
        `also`), made once per session; pooling models only."""
        if name not in self._other_llms:
            from vllm import LLM

            self._other_llms[name] = LLM(model=self.others[name], runner="pooling")
        return self._other_llms[name]

    @contextlib.contextmanager
    def reference_helpers(self, *names: str, returned: list | None = None,
                          spans: list | None = None):
        """While it runs, the student's functions `names` are the reference
        solution's: a check of one exercise that calls others (main calls
        build_parser) then costs a mistake in those only their own points.
        `returned`, if given, gets (name, return value) of each call, so that a
        check knows what the code it grades was given; `spans` gets (name,
        perf_counter at its start, at its end), events a timing is checked by."""
        from vllm_course.grading.checks import recorded

        module = reference_module(self.lesson)
        lent = {name: recorded(name, getattr(module, name), spans, returned) for name in names}
        with self.student.replaced(lent):
            yield

    # The kit's own references, computed on the shared engine (greedy runs are
    # deterministic, so each is computed once per session).
    def greedy(self, prompts: list[str], max_tokens: int) -> list[list[int]]:
        from vllm import SamplingParams

        key = (tuple(prompts), max_tokens)
        if key not in self._greedy:
            outs = self.llm.generate(prompts, SamplingParams(temperature=0, max_tokens=max_tokens),
                                     use_tqdm=False)
            self._greedy[key] = [list(o.outputs[0].token_ids) for o in outs]
        return [list(ids) for ids in self._greedy[key]]
