"""Grading: the machinery shared by `pytest exercises/lessonNN` and nbgrader.

Grader checks live in graders/lessonNN/test_*.py as pytest functions marked
`@pytest.mark.exercise("function")`, taking two arguments: `student` (the
submission's functions) and `kit` (the engine and the kit's own references).
The pytest plugin (plugin.py) and the notebook runner (notebook.py) both call
those same functions; neither holds a copy of any check. Running a
submission elsewhere (a sandbox, Ray) is runner's job, not this package's.

May import: course, runtime, models.
"""

from vllm_course.grading.feedback import GradingFailure, expect

__all__ = ["GradingFailure", "expect"]
