"""Shared fixtures of the kit's own tests: the offline model and one real engine."""

from __future__ import annotations

import functools
import json
import time

import pytest

LESSON_PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


@pytest.fixture(scope="session")
def course_platform_active() -> bool:
    """Whether the kit's CPU platform runs on this machine: yes without a GPU.
    Tests of CPU-platform behaviour check the GPU-side equivalent otherwise
    (the plugin stays out, vLLM's own defaults hold) instead of failing."""
    import os

    from vllm_course.runtime.cpu_platform import SWITCH_ENV, _vllm_accelerator, _vllm_version, decide

    env = {k: v for k, v in os.environ.items() if k != SWITCH_ENV}
    return decide(env, _vllm_accelerator, _vllm_version()).active


def selected(request, test: str, param: str) -> list:
    """The values of `param` of the collected (selected) items of the test
    function named `test`: what a fixture that runs work for them ahead, in
    the background, needs to run and no more (with -k, only those chosen)."""
    return [item.callspec.params[param] for item in request.session.items
            if getattr(item, "originalname", None) == test and hasattr(item, "callspec")]


@pytest.fixture(scope="session")
def background(course_platform_active):
    """One pool for the independent vLLM processes that fixtures start ahead
    of their tests: two at a time on the CPU platform (their start is mostly
    single-threaded imports, so two at once nearly halve the wait), one at a
    time on a GPU (each engine there claims most of its memory)."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=2 if course_platform_active else 1)
    yield pool
    pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="session")
def offline_model_path() -> str:
    from vllm_course.models import offline_model

    path = offline_model.ensure_built("tiny")
    offline_model.verify(path)
    return str(path)


@pytest.fixture(scope="session")
def stand_ins(offline_model_path) -> dict:
    """Every model of course.yaml -> (its environment variable, its offline
    stand-in's folder): what lessons and scripts run on here."""
    from vllm_course.models import offline_model
    from vllm_course.course.manifest import course

    return {m.name: (m.env, str(offline_model.ensure_built(m.stand_in)))
            for m in course().models.values()}


@pytest.fixture(scope="session")
def embed_model_path(stand_ins) -> str:
    """The embedding stand-in (lesson 7's model offline)."""
    from vllm_course.course.manifest import course

    return stand_ins[course().lesson("lesson07").model][1]


@pytest.fixture(scope="session")
def offline_llm(offline_model_path):
    """One real vLLM engine on the offline model, in float32 so that it can be
    compared token for token with transformers' float32 reference."""
    from vllm import LLM

    return LLM(model=offline_model_path, dtype="float32", seed=0)


# Options of the class-grading runs that the grading tests share: a short
# check limit for the hang case, a memory limit that the hog case passes.
# 60 s per check: lesson 2 runs the student's file as a program (vLLM's import,
# about 3 s more since Ray is installed, and an engine), which took over 30 s
# with another submission graded beside it on a 2-core machine.
CLASS_JOBS = 2
CLASS_GRADE_OPTIONS = ("-j", str(CLASS_JOBS), "--time-limit", "60", "--memory-limit", "4")


@functools.cache
def rotation_turn() -> int:
    """The turn of make test's extra class runs (vllm_course.authoring.matrix):
    the commit count, read once so that the tests' parameters and the class
    written agree."""
    from vllm_course.authoring import matrix

    return matrix.commit_count()


@pytest.fixture(scope="session")
def rotated_cell(course_platform_active):
    """lesson -> the matrix cell (vllm_course.authoring.matrix) of its extra class run:
    VLLM_COURSE_TEST_CELL if set, else the rotation by commit count, away from
    the machine's own dtype on the default model."""
    import os

    from vllm_course.authoring import matrix
    from vllm_course.course.manifest import course

    pinned = os.environ.get(matrix.CELL_ENV)
    if pinned:
        cell = matrix.Cell.parse(pinned)
        return lambda lesson: cell
    own = None
    if course_platform_active:
        from vllm_course.runtime.cpu_platform.dtype_choice import fastest_dtype

        own = str(fastest_dtype()).removeprefix("torch.")
    turn = rotation_turn()
    ids = [l.id for l in course().lessons]
    return lambda lesson: matrix.rotated(ids.index(lesson.id), turn, own)


@pytest.fixture(scope="session")
def graded_rotated(tmp_path_factory, rotated_cell):
    """`course grade` of each lesson's reference, stubs and rotated planted
    mistakes (one per exercise: matrix.rotated_mistakes) once more, in its
    rotated_cell: (results by student, output, cell)."""
    from grading_helpers import course_grade, write_class

    from vllm_course.authoring import matrix

    runs = {}

    def run(lesson):
        if lesson.id not in runs:
            cell = rotated_cell(lesson)
            root = tmp_path_factory.mktemp(f"rotated-{lesson.id}")
            write_class(lesson, root / "in", notebooks=False,
                        mistakes=matrix.rotated_mistakes(lesson, rotation_turn()))
            print(f"\n{lesson.id}: extra class run in the cell {cell.name}", flush=True)
            results, out, _ = course_grade(lesson, root / "in", root / "out",
                                           *CLASS_GRADE_OPTIONS, env=cell.env())
            # Last, so that the tail a failed assertion shows names it.
            runs[lesson.id] = (results, f"{out}\n[extra class run in the cell {cell.name}: "
                                        f"{matrix.CELL_ENV}={cell.name} reproduces it]", cell)
        return runs[lesson.id]

    return run


@pytest.fixture(scope="session")
def graded_class(tmp_path_factory):
    """`course grade` run once per lesson over a class of the reference, the
    stubs, every planted mistake and two notebooks (grading_helpers.write_class;
    lesson 1 adds the hostile submissions of hostile.py): (results by student,
    output, exit status, folder)."""
    from grading_helpers import adopt_orphans, course_grade, processes_since, write_class

    adopt_orphans()

    runs = {}

    def run(lesson):
        if lesson.id not in runs:
            root = tmp_path_factory.mktemp(f"class-{lesson.id}")
            write_class(lesson, root / "in")
            if lesson.id == "lesson01":
                import hostile

                hostile.write(root / "in", protected=root / "out" / "zz-reference" / "results.json")
                hostile.DECOY.mkdir(exist_ok=True)
            started = time.time()
            import hostile  # its secret is in the grader's environment: no child may see it

            runs[lesson.id] = (*course_grade(lesson, root / "in", root / "out",
                                             *CLASS_GRADE_OPTIONS,
                                             env={hostile.SECRET_ENV: hostile.SECRET}), root)
            seconds = time.time() - started
            (root / "run.json").write_text(json.dumps(
                {"seconds": seconds, "leftovers": processes_since(started)}))
        return runs[lesson.id]

    return run
