"""Sets of field paths, as server-side apply tracks ownership: FieldsV1 encoding, comparison, and the apply merge.

A path is a tuple of FieldsV1 elements: "f:spec" for a field, 'k:{"name":"web"}'
for the item of a list merged by key. A set holds its members: the leaves
(scalars, atomic lists and maps, empty objects), the items of keyed lists, and
maps whose keys are data (labels, annotations, ...), which FieldsV1 marks
with ".". Simplified from structured-merge-diff: the kind of each node comes
from the small tables below, not from the OpenAPI schema, and only built-in
kinds have keyed lists (a CRD's lists are atomic, as Istio's are).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from .resources import Obj

Path = tuple[str, ...]
FieldSet = frozenset[Path]
MISSING: Any = object()

# listMapKeys of the keyed lists in the kinds the fake stores; the first is also the strategic merge key.
LIST_KEYS = {"containers": ("name",), "initContainers": ("name",), "env": ("name",), "volumes": ("name",),
             "volumeMounts": ("mountPath",), "imagePullSecrets": ("name",), "conditions": ("type",),
             "topologySpreadConstraints": ("topologyKey", "whenUnsatisfiable")}
KEY_DEFAULTS = {"protocol": "TCP"}
GRANULAR_MAPS = {"labels", "annotations", "limits", "requests", "data"}  # maps whose keys are data
ATOMIC_MAPS = {"selector", "labelSelector", "namespaceSelector", "nodeSelector"}  # LabelSelector, mapType=atomic
NOT_OWNED = {("f:apiVersion",), ("f:kind",), ("f:status",),
             *(("f:metadata", f"f:{name}") for name in ("name", "namespace", "uid", "resourceVersion", "generation",
                                                       "creationTimestamp", "managedFields", "selfLink",
                                                       "deletionTimestamp", "deletionGracePeriodSeconds"))}


def list_keys(name: str, items: list, keyed: bool = True) -> tuple[str, ...] | None:
    """The key fields of a list merged item by item; None for an atomic list (replaced whole)."""
    if not keyed or not items or not all(isinstance(item, dict) for item in items):
        return None
    if name == "ports":  # container ports, or a Service's
        return ("containerPort", "protocol") if "containerPort" in items[0] else ("port", "protocol")
    return LIST_KEYS.get(name)


def item_key(keys: tuple[str, ...], item: Obj) -> str:
    """The FieldsV1 element of a list item: k:{"containerPort":8080,"protocol":"TCP"} (key fields sorted)."""
    fields = {k: item.get(k, KEY_DEFAULTS.get(k)) for k in sorted(keys)}
    return "k:" + json.dumps(fields, separators=(",", ":"))


def _walk(value: Obj, path: Path, keyed: bool) -> Iterator[Path]:
    for name, child in value.items():
        here = (*path, f"f:{name}")
        if here in NOT_OWNED or child is None:
            continue
        if isinstance(child, dict) and child and name not in ATOMIC_MAPS:
            if name in GRANULAR_MAPS:
                yield here
            yield from _walk(child, here, keyed)
        elif isinstance(child, list) and (keys := list_keys(name, child, keyed)):
            for item in child:
                yield (*here, item_key(keys, item))
                yield from _walk(item, (*here, item_key(keys, item)), keyed)
        else:
            yield here


def field_set(obj: Obj, keyed: bool) -> FieldSet:
    """Every member path of an object, system fields and status left out (nobody owns those)."""
    return frozenset(_walk(obj, (), keyed))


def encode(fields: FieldSet) -> Obj:
    """FieldsV1: a tree of elements, sorted; "." (first) marks a member that also has members below it."""
    below: dict[str, set[Path]] = {}
    for path in fields:
        below.setdefault(path[0], set()).add(path[1:])
    tree: Obj = {}
    for element in sorted(below):
        children = encode(frozenset(p for p in below[element] if p))
        tree[element] = {".": {}, **children} if () in below[element] and children else children
    return tree


def decode(tree: Obj, path: Path = ()) -> FieldSet:
    found: set[Path] = set()
    for element, child in tree.items():
        if element == ".":
            found.add(path)
        elif not child:
            found.add((*path, element))
        else:
            found |= decode(child, (*path, element))
    return frozenset(found)


def _child(node: Any, element: str) -> Any:
    if element.startswith("f:"):
        return node.get(element[2:], MISSING) if isinstance(node, dict) else MISSING
    if isinstance(node, list):
        keys = tuple(json.loads(element[2:]))
        return next((item for item in node if isinstance(item, dict) and item_key(keys, item) == element), MISSING)
    return MISSING


def value_at(obj: Obj, path: Path) -> Any:
    node: Any = obj
    for element in path:
        node = _child(node, element)
        if node is MISSING:
            break
    return node


def remove_at(obj: Obj, path: Path) -> None:
    parent = value_at(obj, path[:-1])
    target = _child(parent, path[-1])
    if target is MISSING:
        return
    if isinstance(parent, dict):
        del parent[path[-1][2:]]
    else:
        parent.remove(target)


def compare(old: Obj, new: Obj, keyed: bool) -> tuple[FieldSet, FieldSet, FieldSet]:
    """(added, modified, removed) paths from old to new; a member with members below changes only by existing."""
    before, after = field_set(old, keyed), field_set(new, keyed)
    parents = {path[:i] for path in before | after for i in range(len(path))}
    modified = {path for path in before & after
                if path not in parents and value_at(old, path) != value_at(new, path)}
    return after - before, frozenset(modified), before - after


def path_string(path: Path) -> str:
    """As structured-merge-diff prints paths in messages: .spec.template.spec.containers[name="web"].image."""
    text = ""
    for element in path:
        if element.startswith("f:"):
            text += "." + element[2:]
        else:
            fields = json.loads(element[2:])
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in fields.items()) + "]"
    return text


def merge(live: Any, config: Any, name: str = "", keyed: bool = True) -> Any:
    """The apply merge: maps merge field by field, keyed lists item by item, anything else is replaced."""
    if isinstance(config, dict) and isinstance(live, dict) and name not in ATOMIC_MAPS:
        merged = dict(live)
        for field, value in config.items():
            merged[field] = merge(live.get(field), value, field, keyed)
        return merged
    keys = list_keys(name, config, keyed) if isinstance(config, list) else None
    if keys and isinstance(live, list) and list_keys(name, live, keyed) == keys:
        return _merge_items(live, config, keys, keyed)
    return config


def _merge_items(live: list[Obj], config: list[Obj], keys: tuple[str, ...], keyed: bool) -> list[Obj]:
    """The applied items in the applied order, live items no longer applied kept where they stood."""
    applied = {item_key(keys, item): item for item in config}
    existing = {item_key(keys, item): item for item in live}
    pending = iter(config)
    merged: list[Obj] = []
    done: set[str] = set()
    for item in live:
        key = item_key(keys, item)
        if key not in applied:
            merged.append(item)
            continue
        for next_applied in pending:  # applied items up to this one, in their order
            next_key = item_key(keys, next_applied)
            if next_key not in done:
                merged.append(merge(existing.get(next_key), next_applied, keyed=keyed))
                done.add(next_key)
            if next_key == key:
                break
    merged += [merge(None, item, keyed=keyed) for item in config if item_key(keys, item) not in done]
    return merged
