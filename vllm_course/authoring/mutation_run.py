"""`make mutants`: grade every mutant of every solution with the warm grader,
and list the mutants that keep full points.

    python -m vllm_course.authoring.mutation_run [LESSON ...] [-j N]

A mutant (mutants.py) changes one exercise's solution a little; only that
exercise's checks grade it. It is killed when it loses points. A survivor is
either a grader gap (fix the grader, plant the mistake) or an equivalent
mutant, listed in tests/equivalent_mutants.yaml with the reason it cannot be
told apart. The run fails on any unexplained survivor, and on an entry of
that list that no longer matches a surviving mutant (so the list stays true).
"""

from __future__ import annotations

import argparse
import atexit
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from vllm_course.grading import scoring
from vllm_course.course.paths import relative
from vllm_course.course.manifest import REPO_ROOT, course
from vllm_course.authoring.mutants import Mutant, lesson_mutants

EQUIVALENT_PATH = REPO_ROOT / "tests" / "equivalent_mutants.yaml"


@dataclass(frozen=True)
class Equivalent:
    lesson: str  # or "*"
    function: str  # or "*"
    change: str
    why: str

    def matches(self, m: Mutant) -> bool:
        return (self.lesson in ("*", m.lesson) and self.function in ("*", m.function)
                and self.change == m.change)


def load_equivalents(path: Path = EQUIVALENT_PATH) -> list[Equivalent]:
    where = relative(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else []
    if not isinstance(data, list):
        raise SystemExit(f"{where}: expected a list of entries, got {type(data).__name__}")
    found = []
    for i, entry in enumerate(data or []):
        if not isinstance(entry, dict) or set(entry) != {"lesson", "function", "change", "why"}:
            raise SystemExit(f"{where}: entry {i}: expected exactly the fields lesson, "
                             f"function, change and why; got {entry!r}")
        if not str(entry["why"]).strip():
            raise SystemExit(f"{where}: entry {i} ({entry['change']}): `why` may not be empty")
        found.append(Equivalent(**{k: str(v) for k, v in entry.items()}))
    return found


def main(argv: list[str] | None = None) -> int:
    from vllm_course.course.limits import default_jobs

    parser = argparse.ArgumentParser(prog="make mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("lessons", nargs="*", help="lesson ids (default: every lesson)")
    parser.add_argument("-j", "--jobs", type=int, default=default_jobs())
    parser.add_argument("--show-kills", action="store_true",
                        help="also print, for each killed mutant, the first failure message")
    args = parser.parse_args(argv)
    known = {l.id: l for l in course().lessons}
    unknown = [l for l in args.lessons if l not in known]
    if unknown:
        parser.error(f"unknown lesson(s) {unknown}; course.yaml has {sorted(known)}")
    lessons = [known[l] for l in args.lessons] if args.lessons else list(known.values())
    equivalents = load_equivalents()

    from vllm_course.runner.warm import NOT_RUN, Submission, WarmGrader

    grader = WarmGrader(jobs=args.jobs, log=lambda line: print(line, flush=True))
    atexit.register(grader.close)  # lesson 9's server, however the run ends
    survivors, explained, errors, used = [], [], [], set()
    scores = []
    with tempfile.TemporaryDirectory(prefix="course-mutants-") as tmp:
        for lesson in lessons:
            mutants = lesson_mutants(lesson)
            points = {e.function: e.points for e in lesson.exercises}
            submissions = []
            for i, m in enumerate(mutants):
                path = Path(tmp) / lesson.id / f"mutant-{i:03d}" / lesson.exercise_file
                path.parent.mkdir(parents=True)
                path.write_text(m.source)
                submissions.append(Submission(f"mutant-{i:03d}", lesson, path,
                                              exercises=frozenset({m.function})))
            print(f"{lesson.id}: grading {len(mutants)} mutants", flush=True)
            start, done = time.monotonic(), [0]

            def progress(_graded, total=len(mutants)):
                done[0] += 1
                if done[0] % 20 == 0 or done[0] == total:
                    print(f"  {done[0]}/{total} graded ({time.monotonic() - start:.0f} s)",
                          flush=True)

            graded = grader.grade_all(submissions, progress)
            killed = 0
            for m, g in zip(mutants, graded):
                messages = g.results[m.function].messages
                if any(NOT_RUN in text for text in messages) or \
                        g.results[m.function].status == scoring.KIT_ERROR:
                    # The grading broke, not the mutant's code: never counted as a kill.
                    errors.append((m, g))
                    continue
                if g.results[m.function].points < points[m.function]:
                    killed += 1
                    if args.show_kills:
                        why = (g.results[m.function].messages or ["?"])[0].splitlines()[0]
                        print(f"killed      {m.label}: {why[:160]}")
                    continue
                match = next((e for e in equivalents if e.matches(m)), None)
                if match is None:
                    survivors.append(m)
                else:
                    used.add(match)
                    explained.append((m, match))
            relevant = len(mutants) - sum(1 for m, _ in explained + errors if m.lesson == lesson.id)
            scores.append((lesson.id, killed, relevant, len(mutants)))

    print()
    for m, e in explained:
        print(f"equivalent  {m.label}  ({e.why})")
    for m in survivors:
        print(f"SURVIVED    {m.label}\n{_indent(m.diff)}")
    for m, g in errors:
        print(f"NOT GRADED  {m.label}: {'; '.join(g.notes) or 'its checks could not be run'}")
    if errors:  # what the first broken child printed, to find out why
        print(_indent("\n".join(errors[0][1].output.strip().splitlines()[-15:])))
    # Judged only on a complete run: a mutant that was not graded may be the match.
    ran = {l.id for l in lessons}
    stale = [] if errors else [e for e in equivalents if e not in used and (
        e.lesson in ran or (e.lesson == "*" and ran == set(known)))]
    for e in stale:
        print(f"STALE       {EQUIVALENT_PATH.name}: {e.lesson}.{e.function}: {e.change} "
              "matches no surviving mutant: remove it")
    print("\nMutation score (killed / mutants that are not equivalent):")
    for lesson_id, killed, relevant, total in scores:
        share = f"{100 * killed / relevant:.0f}%" if relevant else "-"
        print(f"  {lesson_id}: {killed}/{relevant} = {share}  ({total} mutants, "
              f"{total - relevant} equivalent)")
    if errors:
        print(f"\n{len(errors)} mutant(s) could not be graded: the grading itself failed (see "
              "above); run again, and report it if it persists.")
    if survivors or stale or errors:
        print(f"\n{len(survivors)} unexplained survivor(s), {len(stale)} stale entr(ies). For a "
              "survivor: make its exercise's grader catch it (and plant the mistake in "
              f"tests/planted_mistakes.yaml), or, if no grader could tell it apart, add it to "
              f"{relative(EQUIVALENT_PATH)} with the reason.")
        return 1
    return 0


def _indent(text: str) -> str:
    return "\n".join("              " + line for line in text.splitlines())


if __name__ == "__main__":
    sys.exit(main())
