"""JSON merge patch (RFC 7386) and a simple strategic merge patch."""

from __future__ import annotations

import copy


def merge_patch(target: object, patch: object) -> object:
    """RFC 7386 JSON merge patch: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# The keyed lists kanri's objects contain (patchMergeKey in the Kubernetes API); other lists are replaced.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "imagePullSecrets": "name", "conditions": "type"}


def _merge_key(list_name: str, items: list) -> str | None:
    if list_name == "ports":
        return "containerPort" if any("containerPort" in item for item in items) else "port"
    return MERGE_KEYS.get(list_name)


def strategic_merge_patch(target: object, patch: object) -> object:
    """A simple strategic merge: merge patch, except keyed lists merge item by item on their key."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        key = _merge_key(name, value) if isinstance(value, list) and value and isinstance(value[0], dict) else None
        if value is None:
            result.pop(name, None)
        elif key and isinstance(result.get(name), list):
            merged = {item.get(key): item for item in result[name]}
            for item in value:
                merged[item.get(key)] = strategic_merge_patch(merged.get(item.get(key), {}), item)
            result[name] = list(merged.values())
        else:
            result[name] = strategic_merge_patch(result.get(name), value)
    return result


PATCHES = {"application/merge-patch+json": merge_patch,
           "application/strategic-merge-patch+json": strategic_merge_patch}
