"""`vllm serve` on this machine (vllm_course/runtime/serving.py): the offline model
served on the kit's CPU platform (the engine in its own process) answers as
the offline engine does, and no server process outlives its block, however
the block ends: normally, by an exception, by Ctrl-C, or by a failed start;
nor a lesson's grading run, even one killed outright."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import psutil
import pytest
from openai import OpenAI
from vllm import SamplingParams

from grading_helpers import adopt_orphans, processes_since
from vllm_course.course.limits import DEFAULT as LIMITS
from vllm_course.course.manifest import REPO_ROOT
from vllm_course.runtime.server_watchdog import STOP_SECONDS
from vllm_course.runtime.serving import HOST, ServerError, serve

PROMPTS = ["The capital of France is", "Hello, my name is"]


def family(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def gone(processes: list[psutil.Process], seconds: float = 10.0) -> list[psutil.Process]:
    """The processes still alive after waiting up to `seconds`."""
    _, alive = psutil.wait_procs(processes, timeout=seconds)
    return [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]


def test_a_served_model_answers_as_the_offline_engine(offline_llm, offline_model_path,
                                                       monkeypatch):
    greedy = offline_llm.generate(PROMPTS, SamplingParams(temperature=0, max_tokens=12),
                                  use_tqdm=False)
    # Set here, and still never the server's: its dev routes change it for everyone.
    monkeypatch.setenv("VLLM_SERVER_DEV_MODE", "1")
    with pytest.raises(RuntimeError, match="a student's crash"):
        with serve(offline_model_path, "--dtype", "float32") as server:
            processes = family(server.process.pid)
            assert any("EngineCore" in p.name() for p in processes[1:]), processes
            assert server.url.startswith(f"http://{HOST}:")
            client = OpenAI(base_url=server.base_url, api_key="unused")
            assert [m.id for m in client.models.list()] == [offline_model_path]
            for prompt, offline in zip(PROMPTS, greedy):
                done = client.completions.create(model=offline_model_path, prompt=prompt,
                                                 max_tokens=12, temperature=0)
                assert done.choices[0].text == offline.outputs[0].text
                chunks = client.completions.create(model=offline_model_path, prompt=prompt,
                                                   max_tokens=12, temperature=0, stream=True)
                assert "".join(c.choices[0].text for c in chunks) == offline.outputs[0].text
            for route in ("/sleep", "/reset_prefix_cache"):
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(urllib.request.Request(server.url + route,
                                                                  method="POST"), timeout=10)
                assert refused.value.code == 404, route
            raise RuntimeError("a student's crash")
    assert gone(processes) == []
    assert server.process.returncode is not None


def test_a_server_that_cannot_start_says_why(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ServerError) as e:
        with serve(str(missing), timeout=120):
            pytest.fail("a server on a missing model became healthy")
    assert "exited with status" in str(e.value) and "last log lines" in str(e.value)
    assert str(missing) in str(e.value)


def test_ctrl_c_while_starting_stops_the_server(offline_model_path, tmp_path):
    # A background job inherits SIGINT ignored, and Python keeps it so: take
    # back the default, as a terminal's Ctrl-C finds it.
    code = ("import signal\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from vllm_course.runtime.serving import serve\n"
            f"with serve({offline_model_path!r}, log_dir={str(tmp_path)!r}):\n"
            "    pass\n")
    runner = subprocess.Popen([sys.executable, "-c", code])
    # Wait until the server process exists (its log file appears), then Ctrl-C.
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob("vllm-serve-*.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)
    servers = [p for p in psutil.Process(runner.pid).children(recursive=True)]
    assert servers, "the server was not started"
    os.kill(runner.pid, signal.SIGINT)
    assert runner.wait(60) != 0  # KeyboardInterrupt
    assert gone(servers) == []


def lesson_9_pytest(*extra: str) -> subprocess.Popen:
    """`pytest exercises/lesson09` on the solutions, as a student runs it."""
    return subprocess.Popen([sys.executable, "-m", "pytest", "exercises/lesson09", "--target",
                             "solutions", "-q", "-p", "no:cacheprovider", *extra],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def test_a_pytest_run_of_lesson_9_stops_its_server():
    adopt_orphans()
    started = time.time()
    run = lesson_9_pytest("-k", "served_models")
    out, _ = run.communicate(timeout=600)
    assert run.returncode == 0 and "1 passed" in out, out[-3000:]
    assert processes_since(started) == []


def test_a_killed_grader_takes_its_server_along():
    """SIGKILL gives pytest no chance to stop anything: the server's watchdog
    sees its lifeline close and stops the server's whole session. Killed
    while the engine starts (the worst moment: vLLM loses a SIGTERM then),
    that takes the watchdog's SIGTERM wait and its SIGKILL."""
    adopt_orphans()
    started = time.time()
    run = lesson_9_pytest("-k", "served_models", "--time-limit", "0")
    deadline = time.monotonic() + LIMITS.server_start_seconds
    servers = []
    while not servers and time.monotonic() < deadline and run.poll() is None:
        time.sleep(1)
        servers = [p for p in psutil.Process(run.pid).children(recursive=True)
                   if "serve" in " ".join(p.cmdline())]
    assert servers, "pytest started no server"
    while not any("EngineCore" in p.name() for p in family(servers[0].pid)[1:]):
        assert time.monotonic() < deadline and run.poll() is None, "the engine never started"
        time.sleep(1)
    run.kill()
    run.communicate(timeout=60)
    assert processes_since(started, grace=STOP_SECONDS + 20) == []
