"""Where the kit's files and caches are: each layout path defined once."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # vllm_course/
REPO_ROOT = PACKAGE_ROOT.parent
DATA_DIR = PACKAGE_ROOT / "data"  # the corpus, the encoders' data, Gradescope's templates
MANIFEST_PATH = REPO_ROOT / "course.yaml"
WORKDIR_PREFIX = "course-grade-"  # a graded submission's working folder (runner/sandbox.py)


def cache_root() -> Path:
    """The kit's cache: stand-in models, adapters, the dtype choice."""
    if os.environ.get("VLLM_COURSE_CACHE"):
        return Path(os.environ["VLLM_COURSE_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "vllm-course"


def relative(path: Path) -> str:
    """`path` as a reader finds it: from the working folder, else from the repository."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        try:
            return str(path.resolve().relative_to(REPO_ROOT))
        except ValueError:
            return str(path)
