"""Every code block of every lesson (and of the concepts pages) runs.

```python blocks run in order in one process per page (like notebook cells),
with each model of course.yaml ("facebook/opt-125m", ...) replaced by its
offline stand-in; ```sh blocks run from the repository root with the venv
first on PATH and the stand-ins chosen by their variables, except a block right after
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
# Each lesson's README by its id, then every concepts page by its name.
PAGES = {l.id: l.readme for l in course().lessons}
PAGES.update({f"concepts-{p.stem}": p for p in sorted((REPO_ROOT / "lessons" / "concepts").glob("*.md"))})


def blocks(page):
    text = PAGES[page].read_text()
    return [(lang, body, bool(no_run)) for no_run, lang, body in FENCE.findall(text)]


def env_with_venv():
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def test_every_lesson_has_a_readme():
    missing = [str(p.relative_to(REPO_ROOT)) for p in PAGES.values() if not p.is_file()]
    assert not missing, f"course.yaml names lesson folders without a README.md: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_fences_are_known_languages(page):
    langs = {lang for lang, _, _ in blocks(page)}
    assert langs <= {"python", "sh", "text"}, f"{PAGES[page]}: unknown fences {langs}"
    assert "python" in langs


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks_run(page, stand_ins, tmp_path):
    code = "\n\n".join(body for lang, body, _ in blocks(page) if lang == "python")
    for name, (_, path) in stand_ins.items():
        code = code.replace(f'"{name}"', repr(path))
    script = tmp_path / "lesson_blocks.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=900, env=env_with_venv())
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"


@pytest.mark.parametrize("page", PAGES)
def test_sh_blocks_run(page, stand_ins):
    env = dict(env_with_venv(), **dict(stand_ins.values()))
    for lang, body, no_run in blocks(page):
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
