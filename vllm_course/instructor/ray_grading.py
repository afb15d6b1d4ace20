"""`course grade --ray [ADDRESS]`: the class graded on a Ray cluster.

The same grading as the local warm grader, spread over grading slots: one
long-lived actor per slot (grading/ray_slot.py), each holding a warm grader
in a process of its own (grading/service.py), each submission still graded in
its own limited child there. A submission's bytes travel with its task, so
nodes need the kit installed (`make setup`), not a shared file system.

This driver keeps the ledger: every submission is handed to one slot at a
time; a slot that dies (its actor killed, its node gone, its service crashed)
has its submission put back in the queue and graded elsewhere, and a new slot
started in its place. A submission counts once, when its result comes back.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from vllm_course.course.limits import DEFAULT, GIB, Limits
from vllm_course.runner.service import graded_from_wire, limits_to_wire, request
from vllm_course.runner.warm import Graded, Submission, WarmUpError

LOCAL = "local"  # `--ray` without an address (cli.py's const): a Ray instance of its own
# What a slot needs besides its submission's memory limit: the warm grader's
# own process (vLLM and torch imported) and the actor. Measured here: at most
# 1.6 GiB resident for the warm parent of any lesson's class run; rounded up.
SLOT_OVERHEAD_BYTES = 2 * GIB
MAX_ATTEMPTS = 3  # a submission whose slot died this many times is left ungraded, and said so
WARM_UP_SECONDS = 900.0  # for a new slot to report ready: imports, the reference, a server
# A slot whose submission is not back this long after the submission's own
# limit (which its warm grader enforces) is stuck: killed, and its work moved.
STUCK_GRACE_SECONDS = 300.0
POLL_SECONDS = 30.0
ENV_PREFIX = "VLLM_COURSE_"  # the kit's settings travel to the slots (the model, the limits)


class RayGradingError(RuntimeError):
    """The cluster cannot grade: not reachable, too small, or no slot survives."""


@dataclass(frozen=True)
class SlotShape:
    """What each grading slot asks Ray for."""
    cpus: float = 1.0
    memory_bytes: int = 0
    gpus: float = 0.0

    def options(self) -> dict:
        """The resource request every slot actor carries."""
        opts = {"num_cpus": self.cpus, "memory": self.memory_bytes,
                "max_restarts": 0, "max_concurrency": 1}
        if self.gpus:
            opts["num_gpus"] = self.gpus
        return opts

    def fits(self, resources: dict) -> int:
        """How many slots a cluster's total resources hold."""
        counts = [math.floor(resources.get("CPU", 0) / self.cpus + 1e-9),
                  math.floor(resources.get("memory", 0) / self.memory_bytes + 1e-9)]
        if self.gpus:
            counts.append(math.floor(resources.get("GPU", 0) / self.gpus + 1e-9))
        return max(0, min(counts))

    def describe(self) -> str:
        gpu = f", {self.gpus:g} GPU" if self.gpus else ""
        return f"{self.cpus:g} CPU, {self.memory_bytes / GIB:.1f} GiB of memory{gpu}"


def shape_for(limits: Limits, cpus: float = 1.0, gpus: float = 0.0) -> SlotShape:
    if cpus <= 0:
        raise ValueError(f"--cpus-per-slot: expected a positive number, got {cpus:g}")
    if not 0 <= gpus <= 1:
        raise ValueError(f"--gpus-per-slot: expected a fraction of one GPU (0 to 1), got {gpus:g}")
    return SlotShape(cpus, limits.memory_bytes + SLOT_OVERHEAD_BYTES, gpus)


@dataclass
class _Slot:
    actor: object
    ready_ref: object
    number: int
    host: str = "?"


@dataclass
class _Ledger:
    attempts: dict[str, list[str]] = field(default_factory=dict)  # student -> why each retry
    ungraded: dict[str, str] = field(default_factory=dict)
    slots_lost: int = 0


class RayGrader:
    """Grades like WarmGrader (prepare, grade_all, close), on Ray slots."""

    def __init__(self, address: str = LOCAL, limits: Limits = DEFAULT, jobs: int | None = None,
                 sandbox: bool = True, cpus_per_slot: float = 1.0, gpus_per_slot: float = 0.0,
                 log: Callable[[str], None] | None = None) -> None:
        self.address, self.limits, self.sandbox = address, limits, sandbox
        self.shape = shape_for(limits, cpus_per_slot, gpus_per_slot)
        self.log = log or print
        self.requested = jobs
        self.jobs = jobs or 1
        self.ledger = _Ledger()
        self._lessons: list[str] = []
        self._slots: list[_Slot] = []  # every live slot
        self._idle: list[_Slot] = []
        self._warming: list[_Slot] = []
        self._numbers = 0
        self._ray = None
        self._stuck_seconds = limits.submission_seconds + STUCK_GRACE_SECONDS

    # --- the cluster -------------------------------------------------------
    def _connect(self):
        try:
            import ray
        except ImportError:
            raise RayGradingError("Ray is not installed in this environment: run `make setup` "
                                  "(it installs the pinned Ray)") from None
        if ray.is_initialized():
            self._ray = ray
            return ray
        kwargs = dict(log_to_driver=False, logging_level=logging.WARNING)
        try:
            if self.address == LOCAL:
                ray.init(**kwargs)
            else:
                ray.init(address=self.address, **kwargs)
        except Exception as e:  # noqa: BLE001 - Ray raises many kinds; all mean "cannot join"
            where = "a local Ray instance" if self.address == LOCAL else f"the cluster at {self.address}"
            cause = repr(e.__cause__ or e)
            if "Authentication" in cause or "InvalidAuthToken" in cause:
                raise RayGradingError(
                    f"{where} refused this machine's token: set RAY_AUTH_MODE=token and give it "
                    "the cluster's token (RAY_AUTH_TOKEN, or the head's ~/.ray/auth_token copied "
                    "here); see lessons/INSTRUCTORS.md") from None
            hint = ("Is `ray start --head` running there, with the same Ray version as here?")
            if "Starting Ray client server failed" in str(e) or "Proxy failed to Connect" in str(e):
                # Ray Client's proxy forks a server per driver while gRPC runs, and that
                # child can crash at once (ray-project/ray#63202).
                hint = ("The head's Ray Client proxy could not start this driver's server, a "
                        "known Ray fault: restart the head with GRPC_ENABLE_FORK_SUPPORT=0 in its "
                        "environment, or join it by its GCS address (HEAD:6379) instead of "
                        "ray://; see lessons/INSTRUCTORS.md.")
            raise RayGradingError(f"could not start or join {where}: {_first_line(e)}. "
                                  f"{hint}") from None
        self._ray = ray
        return ray

    def _size(self, ray) -> None:
        resources = ray.cluster_resources()
        fits = self.shape.fits(resources)
        if fits == 0:
            raise RayGradingError(
                f"no grading slot fits the cluster: each needs {self.shape.describe()}; the "
                f"cluster has {resources.get('CPU', 0):g} CPU, "
                f"{resources.get('memory', 0) / GIB:.1f} GiB of memory"
                + (f", {resources.get('GPU', 0):g} GPU" if self.shape.gpus else "")
                + ". Lower --memory-limit or --cpus-per-slot, or add nodes.")
        if self.requested and self.requested > fits:
            self.log(f"only {fits} grading slots fit the cluster ({self.shape.describe()} each), "
                     f"not {self.requested}: grading {fits} at a time")
        self.jobs = min(self.requested or fits, fits)

    def _new_slot(self) -> _Slot:
        from vllm_course.runner.ray_slot import GradingSlot

        ray = self._ray
        env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)
               and k != "VLLM_COURSE_SERVER_URL"}
        actor = ray.remote(GradingSlot).options(**self.shape.options()).remote(
            self._lessons, limits_to_wire(self.limits), self.sandbox, env,
            max(1, math.floor(self.shape.cpus)))  # torch threads: the CPUs it asked for
        self._numbers += 1
        slot = _Slot(actor, actor.ready.remote(), self._numbers)
        self._slots.append(slot)
        return slot

    def _drop(self, slot: _Slot) -> None:
        for group in (self._slots, self._idle, self._warming):
            if slot in group:
                group.remove(slot)
        try:
            self._ray.kill(slot.actor)
        except Exception:  # noqa: BLE001 - already dead is fine
            pass

    # --- the grader interface ------------------------------------------------
    def prepare(self, lessons) -> None:
        """Join the cluster and warm up every slot (each grades the references).
        Raises WarmUpError when a reference fails, as the local grader does."""
        ray = self._connect()
        self._size(ray)
        self._lessons = sorted({l.id for l in lessons} | set(self._lessons))
        where = "a local Ray instance" if self.address == LOCAL else self.address
        self.log(f"warming up {self.jobs} grading slots on {where} "
                 f"({self.shape.describe()} each)")
        for _ in range(self.jobs - len(self._idle) - len(self._warming)):
            self._warming.append(self._new_slot())
        while self._warming:
            if self._next_event(timeout=WARM_UP_SECONDS, running={}) is None:
                raise RayGradingError(f"no grading slot was ready after {WARM_UP_SECONDS:g} s: "
                                      "`ray status` shows what the cluster is missing")

    def _next_event(self, timeout: float, running: dict):
        """Wait for a task or a warming slot; returns the finished task's ref,
        "slot" for a slot event (handled here), or None on timeout."""
        refs = list(running) + [s.ready_ref for s in self._warming]
        if not refs:
            return None
        done, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if not done:
            return None
        if done[0] in running:
            return done[0]
        slot = next(s for s in self._warming if s.ready_ref == done[0])
        self._warming.remove(slot)
        try:
            info = self._ray.get(slot.ready_ref)
        except Exception as e:  # noqa: BLE001 - it died warming up (killed, node lost)
            info = {"error": f"died while warming up: {_first_line(e)}", "warm_up_failed": False}
        if info["warm_up_failed"]:
            self._drop(slot)
            raise WarmUpError(info["error"])
        if info["error"]:
            self._drop(slot)
            self._lost(f"slot {slot.number} {info['error']}")
        else:
            slot.host = info["host"]
            self._idle.append(slot)
        return "slot"

    def _lost(self, why: str) -> None:
        """A slot is gone: start another in its place, within a budget."""
        self.ledger.slots_lost += 1
        self.log(why)
        if self.ledger.slots_lost <= self.jobs * MAX_ATTEMPTS:
            self._warming.append(self._new_slot())

    def grade_all(self, submissions: list[Submission],
                  on_done: Callable[[Graded], None] | None = None) -> list[Graded]:
        """Each submission graded once, on whichever slot is free."""
        if self._ray is None or not (self._idle or self._warming):
            self.prepare({s.lesson.id: s.lesson for s in submissions}.values())
        queue = deque(submissions)
        running: dict[object, tuple[_Slot, Submission]] = {}
        sent: dict[object, float] = {}
        finished: dict[str, Graded] = {}
        idle_since = time.monotonic()
        while queue or running:
            while queue and self._idle:
                slot, sub = self._idle.pop(0), queue.popleft()
                source = sub.source if sub.source is not None else sub.path.read_bytes()
                ref = slot.actor.grade.remote(request(sub.student, sub.lesson.id, sub.path,
                                                      source, sub.exercises))
                running[ref] = (slot, sub)
                sent[ref] = time.monotonic()
            if not running and not self._warming:
                raise RayGradingError("every grading slot died and no more are started: "
                                      f"{len(queue)} submissions left ungraded")
            ref = self._next_event(timeout=POLL_SECONDS, running=running)
            now = time.monotonic()
            if running or ref is not None:
                idle_since = now
            elif now - idle_since > WARM_UP_SECONDS:
                raise RayGradingError(f"no replacement grading slot was ready after "
                                      f"{WARM_UP_SECONDS:g} s: `ray status` shows why")
            for stuck in [r for r in running if now - sent[r] > self._stuck_seconds]:
                self.log(f"{running[stuck][1].student}: slot {running[stuck][0].number} did not "
                         f"answer in {self._stuck_seconds:g} s: stopping it")
                self._ray.kill(running[stuck][0].actor)  # its ref now fails: retried below
                sent[stuck] = float("inf")
            if ref is None or ref == "slot":
                continue
            slot, sub = running.pop(ref)
            try:
                data = self._ray.get(ref)
            except Exception as e:  # noqa: BLE001 - the slot died: its submission goes back
                why = f"slot {slot.number} on {slot.host} died: {_first_line(e)}"
                self._drop(slot)
                tries = self.ledger.attempts.setdefault(sub.student, [])
                tries.append(why)
                if len(tries) >= MAX_ATTEMPTS:
                    self.ledger.ungraded[sub.student] = why
                    self._lost(f"{sub.student}: NOT GRADED, {MAX_ATTEMPTS} slots died grading it")
                else:
                    queue.appendleft(sub)
                    self._lost(f"{sub.student}: {why}; grading it again elsewhere")
                continue
            self._idle.append(slot)
            if sub.student in finished:  # cannot happen: one slot per submission
                continue
            graded = graded_from_wire(data, sub)
            finished[sub.student] = graded
            if on_done:
                on_done(graded)
        return [finished[s.student] for s in submissions if s.student in finished]

    def summary(self) -> list[str]:
        """What was retried, and what could not be graded."""
        lines = []
        ledger = self.ledger
        if ledger.attempts:
            lines.append(f"retried on another slot: {len(ledger.attempts)} submissions "
                         f"({ledger.slots_lost} slots lost and replaced); each counted once")
            for student, why in sorted(ledger.attempts.items()):
                lines.append(f"  {student}: {len(why)} retr{'y' if len(why) == 1 else 'ies'} "
                             f"({why[-1]})")
        for student, why in sorted(ledger.ungraded.items()):
            lines.append(f"NOT GRADED {student}: {why}. Run the same command again to grade it.")
        return lines

    def close(self) -> None:
        for slot in list(self._slots):
            self._drop(slot)
        if self._ray is not None:  # a local instance stops; a cluster only loses this driver
            self._ray.shutdown()
        self._ray = None

    def __enter__(self) -> "RayGrader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _first_line(error: Exception) -> str:
    """Ray's message, short: its first lines (some put the cause on the second).
    A server-side traceback (Ray Client's init failure) is cut to its final
    exception line, the only one that says what went wrong."""
    text = str(error).strip()
    raw = text.splitlines()
    if "Traceback (most recent call last)" in text:
        last = [l for l in raw if l.strip() and not l.startswith((" ", "\t", "Traceback"))]
        if last:
            return f"{raw[0].strip()} {last[-1].strip()}"[:400]
    lines = [l.strip() for l in raw if l.strip()]
    return " / ".join(lines[:3])[:400] if lines else type(error).__name__
