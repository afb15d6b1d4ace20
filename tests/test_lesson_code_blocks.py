"""Every code block of every lesson (and of the concepts pages) runs.

```python blocks run in order in one process per page (like notebook cells),
with each model of course.yaml ("facebook/opt-125m", ...) replaced by its
offline stand-in; ```sh blocks run from the repository root with the venv
first on PATH and the stand-ins chosen by their variables, except a block right after
`<!-- no-run: needs network -->`, of which only the command's --help is run
(so a misspelt command still fails). ```text blocks are sample output.

A lesson with `serve` in course.yaml (lesson 9) talks to a server: for its page
the test starts one `vllm serve` of the lesson's stand-in, as its graders do
(serving.start_for: served as "facebook/opt-125m", with the lesson's flags),
once for its python and sh blocks, and stops it after them. Its blocks say
`localhost:8000`, which becomes the server's address, and keep the model's
course name (the server answers to it); its sh blocks also get OPENAI_BASE_URL,
the server's API, which the lesson's client.py takes as its default. A block right after
`<!-- the test starts this server -->` starts a server itself (`vllm serve ...`,
`python .../serve.py`) and would never end: like a no-run block, only its
command's --help is run.

Pages that need no server run in the background, two at a time on a CPU
(background_pages); a page's python blocks still run before its sh lines.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import selected

from vllm_course.course.manifest import REPO_ROOT, course

# A marked block is checked with --help only: it needs the network, or it
# starts a server (which the test starts for the page instead).
NO_RUN = r"<!-- (?:no-run: needs network|the test starts this server) -->"
FENCE = re.compile(rf"({NO_RUN}\s*\n)?```(\w*)\n(.*?)```", re.S)
# Each lesson's README by its id, then every concepts page by its name.
PAGES = {l.id: l.readme for l in course().lessons}
PAGES.update({f"concepts-{p.stem}": p for p in sorted((REPO_ROOT / "lessons" / "concepts").glob("*.md"))})
# The address a server page's blocks say; the test's server takes its place.
LESSON_SERVER = "localhost:8000"


def blocks(page):
    text = PAGES[page].read_text()
    return [(lang, body, bool(no_run)) for no_run, lang, body in FENCE.findall(text)]


def env_with_venv():
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env


def served_lesson(page):
    """The lesson whose page needs a server (course.yaml `serve`), else None."""
    lesson = next((l for l in course().lessons if l.id == page), None)
    return lesson if lesson is not None and lesson.serve is not None else None


@pytest.fixture(scope="module")
def server_address(page, stand_ins):
    """host:port of a server of the page's lesson, started once for the page's
    tests (the page parameter is module-scoped, so they run one after the
    other) and stopped after them; None for a page that needs no server."""
    lesson = served_lesson(page)
    if lesson is None:
        yield None
        return
    from vllm_course.runtime import serving

    server = serving.start_for(lesson, stand_ins[lesson.model][1])
    try:
        yield server.url.removeprefix("http://")
    finally:
        server.stop()


def test_every_lesson_has_a_readme():
    missing = [str(p.relative_to(REPO_ROOT)) for p in PAGES.values() if not p.is_file()]
    assert not missing, f"course.yaml names lesson folders without a README.md: {missing}"


@pytest.mark.parametrize("page", PAGES)
def test_fences_are_known_languages(page):
    langs = {lang for lang, _, _ in blocks(page)}
    assert langs <= {"python", "sh", "text"}, f"{PAGES[page]}: unknown fences {langs}"
    assert "python" in langs


def run_python_blocks(page, stand_ins, server_address, folder):
    """Run the page's python blocks as one script; what went wrong, or None."""
    code = "\n\n".join(body for lang, body, _ in blocks(page) if lang == "python")
    if server_address:  # requests name the model as the server serves it
        code = code.replace(LESSON_SERVER, server_address)
    else:
        for name, (_, path) in stand_ins.items():
            code = code.replace(f'"{name}"', repr(path))
    script = folder / "lesson_blocks.py"
    script.write_text(code)
    done = subprocess.run([sys.executable, str(script)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=900, env=env_with_venv())
    if done.returncode != 0:
        return f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return None


def run_sh_blocks(page, stand_ins, server_address):
    """Run the page's sh lines in order; what went wrong, or None."""
    env = dict(env_with_venv(), **dict(stand_ins.values()))
    if server_address:
        env["OPENAI_BASE_URL"] = f"http://{server_address}/v1"
    for lang, body, no_run in blocks(page):
        if lang != "sh":
            continue
        for line in body.strip().splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            command = line.replace(LESSON_SERVER, server_address) if server_address else line
            if no_run:  # needs the network or starts a server: check the command exists and parses
                command = " ".join(shlex.split(line)[:2]) + " --help"
            done = subprocess.run(command, shell=True, cwd=REPO_ROOT, capture_output=True,
                                  text=True, timeout=900, env=env)
            if done.returncode != 0:
                return f"`{command}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return None


@pytest.fixture(scope="session")
def background_pages(request, stand_ins, background, tmp_path_factory):
    """The pages that need no server, run in the background (conftest's
    pool) as soon as the first of them is tested: each page's python blocks
    then its sh lines. page -> Future of (python problem, sh problem)."""
    def run(page):
        folder = tmp_path_factory.mktemp(page)
        return (run_python_blocks(page, stand_ins, None, folder),
                run_sh_blocks(page, stand_ins, None))

    # pytest makes its base temp folder lazily and without a lock: two pool
    # threads making it at once get two folders and mktemp raises. Make it here.
    tmp_path_factory.getbasetemp()
    chosen = dict.fromkeys(selected(request, "test_python_blocks_run", "page")
                           + selected(request, "test_sh_blocks_run", "page"))
    return {page: background.submit(run, page) for page in chosen if served_lesson(page) is None}


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_python_blocks_run(page, stand_ins, server_address, background_pages, tmp_path):
    if served_lesson(page) is None:
        problem = background_pages[page].result()[0]
    else:
        problem = run_python_blocks(page, stand_ins, server_address, tmp_path)
    assert problem is None, problem


@pytest.mark.parametrize("page", PAGES, scope="module")
def test_sh_blocks_run(page, stand_ins, server_address, background_pages):
    if served_lesson(page) is None:
        problem = background_pages[page].result()[1]
    else:
        problem = run_sh_blocks(page, stand_ins, server_address)
    assert problem is None, problem
