"""metadata.managedFields: who owns which fields, server-side apply's merge and conflicts, and Update bookkeeping.

Follows structured-merge-diff's Updater: an apply merges the configuration
into the live object, removes what the manager applied before and applies no
longer (unless someone else owns it too), and is refused with 409 when it
changes a field another manager owns, unless forced, which takes the field
over. Other writes (create, PUT, patches) record an Update entry for the
fields they changed and take those fields from every other manager.
Simplified: no cap on the number of Update entries, no version conversion of
field sets, and status writes by the simulated controllers record nothing.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

from . import fieldsets
from .fieldsets import FieldSet
from .resources import ApiError, Kind, Obj, now_rfc3339


@dataclass(frozen=True)
class Entry:
    manager: str
    operation: str  # "Apply" or "Update"
    api_version: str
    time: str
    fields: FieldSet

    def same_manager(self, manager: str, operation: str, api_version: str) -> bool:
        """The real server's manager identity: an applier is one manager in every version, an updater is not."""
        return (self.manager, self.operation) == (manager, operation) and (
            operation == "Apply" or self.api_version == api_version)

    def encoded(self) -> Obj:
        return {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
                "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": fieldsets.encode(self.fields)}


def read(obj: Obj) -> list[Entry]:
    return [Entry(e.get("manager", ""), e.get("operation", "Update"), e.get("apiVersion", ""), e.get("time", ""),
                  fieldsets.decode(e.get("fieldsV1") or {}))
            for e in obj.get("metadata", {}).get("managedFields") or []]


def _write(obj: Obj, entries: list[Entry]) -> None:
    kept = sorted((e for e in entries if e.fields), key=lambda e: (e.operation, e.time, e.manager, e.api_version))
    if kept:
        obj["metadata"]["managedFields"] = [e.encoded() for e in kept]
    else:
        obj["metadata"].pop("managedFields", None)


def _without_managed(obj: Obj) -> Obj:
    return {**obj, "metadata": {k: v for k, v in obj.get("metadata", {}).items() if k != "managedFields"}}


def _record(others: list[Entry], mine: Entry | None, fields: FieldSet, changed: bool, manager: str,
            operation: str, api_version: str) -> list[Entry]:
    """The other entries and the manager's, now owning `fields`; its time moves only when something changed."""
    if mine and not changed and mine.fields == fields:
        return [*others, mine]
    return [*others, Entry(manager, operation, api_version, now_rfc3339(), fields)]


def update(old: Obj | None, new: Obj, kind: Kind, manager: str, api_version: str) -> None:
    """Record a non-apply write in new's managedFields (the ones it carries, else the live object's)."""
    keyed = not kind.custom
    entries = read(new) if isinstance(new.get("metadata", {}).get("managedFields"), list) else read(old or {})
    added, modified, removed = fieldsets.compare(old or {}, new, keyed)
    taken = added | modified | removed
    mine = next((e for e in entries if e.same_manager(manager, "Update", api_version)), None)
    others = [replace(e, fields=e.fields - taken) for e in entries if e is not mine]
    fields = ((mine.fields if mine else frozenset()) | added | modified) - removed
    _write(new, _record(others, mine, fields, bool(taken), manager, "Update", api_version))


def apply(live: Obj | None, config: Obj, kind: Kind, manager: str, api_version: str, force: bool) -> Obj:
    """The object the apply makes of live (None: it creates it), managedFields included; 409 on conflicts."""
    keyed = not kind.custom
    entries = read(live or {})
    mine = next((e for e in entries if e.same_manager(manager, "Apply", api_version)), None)
    others = [e for e in entries if e is not mine]
    applied = fieldsets.field_set(config, keyed)
    merged = fieldsets.merge(copy.deepcopy(_without_managed(live or {})), config, keyed=keyed)
    owned = applied.union(*(e.fields for e in others))
    for path in sorted((mine.fields if mine else frozenset()) - owned, key=len):  # an item before its fields
        if not any(other[:len(path)] == path for other in owned):
            fieldsets.remove_at(merged, path)
    added, modified, removed = fieldsets.compare(live or {}, merged, keyed)
    conflicts = [(e, path) for e in others for path in sorted(e.fields & (added | modified))]
    if conflicts and not force:
        raise conflict_error(conflicts)
    taken = added | modified | removed
    others = [replace(e, fields=e.fields - taken) for e in others]
    _write(merged, _record(others, mine, applied, bool(taken), manager, "Apply", api_version))
    return merged


def _who(entry: Entry) -> str:
    """As the real message names a manager: an updater with the version it wrote."""
    return f'"{entry.manager}"' + (f" using {entry.api_version}" if entry.operation == "Update" else "")


def conflict_error(conflicts: list[tuple[Entry, fieldsets.Path]]) -> ApiError:
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {_who(e)}",
               "field": fieldsets.path_string(path)} for e, path in conflicts]
    if len(conflicts) == 1:
        entry, path = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {_who(entry)}: {fieldsets.path_string(path)}"
    else:
        lines = []
        for who in sorted({_who(e) for e, _ in conflicts}):
            lines += [f"conflicts with {who}:", *(f"- {fieldsets.path_string(p)}" for e, p in conflicts
                                                  if _who(e) == who)]
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return ApiError(409, "Conflict", message, {"causes": causes})
