"""The one rule for what a grader check is (vllm_course/grading/registry.py)."""

import dataclasses

from vllm_course.authoring.consistency import lesson_problems
from vllm_course.grading.registry import declared
from vllm_course.course.manifest import Lesson, course

GRADERS = '''
import pytest

pytestmark = pytest.mark.exercise("from_the_module")


def test_module_level(student, kit):
    pass


@pytest.mark.hidden
@pytest.mark.exercise("own")
def test_own_mark_wins(student, kit):
    pass


def helper():
    pass
'''


def lesson_with_graders(tmp_path, text) -> Lesson:
    path = tmp_path / "test_graders.py"
    path.write_text(text)
    lesson = course().lesson("lesson01")

    class Staged(Lesson):
        def grader_files(self):
            return [path]

    return Staged(**{f.name: getattr(lesson, f.name) for f in dataclasses.fields(lesson)})


def test_marks_on_the_function_or_else_the_module(tmp_path):
    found = {d.name: (d.function, d.hidden) for d in declared(lesson_with_graders(tmp_path, GRADERS))}
    assert found == {"test_module_level": ("from_the_module", False),
                     "test_own_mark_wins": ("own", True)}


def test_course_check_names_a_check_that_grades_nothing(tmp_path):
    lesson = lesson_with_graders(tmp_path, "def test_orphan(student, kit):\n    pass\n")
    problems = lesson_problems(lesson)
    assert any("test_orphan grades no exercise" in p for p in problems), problems
