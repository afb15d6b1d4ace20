"""A warm grader behind a pipe: `python -m vllm_course.runner.service LESSON...`.

Ray's worker processes are threaded, and the warm grader must fork alone
(warm.py), so a Ray grading slot (ray_slot.py) does not host it: it starts
this plain process and relays submissions to it. Nothing of a submission runs
here either: each is still graded in a limited child of the warm grader.

Protocol, one JSON object per line:
- on stdin, one request per submission: {"student", "lesson", "path",
  "source" (base64), "exercises" (a list, or null)};
- on the file descriptor that was stdout, first {"ready": true} once every
  lesson's reference passed (or {"error": "..."} and exit status 1), then one
  {"graded": ...} per request, in order. Anything printed here goes to stderr,
  so stray output cannot break a reply.
The process ends when stdin closes, or when its parent dies (the slot's actor
killed): it then stops its grading child before going.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import json
import os
import signal
import sys
from dataclasses import fields
from pathlib import Path

from vllm_course.grading import scoring
from vllm_course.course.limits import Limits
from vllm_course.runner.warm import Graded, Submission, WarmGrader, WarmUpError
from vllm_course.course.manifest import course

PR_SET_PDEATHSIG = 1


def request(student: str, lesson_id: str, path: Path, source: bytes,
            exercises: frozenset[str] | None = None) -> dict:
    return {"student": student, "lesson": lesson_id, "path": str(path),
            "source": base64.b64encode(source).decode("ascii"),
            "exercises": None if exercises is None else sorted(exercises)}


def graded_to_wire(graded: Graded) -> dict:
    return {"results": {name: {"outcomes": r.outcomes, "messages": r.messages}
                        for name, r in graded.results.items()},
            "notes": graded.notes, "output": graded.output, "seconds": graded.seconds,
            "children": graded.children, "tampered": graded.tampered}


def graded_from_wire(data: dict, submission: Submission) -> Graded:
    """The Graded a local grader would have returned, for the driver's own
    Submission (so results files name the file as it is on the driver)."""
    results = scoring.new_results(submission.lesson)
    for name, result in data["results"].items():
        results[name].outcomes = [None if o is None else bool(o) for o in result["outcomes"]]
        results[name].messages = [str(m) for m in result["messages"]]
    return Graded(submission, results, list(data["notes"]), str(data["output"]),
                  float(data["seconds"]), int(data["children"]), list(data["tampered"]))


def limits_to_wire(limits: Limits) -> dict:
    return {f.name: getattr(limits, f.name) for f in fields(limits)}


def _die_with_parent() -> None:
    """SIGTERM when the process that started this one dies (Ray killed the
    slot, or its node went), then the handler below stops the grading child."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before the call
        raise SystemExit(1)


def _terminate(signum, frame):
    raise SystemExit(128 + signum)  # unwinds the grader: its finally kills the child


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vllm_course.runner.service")
    parser.add_argument("lessons", nargs="+", metavar="LESSON")
    parser.add_argument("--limits", required=True, help="JSON: every field of Limits")
    parser.add_argument("--no-sandbox", action="store_true")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads per graded child: the slot's CPUs")
    args = parser.parse_args(argv)
    replies = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    signal.signal(signal.SIGTERM, _terminate)
    _die_with_parent()

    def reply(**data) -> None:
        replies.write(json.dumps(data) + "\n")

    lessons = [course().lesson(l) for l in args.lessons]
    grader = WarmGrader(Limits(**json.loads(args.limits)), jobs=1, sandbox=not args.no_sandbox,
                        threads=args.threads)
    try:
        try:
            grader.prepare(lessons)
        except WarmUpError as e:
            reply(error=str(e))
            return 1
        reply(ready=True)
        for line in sys.stdin:
            req = json.loads(line)
            lesson = course().lesson(req["lesson"])
            if lesson.id not in grader.checks:
                raise ValueError(f"asked to grade {lesson.id}, which this service did not prepare")
            exercises = req["exercises"]
            submission = Submission(req["student"], lesson, Path(req["path"]),
                                    source=base64.b64decode(req["source"]),
                                    exercises=None if exercises is None else frozenset(exercises))
            reply(graded=graded_to_wire(grader.grade(submission)))
        return 0
    finally:
        grader.close()


if __name__ == "__main__":
    sys.exit(main())
