"""Run the graders on a submission the way a student does, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

from vllm_course.manifest import REPO_ROOT, Lesson
from vllm_course.stubs import solution_path, solution_regions

PLANTED = yaml.safe_load((Path(__file__).parent / "planted_mistakes.yaml").read_text())


def grade(lesson: Lesson, target: str | Path, tmp_path: Path, *extra: str) -> tuple[dict, str]:
    """Run `pytest exercises/<lesson> --target ...`; return (results.json, output)."""
    results = tmp_path / f"results-{abs(hash(str(target)))}.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", f"exercises/{lesson.id}", "--target", str(target),
         "--results", str(results), *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"},
    )
    assert results.exists(), f"no results written:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return json.loads(results.read_text()), done.stdout + done.stderr


def scores(results: dict) -> dict[str, int]:
    return {t["name"]: t["score"] for t in results["tests"]}


def with_body(lesson: Lesson, function: str, body: str) -> str:
    """The solution file with `function`'s solution region replaced by `body`."""
    return replace_solution(solution_path(lesson).read_text(), function, body)


def replace_solution(source: str, function: str, body: str) -> str:
    """`source` with the solution region inside `def function` replaced by `body`."""
    lines = source.splitlines()
    for begin, end, indent in solution_regions(source):
        header = next(l for l in reversed(lines[:begin]) if l.lstrip().startswith("def "))
        if header.lstrip().startswith(f"def {function}("):
            new = textwrap.indent(textwrap.dedent(body).rstrip("\n"), indent).splitlines()
            return "\n".join(lines[:begin] + new + lines[end + 1:]) + "\n"
    raise KeyError(f"no solution region for {function}")
