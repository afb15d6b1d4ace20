"""The mutant generator and the planted-mistake loader: pure helpers, so unit
tests. That the graders kill the mutants is `make mutants`' job; that they
catch the planted mistakes is test_grading.py's."""

import ast

import pytest
import yaml

from vllm_course.authoring import planted
from vllm_course.grading.compare import plain_values
from vllm_course.course.manifest import Exercise, Lesson
from vllm_course.authoring.mutants import function_mutants

SOLUTION = '''
def first_texts(outputs, prompts):
    """Doc."""
    ### BEGIN SOLUTION
    texts = [o.outputs[0].text for o in outputs if o.prompt in prompts]
    if len(texts) > 1:
        texts.sort(key=len)
    return texts
    ### END SOLUTION
'''
LESSON = Lesson("lesson99", "T", "lessons/99-t", "t.py",
                (Exercise("first_texts", 1, "h", "m", "s"),))


def test_each_mutant_changes_one_thing_inside_the_region_only():
    mutants = function_mutants(LESSON, "first_texts", SOLUTION)
    changes = {m.change for m in mutants}
    assert {"[0] -> [1]", "[0] -> [-1]", "len(texts) > 1 -> len(texts) >= 1", "1 -> 2",
            "drop the filter `if o.prompt in prompts`",
            "o.prompt in prompts -> o.prompt not in prompts",
            "drop key=len in texts.sort()", "negate the condition len(texts) > 1",
            "delete `texts.sort(key=len)`", "loop over outputs -> outputs[:1]",
            "loop over outputs -> outputs[::-1]"} <= changes, changes
    for m in mutants:
        assert m.source != SOLUTION and ast.parse(m.source)
        assert '"""Doc."""' in m.source and m.source.startswith("\ndef first_texts(")
        assert m.diff.startswith("-") and "\n+" in m.diff
    assert len({m.source for m in mutants}) == len(mutants)  # no mutant twice


def test_argparse_descriptions_are_not_mutated():
    source = SOLUTION.replace("texts = [", "p = make(description='x', prog='y')\n    texts = [")
    changes = {m.change for m in function_mutants(LESSON, "first_texts", source)}
    assert "drop prog='y' in make()" in changes and "prog='y' -> prog=''" in changes
    assert not any("description" in c or "'x'" in c for c in changes)


def write(tmp_path, data):
    path = tmp_path / "planted.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("data,message", [
    ({"lesson01": {"f": {"name": "x"}}}, "lesson01.f: expected a list of mistakes"),
    ({"lesson01": {"f": [{"name": "Bad Name", "body": "x"}]}}, "name must be short kebab-case"),
    ({"lesson01": {"f": [{"name": "a", "body": "x", "replace": ["a", "b"]}]}},
     "give exactly one of body and replace"),
    ({"lesson01": {"f": [{"name": "a", "bdy": "x"}]}}, "unknown field(s) ['bdy']"),
    ({"lesson01": {"f": [{"name": "a", "replace": ["a"]}]}}, "replace must be [old text, new text]"),
    ({"lesson01": {"f": [{"name": "a", "body": "x"}, {"name": "a", "body": "y"}]}},
     "two mistakes share a name: ['mistake-f-a']"),
])
def test_a_malformed_planted_file_is_named_with_its_field(tmp_path, data, message):
    with pytest.raises(planted.PlantedError, match=None) as e:
        planted._parse(data, write(tmp_path, data))
    assert message in str(e.value) and "planted.yaml" in str(e.value)


def test_a_replace_edit_must_match_once():
    m = planted.Mistake("lesson99", "first_texts", "x", None, None, ("o.prompt", "o"))
    with pytest.raises(planted.PlantedError, match="exactly once .* found it 0 times"):
        m.apply(SOLUTION.replace("o.prompt", "o.text"))
    m = planted.Mistake("lesson99", "first_texts", "x", None, None, ("key=len", "key=str"))
    assert "texts.sort(key=str)" in m.apply(SOLUTION)


def test_a_mistake_that_does_not_parse_is_a_problem(tmp_path, monkeypatch):
    import dataclasses

    solution = tmp_path / "t.py"
    solution.write_text(SOLUTION)
    lesson = dataclasses.replace(LESSON)
    monkeypatch.setattr(type(lesson), "solution_path", property(lambda self: solution))
    escaped = planted.Mistake("lesson99", "first_texts", "literal-newline", None, None,
                              ("key=len)", "key=len)\\nreturn []"))
    monkeypatch.setattr(planted, "_all", lambda: (escaped,))
    course = type("C", (), {"lessons": (lesson,)})()
    found = planted.problems(course)
    assert any("literal-newline: the edited solution does not parse" in p for p in found), found


def test_plain_values_strips_lying_subclasses():
    class Same(str):
        def __eq__(self, other):
            return True
        __hash__ = str.__hash__

    class Everything(list):
        def __eq__(self, other):
            return True

    got = plain_values(Everything([(Same("a"), {Same("k"): 1.5})]))
    assert type(got) is list and type(got[0][0]) is str and got != [("b", {"k": 1.5})]
    assert got == [("a", {"k": 1.5})]
    marker = object()
    assert plain_values(marker) is marker and plain_values(True) is True


def test_every_reviewed_equivalent_names_a_mutant_that_exists():
    # Cheap half of make mutants' stale-entry check: the list names real mutants.
    from vllm_course.course.manifest import course
    from vllm_course.authoring.mutants import lesson_mutants
    from vllm_course.authoring.mutation_run import load_equivalents

    mutants = [m for lesson in course().lessons for m in lesson_mutants(lesson)]
    for entry in load_equivalents():
        assert any(entry.matches(m) for m in mutants), entry
