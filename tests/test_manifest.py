"""course.yaml is checked, and a malformed one names the file, the field and the problem."""

import dataclasses

import pytest

from vllm_course.authoring.consistency import lesson_problems, problems
from vllm_course.course.manifest import ManifestError, course, load

GOOD = """
title: T
vllm_version: "0.32.0"
default_model: facebook/opt-125m
models:
  facebook/opt-125m: {stand_in: tiny, env: VLLM_COURSE_MODEL}
lessons:
  - id: lesson01
    title: Basic
    folder: lessons/01-basic
    exercise_file: basic.py
    exercises:
      - {function: f, points: 2, hint: h, more: m, section: S}
"""


def write(tmp_path, text):
    p = tmp_path / "course.yaml"
    p.write_text(text)
    return p


def test_repository_manifest_loads():
    c = course()
    assert c.vllm_version == "0.32.0" and c.default_model == "facebook/opt-125m"


def test_good_manifest(tmp_path):
    c = load(write(tmp_path, GOOD))
    lesson = c.lesson("lesson01")
    assert lesson.max_points == 2 and lesson.exercise("f").hint == "h"
    assert lesson.engine == {}  # the kit's engine takes vLLM's defaults


def test_engine_options(tmp_path):
    text = GOOD.replace("    exercises:\n", "    engine: {dtype: float32}\n    exercises:\n")
    assert load(write(tmp_path, text)).lesson("lesson01").engine == {"dtype": "float32"}


def test_hidden_checks_are_shown_after_publishing_unless_the_lesson_says(tmp_path):
    assert load(write(tmp_path, GOOD)).lesson("lesson01").hidden_visibility == "after_published"
    text = GOOD.replace("    exercises:\n", "    hidden_visibility: visible\n    exercises:\n")
    assert load(write(tmp_path, text)).lesson("lesson01").hidden_visibility == "visible"


def test_a_lesson_may_ask_for_a_server(tmp_path):
    assert load(write(tmp_path, GOOD)).lesson("lesson01").serve is None
    text = GOOD.replace("    exercises:\n", "    serve: [--chat-template, t.jinja]\n    exercises:\n")
    assert load(write(tmp_path, text)).lesson("lesson01").serve == ("--chat-template", "t.jinja")


@pytest.mark.parametrize("change,field,expected", [
    (("points: 2", "points: two"), "lessons[0].exercises[0].points", "must be int"),
    (("points: 2", "points: 0"), "lessons[0].exercises[0].points", "positive"),
    (("hint: h, ", ""), "lessons[0].exercises[0].hint", "is missing"),
    (("id: lesson01", "id: one"), "lessons[0].id", "lesson01"),
    (("vllm_version: \"0.32.0\"", "vllm_version: 0.32"), "course.vllm_version", "must be str"),
    (("function: f", "function: 1f"), "lessons[0].exercises[0].function", "Python name"),
    (("exercises:\n", "engine: float32\n    exercises:\n"), "lessons[0].engine", "must be dict"),
    (("exercises:\n", "serve: --chat-template t.jinja\n    exercises:\n"), "lessons[0].serve",
     "must be a list of `vllm serve` flags"),
    (("exercises:\n", "engine: {1: float32}\n    exercises:\n"), "lessons[0].engine",
     "LLM keyword arguments"),
    (("exercises:\n", "hidden_visibility: later\n    exercises:\n"),
     "lessons[0].hidden_visibility", "one of visible, hidden, after_due_date, after_published"),
])
def test_malformed_fields_are_named(tmp_path, change, field, expected):
    p = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ManifestError) as e:
        load(p)
    assert str(p) in str(e.value) and field in str(e.value) and expected in str(e.value)


def test_invalid_yaml(tmp_path):
    p = write(tmp_path, "title: [unclosed")
    with pytest.raises(ManifestError, match="not valid YAML"):
        load(p)


def test_missing_file(tmp_path):
    with pytest.raises(ManifestError, match="cannot read"):
        load(tmp_path / "nope.yaml")


def test_unknown_lesson(tmp_path):
    with pytest.raises(ManifestError, match="no lesson 'lesson09'"):
        load(write(tmp_path, GOOD)).lesson("lesson09")


def test_a_mistyped_lesson_is_matched_by_its_number_first():
    c = course()
    # "lesson1" is one edit from lesson01 and from lesson10: the number decides.
    assert c.closest_lesson("lesson1") == "lesson01"
    assert c.closest_lesson("lesson 10") == "lesson10"
    assert c.closest_lesson("lessno") in {l.id for l in c.lessons}
    assert c.closest_lesson("zzz") is None


def test_every_lesson_has_all_its_parts():
    """course.yaml, lesson texts, solutions, stubs and graders agree (`course check`)."""
    assert problems(course()) == []


def test_a_missing_part_is_named():
    lesson = course().lesson("lesson01")
    renamed = dataclasses.replace(lesson.exercises[0], section="No such section",
                                  function="not_in_the_solution")
    found = lesson_problems(dataclasses.replace(lesson, exercises=(renamed,) + lesson.exercises[1:]))
    assert any("'No such section', which is not a heading of lessons/01-basic-inference/README.md"
               in p for p in found), found
    assert any("defines no top-level function not_in_the_solution()" in p for p in found), found
    assert any("no grader test in graders/lesson01/ is marked @pytest.mark.exercise('not_in_the_solution')"
               in p for p in found), found
    assert any("grades 'create_llm', which course.yaml does not list" in p for p in found), found


def test_a_drifted_section_name_in_a_docstring_is_named():
    lesson = course().lesson("lesson01")
    moved = dataclasses.replace(lesson.exercises[1], section="Generating text")
    found = lesson_problems(dataclasses.replace(
        lesson, exercises=(lesson.exercises[0], moved) + lesson.exercises[2:]))
    assert any(f"{lesson.id}.{moved.function}: its docstring" in p
               and 'Lesson section: "Generating text".' in p for p in found), found


def test_exercise_names_are_unique_across_the_course(tmp_path):
    second = ("  - id: lesson02\n    title: T2\n    folder: lessons/02-x\n    exercise_file: y.py\n"
              "    exercises:\n      - {function: f, points: 1, hint: h, more: m, section: S}\n")
    path = tmp_path / "course.yaml"
    path.write_text(GOOD.rstrip("\n") + "\n" + second)
    with pytest.raises(ManifestError, match="'f' is also an exercise of lesson01"):
        load(path)
