"""`course grade --ray`: the class graded on a real Ray cluster of this machine.

A cluster of two CPU slots (`ray start --head --num-cpus 2`) grades a mixed
set of lesson-1 submissions (the reference, the stubs, one planted mistake per
exercise, hostile files, nbgrader notebooks) while the test kills one of its
slot actors; the results must be those of the local warm grader on the same
files (test_grading's class run). GPU slots cannot run here (no GPU): what
can be checked is what each slot asks Ray for, and that a cluster without
GPUs refuses them by name.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from vllm_course.authoring import planted
from vllm_course.course.limits import DEFAULT, GIB
from vllm_course.runner.service import graded_from_wire, graded_to_wire
from vllm_course.runner.warm import Graded, Submission
from vllm_course.course.manifest import course
from vllm_course.instructor.ray_grading import SLOT_OVERHEAD_BYTES, SlotShape, _first_line, shape_for

import hostile
from conftest import CLASS_GRADE_OPTIONS

LESSON = course().lesson("lesson01")
BIN = Path(sys.executable).parent
HOSTILE = ["syntax-error", "crash", "segfault", "memory-hog", "output-flood", "forged-report",
           "exit-0-at-import", *hostile.DOORS]
SERVICE = "vllm_course.runner.service"


# --- what each slot asks for (pure) ------------------------------------------
def test_a_slot_asks_for_its_cpus_memory_and_gpu_fraction():
    shape = shape_for(DEFAULT, cpus=2, gpus=0.25)
    assert shape.options() == {"num_cpus": 2, "memory": DEFAULT.memory_bytes + SLOT_OVERHEAD_BYTES,
                               "num_gpus": 0.25, "max_restarts": 0, "max_concurrency": 1}
    assert "num_gpus" not in shape_for(DEFAULT).options()  # CPU slots never wait for a GPU


def test_slots_that_fit_a_cluster_are_counted_on_every_resource():
    shape = SlotShape(cpus=1, memory_bytes=8 * GIB, gpus=0.5)
    assert shape.fits({"CPU": 16, "memory": 64 * GIB, "GPU": 1}) == 2  # GPUs limit
    assert shape.fits({"CPU": 16, "memory": 20 * GIB, "GPU": 4}) == 2  # memory limits
    assert shape.fits({"CPU": 3, "memory": 64 * GIB, "GPU": 4}) == 3  # CPUs limit
    assert shape.fits({"CPU": 16, "memory": 64 * GIB}) == 0  # no GPU at all
    assert SlotShape(1, 8 * GIB).fits({"CPU": 16, "memory": 64 * GIB}) == 8


@pytest.mark.parametrize("cpus,gpus,field", [(0, 0, "--cpus-per-slot"),
                                              (1, 1.5, "--gpus-per-slot"),
                                              (1, -0.1, "--gpus-per-slot")])
def test_bad_slot_shapes_are_refused_by_name(cpus, gpus, field):
    with pytest.raises(ValueError, match=field):
        shape_for(DEFAULT, cpus, gpus)


def test_a_graded_result_crosses_the_wire_unchanged():
    sub = Submission("alice", LESSON, Path("alice.py"), source=b"x")
    from vllm_course.grading import scoring

    results = scoring.new_results(LESSON)
    results["generate"].outcomes, results["generate"].messages = [True, False], ["generate: no"]
    graded = Graded(sub, results, ["a note"], "printed", 1.5, 2, ["report channel"])
    back = graded_from_wire(json.loads(json.dumps(graded_to_wire(graded))), sub)
    assert back.results_json() == graded.results_json()
    assert back.output == graded.output and back.score == graded.score


def test_a_server_side_traceback_is_cut_to_what_went_wrong():
    """Ray Client's init failure carries the head's whole traceback; the
    instructor is shown its first line and the exception that ended it."""
    error = ConnectionAbortedError(
        "Initialization failure from server:\nTraceback (most recent call last):\n"
        '  File "proxier.py", line 772, in Datapath\n    raise RuntimeError(\n'
        "RuntimeError: Proxy failed to Connect to backend! Check the logs.\n")
    assert _first_line(error) == ("Initialization failure from server: RuntimeError: Proxy "
                                  "failed to Connect to backend! Check the logs.")
    assert _first_line(RuntimeError("one\ntwo")) == "one / two"


# --- a real cluster ----------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """`ray start --head` with two CPUs on this machine, with a token of its
    own (as INSTRUCTORS.md sets one up); stopped at the end. Yields
    (address, Ray Client address, the environment that reaches it)."""
    port, client_port = _free_port(), _free_port()
    temp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # short: Ray's socket paths go under it
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
               **{hostile.SECRET_ENV: hostile.SECRET},  # in the cluster's and the driver's
               # Ray Client's proxy forks each driver's server while gRPC runs; with
               # gRPC's fork support on, that child can crash (ray-project/ray#63202).
               # INSTRUCTORS.md tells instructors to start their head this way.
               GRPC_ENABLE_FORK_SUPPORT="0")
    started = subprocess.run(
        [BIN / "ray", "start", "--head", "--port", str(port), "--num-cpus", "2",
         "--ray-client-server-port", str(client_port), "--node-ip-address", "127.0.0.1",
         "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", temp],
        capture_output=True, text=True, timeout=300, env=env)
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    try:
        yield f"127.0.0.1:{port}", f"ray://127.0.0.1:{client_port}", env
    finally:
        subprocess.run([BIN / "ray", "stop", "--force"], capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def _mixed_class(source: Path, folder: Path) -> list[str]:
    """A copy of part of test_grading's lesson-1 class: its students' ids."""
    first = {}
    for m in planted.mistakes(LESSON):
        first.setdefault(m.function, m.student)
    plain = ["zz-reference", "stub", *first.values(), *HOSTILE]
    for student in plain:
        shutil.copy(source / f"{student}.py", folder / f"{student}.py")
    shutil.copytree(source / "submitted", folder / "submitted")
    return plain + sorted(p.name for p in (source / "submitted").iterdir())


def _comparable(results: dict) -> dict:
    """A results.json without what differs between any two runs: times,
    counts, the memory a hog had reached when it was stopped, how much of a
    flood (vLLM's own log lines among it) was dropped."""
    extra = results["extra_data"]
    tests = [dict(t, output=re.sub(r"used \d+\.\d+ GiB", "used N GiB", t["output"]))
             for t in results["tests"]]
    notes = re.sub(r"\d+ more bytes were dropped", "N more bytes were dropped", results["output"])
    return {"score": results["score"], "tests": tests, "output": notes,
            "lesson": extra["lesson"], "tampered": extra["tampered"], "sha256": extra["sha256"]}


def _services() -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if SERVICE in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found


def _kill_a_busy_slot(deadline: float) -> str:
    """SIGKILL the Ray actor whose warm grader is grading a submission now
    (it has a child): that submission must be graded again elsewhere."""
    while time.monotonic() < deadline:
        for service in _services():
            try:
                if service.children():
                    actor = service.parent()
                    title = " ".join(actor.cmdline())
                    actor.send_signal(signal.SIGKILL)
                    return title
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.2)
    raise AssertionError("no slot was seen grading")


def test_gpu_slots_are_refused_by_a_cluster_without_gpus(cluster, tmp_path):
    """The GPU path cannot run here: the request reaches the real cluster
    (joined through Ray Client), which has no GPU, and the run says so
    before anything is graded."""
    _, client_address, env = cluster
    (tmp_path / "in").mkdir()
    shutil.copy(LESSON.solution_path, tmp_path / "in" / "alice.py")
    done = subprocess.run(
        [BIN / "course", "grade", LESSON.id, str(tmp_path / "in"), "--out", str(tmp_path / "out"),
         "--ray", client_address, "--gpus-per-slot", "0.25"],
        capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no grading slot fits the cluster" in done.stderr
    assert "0.25 GPU" in done.stderr and "0 GPU" in done.stderr, done.stderr
    assert not (tmp_path / "out" / "alice").exists()


def test_a_driver_without_the_clusters_token_is_told_how_to_join(cluster, tmp_path):
    address, _, env = cluster
    (tmp_path / "in").mkdir()
    shutil.copy(LESSON.solution_path, tmp_path / "in" / "alice.py")
    without = {k: v for k, v in env.items() if not k.startswith("RAY_AUTH")}
    done = subprocess.run(
        [BIN / "course", "grade", LESSON.id, str(tmp_path / "in"), "--out", str(tmp_path / "out"),
         "--ray", address], capture_output=True, text=True, timeout=600, env=without)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"the cluster at {address} refused this machine's token" in done.stderr, done.stderr[-3000:]
    assert "RAY_AUTH_MODE=token" in done.stderr


def test_ray_grades_like_the_local_grader_and_survives_a_killed_slot(
        cluster, graded_class, tmp_path):
    address, _, env = cluster
    local, _, local_status, root = graded_class(LESSON)
    folder, out = tmp_path / "in", tmp_path / "out"
    folder.mkdir()
    students = _mixed_class(root / "in", folder)
    started = time.monotonic()
    run = subprocess.Popen(
        [BIN / "course", "grade", LESSON.id, str(folder), "--out", str(out),
         *CLASS_GRADE_OPTIONS, "--ray", address],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        # Once a first result is written the slots are warm: kill one mid-run.
        while not list(out.glob("*/results.json")) and run.poll() is None:
            time.sleep(0.5)
        assert run.poll() is None, run.stdout.read()[-4000:]
        killed = _kill_a_busy_slot(time.monotonic() + 120)
        output, _ = run.communicate(timeout=1800)
    finally:
        if run.poll() is None:
            run.kill()
    seconds = time.monotonic() - started
    # Status 1 on both: syntax-error.py is reported as an input problem.
    assert run.returncode == local_status == 1, output[-4000:]
    assert "syntax-error.py: does not parse as Python" in output
    assert "GradingSlot" in killed, killed  # the process killed was a slot's actor
    # The slot's submission was graded again, elsewhere, and counted once.
    assert re.search(r"retried on another slot: 1 submissions \(1 slots lost and replaced\)",
                     output), output[-4000:]
    assert "grading it again elsewhere" in output
    got = {p.parent.name: json.loads(p.read_text()) for p in out.glob("*/results.json")}
    assert sorted(got) == sorted(students)
    for student in students:
        assert _comparable(got[student]) == _comparable(local[student]), student
    for door in hostile.DOORS:  # the same doors stay shut on a slot
        printed = (out / door / "output.txt").read_text()
        assert f"DOOR {door} tried" in printed and "LEAK" not in printed, printed[-2000:]
        assert hostile.SECRET not in printed
    rows = (out / "grades.csv").read_text().splitlines()
    assert len(rows) == 1 + len(students)  # one row each: nothing counted twice
    local_rows = {line.split(",")[0]: line for line in
                  (root / "out" / "grades.csv").read_text().splitlines()}
    assert all(local_rows[row.split(",")[0]] == row for row in rows[1:])
    # The dead slot's warm grader went with it; the others were stopped.
    _, alive = psutil.wait_procs(_services(), timeout=30)
    assert alive == [], [" ".join(p.cmdline()) for p in alive]
    print(f"\nray class run of {len(students)} submissions (one slot killed): {seconds:.0f} s")


def test_without_an_address_a_local_ray_instance_grades_and_goes(graded_class, tmp_path):
    """`--ray` alone: Ray started for the run, the same results, and nothing
    of Ray or of the slots left running afterwards."""
    from grading_helpers import adopt_orphans, processes_since

    local, _, _, root = graded_class(LESSON)
    folder = tmp_path / "in"
    folder.mkdir()
    for student in ("zz-reference", "stub", "crash"):
        shutil.copy(root / "in" / f"{student}.py", folder / f"{student}.py")
    adopt_orphans()
    started = time.time()
    done = subprocess.run(
        [BIN / "course", "grade", LESSON.id, str(folder), "--out", str(tmp_path / "out"),
         *CLASS_GRADE_OPTIONS, "--ray", "-j", "1"],
        capture_output=True, text=True, timeout=1200,
        env={k: v for k, v in os.environ.items() if not k.startswith("RAY_")})
    assert done.returncode == 0, done.stderr[-4000:]
    assert "on a local Ray instance" in done.stderr
    for student in ("zz-reference", "stub", "crash"):
        got = json.loads((tmp_path / "out" / student / "results.json").read_text())
        assert _comparable(got) == _comparable(local[student]), student
    assert processes_since(started) == []
