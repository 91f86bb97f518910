"""Label and field selectors, as list and watch filter by them."""

from __future__ import annotations

import re
from collections.abc import Callable

from .resources import ApiError, Obj

_REQUIREMENT = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*(?:(==|=|!=)\s*([\w.-]*)|\s+(in|notin)\s*\(([^)]*)\))?\s*$")


def _split_top_level(text: str) -> list[str]:
    """Split on commas that are not inside a set: "a in (x,y),b" -> ["a in (x,y)", "b"]."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current] if current.strip() else parts


def label_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """Parse a label selector (=, ==, !=, in, notin, exists, !exists) into a predicate over labels."""
    tests = []
    for part in _split_top_level(text or ""):
        match = _REQUIREMENT.match(part)
        if not match:
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
        negate, key, op, value, set_op, values = match.groups()
        if negate and (op or set_op):
            raise ApiError(400, "BadRequest", f"unable to parse requirement: {part!r}")
        if op:
            tests.append(lambda labels, k=key, v=value, eq=op != "!=": (labels.get(k) == v) == eq)
        elif set_op:
            members = {v.strip() for v in values.split(",") if v.strip()}
            tests.append(lambda labels, k=key, m=members, inside=set_op == "in": (labels.get(k) in m) == inside)
        else:
            tests.append(lambda labels, k=key, present=not negate: (k in labels) == present)
    return lambda labels: all(test(labels) for test in tests)


def field_selector(text: str) -> Callable[[Obj], bool]:
    """Equality-based field selectors on dotted paths ("metadata.name=x,status.phase!=Running")."""
    tests = []
    for part in _split_top_level(text or ""):
        match = re.match(r"^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$", part)
        if not match:
            raise ApiError(400, "BadRequest", f"invalid field selector: {part!r}")
        path, op, value = match.groups()
        keys = path.split(".")
        tests.append(lambda obj, p=keys, v=value, eq=op != "!=": (str(_dig(obj, p)) == v) == eq)
    return lambda obj: all(test(obj) for test in tests)


def _dig(obj: Obj, path: list[str]) -> object:
    for key in path:
        obj = obj.get(key, "") if isinstance(obj, dict) else ""
    return obj


def selector_matches(selector: Obj, labels: dict[str, str]) -> bool:
    """A LabelSelector object (matchLabels + matchExpressions) against labels, as controllers evaluate it."""
    text = ",".join(f"{k}={v}" for k, v in selector.get("matchLabels", {}).items())
    for expression in selector.get("matchExpressions", []):
        op = expression["operator"].lower()
        key = expression["key"]
        clause = {"exists": key, "doesnotexist": f"!{key}"}.get(op) or f"{key} {op} ({','.join(expression['values'])})"
        text += ("," if text else "") + clause
    return label_selector(text)(labels)
