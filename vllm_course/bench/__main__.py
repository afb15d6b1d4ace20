"""`make bench`: figures measured side by side in one run, reported as ratios."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

ROUNDS = 3


class Worker:
    def __init__(self, label: str, kind: str, *args: str) -> None:
        env = dict(os.environ, VLLM_CONFIGURE_LOGGING="0", TQDM_DISABLE="1")
        self.kind = label
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vllm_course.bench.workers", kind, *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=env,
        )
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()[-3000:]
            raise SystemExit(f"bench: the {self.kind} worker died:\n{err}")
        return json.loads(line)

    def round(self) -> dict:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def throughput(model: str) -> None:
    print(f"Greedy generation, {len(_prompts())} prompts x 64 new tokens, "
          f"opt-125m-shaped checkpoint ({ROUNDS} alternating rounds, median):", flush=True)
    workers = [
        Worker("vLLM, CPU platform defaults", "vllm", model),
        Worker("vLLM, float32", "vllm", model, "float32"),
        Worker("transformers generate", "transformers", model),
    ]
    rates: dict[str, list[float]] = {w.kind: [] for w in workers}
    for i in range(ROUNDS):
        for w in workers:
            r = w.round()
            rates[w.kind].append(r["tokens"] / r["seconds"])
        print(f"  round {i + 1}/{ROUNDS} done", flush=True)
    for w in workers:
        w.close()
    median = {k: statistics.median(v) for k, v in rates.items()}
    for w in workers:
        print(f"  {w.kind:<30} {median[w.kind]:7.1f} tok/s   "
              f"start-up {w.info['startup']:5.1f} s   dtype {w.info['dtype']}")
    base = median["transformers generate"]
    print(f"  ratio vLLM (defaults) / transformers: {median['vLLM, CPU platform defaults'] / base:.2f}x"
          " (goal: >= 1.00x)")
    print(f"  ratio vLLM (float32)  / transformers: {median['vLLM, float32'] / base:.2f}x"
          " (same dtype on both sides)")


def _timed(cmd: list[str], cwd, env) -> tuple[float, subprocess.CompletedProcess]:
    import time

    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"bench: `{' '.join(cmd)}` failed:\n{done.stdout[-2000:]}{done.stderr[-3000:]}")
    return seconds, done


def grading_wall_time(offline: str) -> None:
    from vllm_course.manifest import REPO_ROOT

    env = dict(os.environ, VLLM_COURSE_MODEL=offline)
    cmd = [sys.executable, "-m", "pytest", "exercises/lesson01", "--target", "solutions", "-q"]
    seconds, done = _timed(cmd, REPO_ROOT, env)
    score = [l for l in done.stdout.splitlines() if l.startswith("lesson01:")]
    print(f"Grading: pytest exercises/lesson01 --target solutions, offline model: "
          f"{seconds:.1f} s wall (goal: <= 15 s), {score[0] if score else 'no score line'}",
          flush=True)


def autograde_wall_time(offline: str) -> None:
    import json
    import tempfile
    from pathlib import Path

    from vllm_course.manifest import course
    from vllm_course.nbgrader_build import build, filled_submission

    bindir = Path(sys.executable).parent
    env = dict(os.environ, VLLM_COURSE_MODEL=offline,
               PATH=f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(course(), root, ["lesson01"])
        _timed([str(bindir / "nbgrader"), "generate_assignment", "lesson01", "--force"], root, env)
        release = root / "release" / "lesson01" / "lesson01.ipynb"
        source = root / "source" / "lesson01" / "lesson01.ipynb"
        dest = root / "submitted" / "alice" / "lesson01" / "lesson01.ipynb"
        dest.parent.mkdir(parents=True)
        dest.write_text(json.dumps(filled_submission(release, source)))
        _timed([str(bindir / "nbgrader"), "db", "student", "add", "alice"], root, env)
        seconds, _ = _timed([str(bindir / "nbgrader"), "autograde", "lesson01", "--force"],
                            root, env)
    print(f"nbgrader: autograding one lesson01 submission: {seconds:.1f} s wall", flush=True)


def _prompts():
    from vllm_course.bench.workers import PROMPTS

    return PROMPTS


def main() -> int:
    from vllm_course import offline_model

    model = offline_model.ensure_built("opt-125m-shape")
    offline = str(offline_model.ensure_built("tiny"))
    throughput(str(model))
    grading_wall_time(offline)
    autograde_wall_time(offline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
