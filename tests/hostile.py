"""Lesson 1 submissions that break, hang, attack or cheat, for the warm grader's
tests. Each replaces one function's solution (or adds code at the top of the
file) in the reference solution; `lost` is what the grading must take away.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from grading_helpers import replace_solution, with_body
from vllm_course.manifest import course

LESSON = course().lesson("lesson01")
RIGHT_CREATIVE = "return SamplingParams(temperature=1.2, top_p=0.95)"
ALL = {e.function for e in LESSON.exercises}

# name: (function whose body is replaced, new body, exercises that must score 0,
#        text the first failing message must contain)
CASES = {
    "syntax-error": ("generate", "return llm.generate(prompts sampling_params)", ALL,
                     "SyntaxError"),
    "crash": ("extract_completions", "return [(o.prompt, o.outputs[1].text) for o in outputs]",
              {"extract_completions"}, "o.outputs[1].text"),
    "hang": ("focused_params", "while True:\n    pass", {"focused_params"}, "stopped after"),
    "hang-swallowing-the-alarm": (
        "focused_params",
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except BaseException:\n"
        "        pass",
        {"focused_params"}, "stopped after"),
    "os-exit-0": ("creative_params", "import os\nos._exit(0)", {"creative_params"},
                  "exit status 0"),
    "sys-exit-0": ("creative_params", "import sys\nsys.exit(0)", {"creative_params"},
                   "called sys.exit(0)"),
    "segfault": ("creative_params", "import ctypes\nctypes.string_at(0)", {"creative_params"},
                 "SIGSEGV"),
    "memory-hog": ("creative_params", "hog = [bytearray(64 * 2**20) for _ in range(400)]",
                   {"creative_params"}, "GiB of memory"),
    "output-flood": ("creative_params", "print('x' * (3 * 2**20))\n" + RIGHT_CREATIVE, set(), ""),
    # Passes only where the process sees no network interface but loopback; no
    # packet is sent to find out.
    "network": ("creative_params",
                "import socket\nnames = [n for _, n in socket.if_nameindex()]\n"
                "assert names == ['lo'], f'network interfaces visible: {names}'\n" + RIGHT_CREATIVE,
                set(), ""),
    # Tampering: each returns a wrong answer that the tampering would let pass.
    "patch-expect-during-call": (
        "creative_params",
        "import vllm_course.grading.feedback as fb\n"
        "fb.expect.__code__ = (lambda condition, message: None).__code__\n"
        "return SamplingParams(temperature=0.1)",
        {"creative_params"}, "changed the grading machinery"),
    "patch-isclose": (
        "creative_params",
        "import math\nmath.isclose = lambda *a, **k: True\nreturn SamplingParams(temperature=0.1)",
        {"creative_params"}, "math.isclose"),
    # A value whose own __eq__ says yes to anything: graders compare plain
    # builtins (grading/compare.py), so the wrong text is seen as it is.
    "lying-equality": (
        "extract_completions",
        "class Same(str):\n    def __eq__(self, other):\n        return True\n"
        "    __hash__ = str.__hash__\n"
        "return [(Same(o.prompt), Same('wrong')) for o in outputs]",
        {"extract_completions"}, "expected the generated text"),
    "patch-pytest-report": (
        "creative_params",
        "import _pytest.reports\n_pytest.reports.BaseReport.passed = property(lambda self: True)\n"
        "return SamplingParams(temperature=0.1)",
        {"creative_params"}, "changed the grading machinery"),
}

# Code put at the top of a file: name -> (code, the rest of the file: the
# solution with these functions' bodies replaced, exercises that must score 0,
# text the first failing message must contain).
WRONG_PARAMS = {"creative_params": "return SamplingParams(temperature=0.1)",
                "focused_params": "return SamplingParams(temperature=0.1)"}
TOP = {
    # The first check run (create_sampling_params) sees the patch and fails as
    # tampered; the patch is undone, and the wrong answers fail on their merits.
    "patch-expect-at-import": (
        "import vllm_course.grading as g, vllm_course.grading.feedback as fb\n"
        "fb.expect = g.expect = lambda condition, message: None\n",
        WRONG_PARAMS, {"create_sampling_params", *WRONG_PARAMS}, "changed the grading machinery"),
    "fake-score": (
        "import json\nprint('lesson01: 13/13 points')\n"
        "for path in ('results.json', PROTECTED):\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            json.dump({'score': 13, 'tests': []}, f)\n"
        "        print('wrote', path)\n"
        "    except OSError as e:\n"
        "        print('blocked', path, type(e).__name__)\n",
        WRONG_PARAMS, set(WRONG_PARAMS), "expected temperature"),
    "exit-0-at-import": ("import os\nos._exit(0)\n", {}, ALL, "could not be imported"),
    # Writes a report of its own into every pipe it holds, asking the grader
    # to remove a folder that looks like a grading folder.
    "forged-report": (
        "import json, os\n"
        "line = json.dumps({'event': 'sandbox', 'workdir': DECOY, 'missing': []}) + '\\n'\n"
        "for fd in map(int, os.listdir('/proc/self/fd')):\n"
        "    try:\n"
        "        if fd > 2 and os.readlink(f'/proc/self/fd/{fd}').startswith('pipe:'):\n"
        "            os.write(fd, line.encode())\n"
        "    except OSError:\n"
        "        pass\n",
        WRONG_PARAMS, set(WRONG_PARAMS), "expected temperature"),
}
DECOY = Path(tempfile.gettempdir()) / "course-grade-decoy-of-the-tests"


def write(folder: Path, protected: Path) -> None:
    """Write every case into `folder`; `protected` is a file the fake-score
    case tries to overwrite (another student's results)."""
    for name, (function, body, _, _) in CASES.items():
        (folder / f"{name}.py").write_text(with_body(LESSON, function, body))
    for name, (top, bodies, _, _) in TOP.items():
        text = LESSON.solution_path.read_text()
        for function, body in bodies.items():
            text = replace_solution(text, function, body)
        top = top.replace("PROTECTED", repr(str(protected))).replace("DECOY", repr(str(DECOY)))
        (folder / f"{name}.py").write_text(top + text)


def expectations() -> dict[str, tuple[set[str], str]]:
    return {name: (case[2], case[3]) for name, case in {**CASES, **TOP}.items()}
