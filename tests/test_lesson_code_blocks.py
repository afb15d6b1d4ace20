"""Every code block of every lesson runs.

```python blocks run in order in one process per lesson (like notebook cells),
with "facebook/opt-125m" replaced by the offline model; ```sh blocks run from
the repository root with the venv first on PATH, except a block right after
`<!-- no-run: needs network -->`, of which only the command's --help is run
(so a misspelt command still fails). ```text blocks are sample output.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from vllm_course.manifest import REPO_ROOT, course

FENCE = re.compile(r"(<!-- no-run: needs network -->\s*\n)?```(\w*)\n(.*?)```", re.S)
LESSONS = [l for l in course().lessons if (REPO_ROOT / l.folder / "README.md").exists()]


def blocks(lesson):
    text = (REPO_ROOT / lesson.folder / "README.md").read_text()
    return [(lang, body, bool(no_run)) for no_run, lang, body in FENCE.findall(text)]


def env_with_venv():
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda l: l.id)
def test_fences_are_known_languages(lesson):
    langs = {lang for lang, _, _ in blocks(lesson)}
    assert langs <= {"python", "sh", "text"}, f"{lesson.folder}/README.md: unknown fences {langs}"
    assert "python" in langs


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda l: l.id)
def test_python_blocks_run(lesson, offline_model_path, tmp_path):
    code = "\n\n".join(body for lang, body, _ in blocks(lesson) if lang == "python")
    script = tmp_path / "lesson_blocks.py"
    script.write_text(code.replace('"facebook/opt-125m"', repr(offline_model_path)))
    done = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=900, env=env_with_venv())
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda l: l.id)
def test_sh_blocks_run(lesson, offline_model_path):
    env = dict(env_with_venv(), VLLM_COURSE_MODEL=offline_model_path)
    for lang, body, no_run in blocks(lesson):
        if lang != "sh":
            continue
        for line in body.strip().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            command = line
            if no_run:  # needs the network: check the command exists and parses
                command = " ".join(shlex.split(line)[:2]) + " --help"
            done = subprocess.run(command, shell=True, cwd=REPO_ROOT, capture_output=True,
                                  text=True, timeout=900, env=env)
            assert done.returncode == 0, f"`{command}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
