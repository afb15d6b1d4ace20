"""`course gradescope LESSON --out autograder.zip`: the zip an instructor
uploads to Gradescope as a programming assignment's autograder.

Gradescope unpacks it into /autograder/source, runs `setup.sh` once when it
builds the image and `run_autograder` for every submission. The zip holds
both (from vllm_course/data/gradescope/, with the lesson and its models
filled in) beside the kit itself: what `make setup` installs and what grading
reads, solutions included (the warm grader grades the reference first).
Never the tests, the virtual environment or git's folder.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from vllm_course.course.manifest import REPO_ROOT, Lesson, course
from vllm_course.course.paths import DATA_DIR

TEMPLATES = DATA_DIR / "gradescope"
KIT = ("Makefile", "pyproject.toml", "README.md", "course.yaml", "conftest.py", "requirements",
       "scripts", "vllm_course", "graders", "exercises", "solutions", "lessons")
SKIPPED = ("__pycache__", ".pyc", ".egg-info")


def _kit_files() -> list[Path]:
    files = []
    for part in KIT:
        path = REPO_ROOT / part
        candidates = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        files += [p for p in candidates if not any(s in str(p) for s in SKIPPED)]
    return files


def _script(name: str, lesson: Lesson) -> str:
    models = " ".join(m.name for m in course().models_of(lesson))
    adapters = "yes" if lesson.engine.get("enable_lora") else "no"
    return ((TEMPLATES / name).read_text().replace("@LESSON@", lesson.id)
            .replace("@MODELS@", models).replace("@ADAPTERS@", adapters))


def build(lesson: Lesson, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name in ("setup.sh", "run_autograder"):
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o755 << 16  # executable once unpacked
            z.writestr(info, _script(name, lesson))
        for path in _kit_files():
            z.write(path, path.relative_to(REPO_ROOT).as_posix())
    return out
