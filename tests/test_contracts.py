"""Contract tables (vllm_course/authoring/contracts.py): the rule that finds a docstring
clause with no check behind it, on the committed tables and on broken ones."""

import pytest

from vllm_course.authoring import contracts
from vllm_course.course.manifest import course


def test_every_tabled_clause_has_a_check_and_a_mistake():
    assert contracts.problems(course()) == []


def test_text_no_clause_quotes_is_reported():
    doc = 'Return the texts, in order. Leave `prompts` as it was.\n\nLesson section: "X".'
    gaps, missing = contracts.uncovered(doc, ["Return the texts,", "in order."])
    assert gaps == ["Leave `prompts` as it was."] and missing == []
    gaps, missing = contracts.uncovered(doc, ["Return the texts, in order.",
                                              "Leave `prompts`\n   as it was.", "sorted."])
    assert gaps == [] and missing == ["sorted."]


def test_a_dropped_clause_is_a_problem(monkeypatch):
    kept = tuple(c for c in contracts._all() if c.says != "Leave `user_turns` as it was.")
    monkeypatch.setattr(contracts, "_all", lambda: kept)
    found = contracts.problems(course())
    assert found == [f"lesson05.multi_turn: its docstring says 'Leave `user_turns` as it was.', "
                     "which no clause in tests/contracts.yaml quotes: add the clause, the check "
                     "input that fails when only it is broken, and a planted mistake that breaks it"]
    assert "lesson05" not in contracts.untabled(course())


def test_unknown_check_and_mistake_are_problems(monkeypatch):
    import dataclasses

    table = contracts._all()
    wrong = dataclasses.replace(table[0], check="test_nothing", broken_by=("no-such-mistake",))
    monkeypatch.setattr(contracts, "_all", lambda: (wrong,) + table[1:])
    found = contracts.problems(course())
    assert any("check 'test_nothing' is not a grader test" in p for p in found)
    assert any("'no-such-mistake' is not one of its planted mistakes" in p for p in found)


@pytest.mark.parametrize("entry, message", [
    ({"says": "x", "input": "y", "check": "test_a"}, "expected the fields"),
    ({"says": "", "input": "y", "check": "test_a", "broken_by": ["m"]}, "says must be non-empty"),
    ({"says": "x", "input": "y", "check": "test_a", "broken_by": []}, "broken_by must list"),
])
def test_malformed_tables_are_named(tmp_path, entry, message):
    import yaml

    path = tmp_path / "contracts.yaml"
    path.write_text(yaml.safe_dump({"lesson05": {"chat_once": [entry]}}))
    with pytest.raises(contracts.ContractError, match=message) as error:
        contracts._all.__wrapped__(path)
    assert "lesson05.chat_once[0]" in str(error.value)
