"""What an older API server does with fields it does not know, or knows behind a feature gate that is off.

Decoding JSON drops unknown fields without a word, and a gated field is
dropped too (dropDisabledFields), so on those versions a create or update goes
on without them: a probe left with only `grpc` then fails validation, a
namespaceSelector silently disappears. Server-side apply is stricter: it types
the applied configuration against the server's schema first, and a field the
schema lacks, or a keyed list item without a key field that has no default,
is a 500 "failed to create typed patch object".
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .resources import DEPLOYMENTS, PODS, SERVICES, Kind, Obj

PROBES = ("livenessProbe", "startupProbe", "readinessProbe")  # in the order validation reports them
_POD_SPECS = {DEPLOYMENTS: ("spec", "template", "spec"), PODS: ("spec",)}
# Container and Service port protocols got their default (so apply could leave them out) in 1.21 (#98576).
_PORT_PROTOCOL_DEFAULT = 21

Located = Iterator[tuple[str, Obj]]  # (the path as structured-merge-diff prints it, the object there)


def pod_spec(kind: Kind, obj: Obj) -> tuple[str, Obj] | None:
    """The pod spec of a Pod, or of a Deployment's template, with its path."""
    fields = _POD_SPECS.get(kind, ())
    node = obj
    for field in fields:
        node = node.get(field) if isinstance(node, dict) else None
    return ("".join(f".{f}" for f in fields), node) if fields and isinstance(node, dict) else None


def _containers(path: str, spec: Obj) -> Located:
    for list_name in ("initContainers", "containers"):
        for container in spec.get(list_name) or []:
            yield f"{path}.{list_name}[name={json.dumps(container.get('name', ''))}]", container


def _probes(path: str, spec: Obj) -> Located:
    for where, container in _containers(path, spec):
        yield from ((f"{where}.{p}", container[p]) for p in PROBES if isinstance(container.get(p), dict))


def _affinity_terms(path: str, spec: Obj) -> Located:
    for name in ("podAffinity", "podAntiAffinity"):
        where = f"{path}.affinity.{name}"
        affinity = (spec.get("affinity") or {}).get(name) or {}
        for i, term in enumerate(affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or []):
            yield f"{where}.requiredDuringSchedulingIgnoredDuringExecution[{i}]", term
        for i, weighted in enumerate(affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
            if isinstance(weighted.get("podAffinityTerm"), dict):
                yield (f"{where}.preferredDuringSchedulingIgnoredDuringExecution[{i}].podAffinityTerm",
                       weighted["podAffinityTerm"])


@dataclass(frozen=True)
class GatedField:
    name: str
    declared: int  # the 1.x minor whose schema has it (alpha: a gate, off by default)
    enabled: int  # the minor where its gate is on by default
    holders: Callable[[str, Obj], Located]  # where in a pod spec it may appear


GATED = (GatedField("grpc", 23, 24, _probes),  # gRPC probes: alpha 1.23, beta (on) 1.24, GA 1.27
         GatedField("namespaceSelector", 21, 22, _affinity_terms),  # alpha 1.21, beta (on) 1.22
         GatedField("restartPolicy", 28, 29, _containers))  # sidecar (restartable init) containers


def _gated(kind: Kind, obj: Obj, minor: int, known: Callable[[GatedField], int]) -> Iterator[tuple[str, Obj, str]]:
    """(path, holder, field) for each gated field in obj that this minor does not take."""
    found = pod_spec(kind, obj)
    for gated in GATED:
        if found and minor < known(gated):
            yield from ((path, holder, gated.name) for path, holder in gated.holders(*found) if gated.name in holder)


def prune(kind: Kind, obj: Obj, minor: int) -> None:
    """Drop what decoding and dropDisabledFields drop on this version."""
    for _, holder, name in list(_gated(kind, obj, minor, lambda g: g.enabled)):
        del holder[name]


def _port_lists(kind: Kind, obj: Obj) -> Located:
    if kind is SERVICES:
        yield ".spec.ports", obj.get("spec") or {}
    if found := pod_spec(kind, obj):
        yield from _containers(*found)


def typing_errors(kind: Kind, config: Obj, minor: int) -> list[str]:
    """What typing an applied configuration against this version's schema refuses."""
    errors = [f"{path}.{name}: field not declared in schema"
              for path, _, name in _gated(kind, config, minor, lambda g: g.declared)]
    if minor < _PORT_PROTOCOL_DEFAULT:
        for path, holder in _port_lists(kind, config):
            errors += [f'{path}.ports: element {i}: associative list with keys has an element that omits key field '
                       '"protocol" (and doesn\'t have default value)'
                       for i, port in enumerate(holder.get("ports") or []) if "protocol" not in port]
    return errors
