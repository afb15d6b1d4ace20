"""Comparisons the graders make, fixed before any submission is imported.

A submission runs in the graders' process, so it could rebind a standard
helper the graders call at check time (`math.isclose = lambda *a, **k: True`)
or return a value whose own `__eq__` says yes to anything (a str subclass).
So the graders take their helpers from here, bound when this module is first
imported (at collection, before the submission), and every value a student's
function returns passes through `plain_values`, which turns subclasses of the
builtin types into the builtin types themselves, reading their data with the
builtins' own methods. `==` in a grader then runs the builtins' comparison.
"""

from __future__ import annotations

import json as _json
import math as _math
import re as _re

import jsonschema as _jsonschema

# Bound now: later rebinding of math.isclose etc. does not reach the graders.
isclose = _math.isclose
exp = _math.exp
log = _math.log
isfinite = _math.isfinite
sqrt = _math.sqrt
json_loads = _json.loads
fullmatch = _re.fullmatch
validate_json = _jsonschema.validate  # raises JSONSchemaError when invalid
JSONSchemaError = _jsonschema.ValidationError

_EXACT = (str, int, float, bool, bytes, type(None))
_SCALARS = ((str, str.__str__), (int, int.__int__), (float, float.__float__),
            (bytes, bytes.__bytes__))
_MAX_DEPTH = 20


def plain_values(value, _depth: int = 0):
    """`value` with every instance of a builtin's subclass (str, int, float,
    bytes, list, tuple, dict, set) replaced by the builtin itself, all the
    way into lists, tuples, dicts and sets. Other objects (a RequestOutput, a
    SamplingParams) are left as they are."""
    if type(value) in _EXACT or _depth > _MAX_DEPTH:
        return value
    for base, read in _SCALARS:
        if isinstance(value, base):  # a subclass: keep only the builtin's own data
            return read(value)
    nested = _depth + 1
    if isinstance(value, list):
        return [plain_values(v, nested) for v in list.__iter__(value)]
    if isinstance(value, tuple):
        return tuple(plain_values(v, nested) for v in tuple.__iter__(value))
    if isinstance(value, dict):
        return {plain_values(k, nested): plain_values(v, nested)
                for k, v in dict.items(value)}
    if isinstance(value, frozenset):
        return frozenset(plain_values(v, nested) for v in frozenset.__iter__(value))
    if isinstance(value, set):
        return {plain_values(v, nested) for v in set.__iter__(value)}
    return value
