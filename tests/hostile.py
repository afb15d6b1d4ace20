"""Lesson 1 submissions that break, hang, attack or cheat, for the warm grader's
tests. Each replaces one function's solution (or adds code at the top of the
file) in the reference solution; `lost` is what the grading must take away.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from grading_helpers import replace_solution, with_body
from vllm_course.course.manifest import course

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

# Doors to what a submission must not reach: code put at the END of the file
# (after its functions, so that what it finds could replace them), each
# printing "LEAK ..." for whatever it could read, write or signal, and
# "DOOR <name> tried" once it has tried. SECRET is in a classmate's file, in
# the grader's environment (SECRET_ENV) and nowhere a submission may look;
# the door code assembles it at run time, so a file never finds itself.
SECRET = "course-secret-" + "5eb1c7"
SECRET_ENV = "COURSE_TESTS_SECRET_TOKEN"
_FIND = ("import os, sys\n"
         "secret = 'course-secret-' + '5eb1c7'\n"
         "def _named_folders():\n"
         "    # every folder named on a command line this process can see\n"
         "    found = {CLASS, OUT}\n"
         "    for pid in (p for p in os.listdir('/proc') if p.isdigit()):\n"
         "        try:\n"
         "            args = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
         "        except OSError:\n"
         "            continue\n"
         "        found.update(a.decode(errors='replace') for a in args if a.startswith(b'/'))\n"
         "    skip = (sys.prefix, sys.base_prefix, '/usr', '/proc', '/sys')\n"
         "    return sorted(f for f in found if os.path.isdir(f) and not f.startswith(skip))\n")
DOORS = {
    "door-classmates": (
        _FIND +
        "for start in _named_folders():\n"
        "    for folder, _, files in os.walk(start):\n"
        "        for name in files:\n"
        "            try:\n"
        "                text = open(os.path.join(folder, name), errors='replace').read(1 << 20)\n"
        "            except OSError:\n"
        "                continue\n"
        "            if secret in text:\n"
        "                print('LEAK', os.path.join(folder, name))\n",
        {}, set(), ""),
    "door-results": (
        _FIND +
        "for folder, _, files in os.walk(OUT):\n"
        "    for name in files:\n"
        "        try:\n"
        "            open(os.path.join(folder, name)).read(1)\n"
        "            print('LEAK read', os.path.join(folder, name))\n"
        "        except OSError:\n"
        "            pass\n",
        {}, set(), ""),
    # Every function a stub; the solution, if it could be found, would fill them in.
    "door-solutions": (
        "import pathlib, vllm_course\n"
        "kit = pathlib.Path(vllm_course.__file__).resolve().parents[1]\n"
        "for path in [kit / 'solutions' / 'lesson01' / 'basic_inference.py', *kit.glob('solutions/*/*.py')]:\n"
        "    try:\n"
        "        exec(compile(path.read_text(), str(path), 'exec'))\n"
        "        print('LEAK ran', path)\n"
        "        break\n"
        "    except OSError:\n"
        "        pass\n"
        "try:\n"
        "    import _course_reference_lesson01 as reference\n"
        "    globals().update({k: v for k, v in vars(reference).items() if not k.startswith('__')})\n"
        "    print('LEAK imported the reference')\n"
        "except ImportError:\n"
        "    pass\n",
        "stubs", ALL, ""),
    "door-environment": (
        _FIND +
        "seen = [repr(dict(os.environ))]\n"
        "for pid in (p for p in os.listdir('/proc') if p.isdigit()):\n"
        "    try:\n"
        "        seen.append(open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
        "    except OSError:\n"
        "        pass\n"
        "if any(secret in text or 'SECRET_ENV' in text for text in seen):\n"
        "    print('LEAK the environment')\n",
        {}, set(), ""),
    "door-write": (
        _FIND +
        "import pathlib, vllm_course\n"
        "kit = pathlib.Path(vllm_course.__file__).resolve().parents[1]\n"
        "for folder in [CLASS, OUT, str(kit), str(kit / 'graders'), os.path.expanduser('~root'),\n"
        "               os.path.dirname(sys.executable), *_named_folders()]:\n"
        "    path = os.path.join(folder, 'written-by-a-submission')\n"
        "    try:\n"
        "        with open(path, 'w') as f:\n"
        "            f.write('x')\n"
        "        print('LEAK wrote into', folder)\n"
        "        os.remove(path)  # said, and taken back: a run without the sandbox leaves no trace\n"
        "    except OSError:\n"
        "        pass\n",
        {}, set(), ""),
    "door-signal": (
        "import os, signal\n"
        "mine = {os.getpid(), *map(int, os.listdir(f'/proc/{os.getpid()}/task'))}\n"
        "for pid in range(1, 1 << 15):\n"
        "    if pid in mine:\n"
        "        continue\n"
        "    try:\n"
        "        os.kill(pid, 0)\n"
        "        print('LEAK may signal', pid)\n"
        "    except OSError:\n"
        "        pass\n",
        {}, set(), ""),
}


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
    out = protected.parent.parent
    for name, (code, bodies, _, _) in DOORS.items():
        text = LESSON.exercise_path.read_text() if bodies == "stubs" \
            else LESSON.solution_path.read_text()
        code = (code.replace("CLASS", repr(str(folder))).replace("OUT", repr(str(out)))
                .replace("SECRET_ENV", SECRET_ENV))
        (folder / f"{name}.py").write_text(f"{text}\n\n{code}print('DOOR {name} tried')\n")
    # A classmate's file holds the secret the doors look for.
    with open(folder / "zz-reference.py", "a") as f:
        f.write(f"\n# {SECRET}\n")


def expectations() -> dict[str, tuple[set[str], str]]:
    return {name: (case[2], case[3]) for name, case in {**CASES, **TOP, **DOORS}.items()}
