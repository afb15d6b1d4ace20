"""What Gradescope's `run_autograder` runs: grade the one submission in
ROOT/submission with the warm grader (the limits and sandbox of `course
grade`) and write ROOT/results/results.json (scoring.gradescope's format).

    python -m vllm_course.instructor.gradescope_run LESSON [--root /autograder]

The submission is the lesson's exercise file, or failing that the only .py
file, or the only notebook. Missing, empty, ambiguous or in another format, it
gets a results.json that says so, with a score of 0: never a crash. A kit
error (the reference does not pass here) is said to be the kit's, not the
student's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from vllm_course.grading import scoring
from vllm_course.course.manifest import Lesson, ManifestError, course

ROOT = Path("/autograder")


class NotGradable(ValueError):
    """The submission cannot be graded; the message tells the student why."""


def find_submission(folder: Path, lesson: Lesson) -> Path:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "__MACOSX" not in p.parts) \
        if folder.is_dir() else []
    if not files:
        raise NotGradable(f"nothing was submitted: upload {lesson.exercise_file} (or the "
                          f"lesson's notebook, {lesson.id}.ipynb)")
    named = [p for p in files if p.name == lesson.exercise_file]
    python = [p for p in files if p.suffix == ".py"]
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    for group in (named, python, notebooks):
        if len(group) == 1:
            chosen = group[0]
            break
        if len(group) > 1:
            raise NotGradable(f"{len(group)} candidate files were submitted ("
                              + ", ".join(p.name for p in group)
                              + f"): upload only {lesson.exercise_file} or one notebook")
    else:
        raise NotGradable(f"expected {lesson.exercise_file} (a .py file) or a notebook (.ipynb), "
                          "found " + ", ".join(p.name for p in files[:5]))
    if not chosen.read_bytes().strip():
        raise NotGradable(f"{chosen.name} is empty: upload the file with your code in it")
    return chosen


def _refused(lesson: Lesson, why: str, seconds: float) -> dict:
    results = scoring.new_results(lesson)
    for r in results.values():
        r.outcomes, r.messages = [False], [f"{r.function}: not graded: {why}"]
    data = scoring.gradescope([(lesson, results)], seconds)
    data["output"] = f"Not graded: {why}.\n" + data["output"]
    return data


def grade(lesson: Lesson, root: Path) -> tuple[dict, int]:
    """(results.json, exit status): 0 graded or refused, 1 a kit error."""
    from vllm_course.runner.warm import Submission, WarmGrader, WarmUpError
    from vllm_course.instructor.submissions import notebook_code

    started = time.monotonic()
    try:
        path = find_submission(root / "submission", lesson)
        source = path.read_bytes()
        if path.suffix == ".ipynb":
            try:
                source = notebook_code(path).encode()
            except (ValueError, OSError, KeyError, TypeError) as e:
                raise NotGradable(f"{path.name} is not a readable notebook ({e})") from None
    except NotGradable as e:
        return _refused(lesson, str(e), time.monotonic() - started), 0
    grader = WarmGrader(jobs=1, log=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        grader.prepare([lesson])
        graded = grader.grade(Submission("submission", lesson, path, source))
    except WarmUpError as e:
        return _refused(lesson, f"the autograder could not start (the kit's fault, not "
                                f"yours; tell your instructor): {e}", time.monotonic() - started), 1
    finally:
        grader.close()
    data = graded.results_json()
    data["execution_time"] = round(time.monotonic() - started, 1)
    return data, 1 if graded.kit_errors else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder")
    parser.add_argument("lesson", metavar="LESSON")
    parser.add_argument("--root", type=Path, default=ROOT, metavar="DIR")
    args = parser.parse_args(argv)
    try:
        lesson = course().lesson(args.lesson)
    except ManifestError as e:
        print(f"run_autograder: {e}", file=sys.stderr)
        return 2
    data, status = grade(lesson, args.root)
    out = args.root / "results" / "results.json"
    scoring.write_results(out, data)
    print(data["output"])
    return status


if __name__ == "__main__":
    sys.exit(main())
