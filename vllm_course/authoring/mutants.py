"""Mutants of a lesson's solution: one small change each, inside one
exercise's solution region, for `make mutants` (mutation_run.py).

Generated with the standard library's `ast`, not mutmut or cosmic-ray: both
run a test command per mutant against a file they rewrite in place (mutmut 3
also instruments the whole module with trampolines and runs pytest its own
way). Here every mutant must be graded as a submission, by the warm grader, a
hundred at a time: what is needed is the mutated source, not a runner.

Each mutant changes code between one function's solution markers, and only
that exercise's checks grade it. A mutant that keeps full points "survives":
either the grader has a gap, or the change does not alter behaviour (an
equivalent mutant, listed with its reason in tests/equivalent_mutants.yaml).
"""

from __future__ import annotations

import ast
import copy
import difflib
from dataclasses import dataclass

from vllm_course.course.manifest import Lesson
from vllm_course.authoring.planted import region_of, replace_region

_COMPARE_SWAPS = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.LtE, ast.LtE: ast.Lt,
                  ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
                  ast.In: ast.NotIn, ast.NotIn: ast.In}
_BINOP_SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
                ast.FloorDiv: ast.Div, ast.Pow: ast.Mult}
# Keyword values that only document (argparse's description): changing them
# changes no behaviour a grader could see.
_DOC_KEYWORDS = {"description"}


@dataclass(frozen=True)
class Mutant:
    lesson: str
    function: str
    change: str  # what was changed, e.g. "drop use_tqdm=False" or "0 -> -1"
    diff: str  # the changed lines of the region, before (-) and after (+)
    source: str  # the whole mutated solution file

    @property
    def label(self) -> str:
        return f"{self.lesson}.{self.function}: {self.change}"


def _constant_options(node: ast.Constant, parent: ast.AST | None) -> list:
    value = node.value
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        options = [value + 1]
        if value == 0 and isinstance(parent, ast.Subscript):
            options.append(-1)  # outputs[0] -> outputs[-1]: agrees when n=1
        return options
    if isinstance(value, float):
        return [round(value + 0.1, 6)]
    if isinstance(value, str) and value:
        return [""]
    return []


def _sites(tree: ast.AST) -> list[tuple[int, str, object]]:
    """(node index in ast.walk order, kind, option) of every possible change."""
    nodes = list(ast.walk(tree))
    parents = {id(child): node for node in nodes for child in ast.iter_child_nodes(node)}
    sites = []
    for i, node in enumerate(nodes):
        parent = parents.get(id(node))
        if isinstance(node, ast.Constant):
            if isinstance(parent, ast.JoinedStr):
                continue
            if isinstance(parent, ast.keyword) and parent.arg in _DOC_KEYWORDS:
                continue
            sites += [(i, "constant", option) for option in _constant_options(node, parent)]
        elif isinstance(node, ast.Compare):
            sites += [(i, "compare", j) for j, op in enumerate(node.ops)
                      if type(op) in _COMPARE_SWAPS]
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOP_SWAPS:
            sites.append((i, "binop", None))
        elif isinstance(node, ast.BoolOp):
            sites.append((i, "boolop", None))
        elif isinstance(node, ast.Call):
            sites += [(i, "keyword", j) for j, kw in enumerate(node.keywords)
                      if kw.arg is not None and kw.arg not in _DOC_KEYWORDS]
            if len(node.args) >= 2:
                sites += [(i, "argument", j) for j in range(len(node.args))]
        elif isinstance(node, ast.Slice):
            sites += [(i, "slice", part) for part in ("lower", "upper")
                      if getattr(node, part) is not None]
        elif isinstance(node, ast.comprehension):
            sites += [(i, "condition", j) for j in range(len(node.ifs))]
            sites += [(i, "first-only", None), (i, "reversed", None)]
        elif isinstance(node, (ast.If, ast.While, ast.IfExp)):
            sites.append((i, "negate", None))
        elif isinstance(node, ast.For):
            sites += [(i, "first-only", None), (i, "reversed", None)]
        if hasattr(node, "body") and isinstance(node.body, list):
            for j, statement in enumerate(node.body):
                if isinstance(statement, (ast.Expr, ast.AugAssign, ast.If, ast.For)) or (
                        isinstance(statement, ast.Assign)
                        and not all(isinstance(t, ast.Name) for t in statement.targets)):
                    sites.append((i, "delete", j))
    return sites


def _apply(node: ast.AST, parent: ast.AST | None, kind: str, option) -> str:
    """Change `node` in place; return what was changed, for people (and for
    tests/equivalent_mutants.yaml, which names mutants by it)."""
    show = ast.unparse
    if kind == "constant":
        before = show(node)
        node.value = option
        if isinstance(parent, ast.keyword):  # use_tqdm=False -> use_tqdm=True
            return f"{parent.arg}={before} -> {parent.arg}={show(node)}"
        if isinstance(parent, ast.Subscript):
            return f"[{before}] -> [{show(node)}]"
        return f"{before} -> {show(node)}"
    if kind == "compare":
        before = show(node)
        node.ops[option] = _COMPARE_SWAPS[type(node.ops[option])]()
        return f"{before} -> {show(node)}"
    if kind == "binop":
        before = show(node)
        node.op = _BINOP_SWAPS[type(node.op)]()
        return f"{before} -> {show(node)}"
    if kind == "boolop":
        before = show(node)
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return f"{before} -> {show(node)}"
    if kind == "keyword":
        dropped = node.keywords.pop(option)
        return f"drop {show(dropped)} in {show(node.func)}()"
    if kind == "argument":
        dropped = node.args.pop(option)
        return f"drop argument {show(dropped)} of {show(node.func)}()"
    if kind == "slice":
        before = show(node)
        setattr(node, option, None)
        return f"[{before}] -> [{show(node)}]"
    if kind == "condition":
        dropped = node.ifs.pop(option)
        return f"drop the filter `if {show(dropped)}`"
    if kind in ("first-only", "reversed"):  # a loop over only the first item, or backwards
        before = show(node.iter)
        part = ast.Slice(upper=ast.Constant(1)) if kind == "first-only" else \
            ast.Slice(step=ast.UnaryOp(ast.USub(), ast.Constant(1)))
        node.iter = ast.Subscript(node.iter, part, ast.Load())
        return f"loop over {before} -> {show(node.iter)}"
    if kind == "negate":
        before = show(node.test)
        node.test = ast.UnaryOp(ast.Not(), node.test)
        return f"negate the condition {before}"
    if kind == "delete":
        statement = node.body[option]
        node.body[option] = ast.Pass()
        return f"delete `{show(statement).splitlines()[0]}`"
    raise ValueError(kind)


def _diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return "\n".join(l for l in lines if l[:1] in "+-" and l[:3] not in ("+++", "---"))


def function_mutants(lesson: Lesson, function: str, solution: str) -> list[Mutant]:
    """Every mutant of `function`'s solution region in the text `solution`."""
    tree = ast.parse(region_of(solution, function))
    original = ast.unparse(tree)
    found, seen = [], set()
    for index, kind, option in _sites(tree):
        mutated = copy.deepcopy(tree)
        nodes = list(ast.walk(mutated))
        parents = {id(child): node for node in nodes for child in ast.iter_child_nodes(node)}
        change = _apply(nodes[index], parents.get(id(nodes[index])), kind, option)
        code = ast.unparse(ast.fix_missing_locations(mutated))
        if code == original or code in seen:  # no change, or a change made twice
            continue
        seen.add(code)
        found.append(Mutant(lesson.id, function, change, _diff(original, code),
                            replace_region(solution, function, code)))
    return found


def lesson_mutants(lesson: Lesson) -> list[Mutant]:
    solution = lesson.solution_path.read_text(encoding="utf-8")
    return [m for e in lesson.exercises for m in function_mutants(lesson, e.function, solution)]
