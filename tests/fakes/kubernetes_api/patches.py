"""JSON merge patch (RFC 7386) and a simple strategic merge patch, for the content types a PATCH names."""

from __future__ import annotations

import copy

from .fieldsets import list_keys

APPLY = "application/apply-patch+yaml"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
# What the real server accepts, in the order its 415 lists them (CRDs take no strategic merge patch).
BUILT_IN_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_MERGE_PATCH, APPLY)
CUSTOM_TYPES = (JSON_PATCH, MERGE_PATCH, APPLY)


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


def strategic_merge_patch(target: object, patch: object) -> object:
    """A simple strategic merge: merge patch, except lists with a patch merge key merge item by item on it."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for name, value in patch.items():
        keys = list_keys(name, value) if isinstance(value, list) else None
        if value is None:
            result.pop(name, None)
        elif keys and isinstance(result.get(name), list):
            merged = {item.get(keys[0]): item for item in result[name]}
            for item in value:
                merged[item.get(keys[0])] = strategic_merge_patch(merged.get(item.get(keys[0]), {}), item)
            result[name] = list(merged.values())
        else:
            result[name] = strategic_merge_patch(result.get(name), value)
    return result


PATCHES = {MERGE_PATCH: merge_patch, STRATEGIC_MERGE_PATCH: strategic_merge_patch}
