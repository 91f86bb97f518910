"""The discovery documents: /version, /api, /apis, /apis/GROUP, and the resource lists of each group/version."""

from __future__ import annotations

from .resources import Kind, Obj
from .served import GroupVersion, ServedApis

# The verbs the fake serves on every kind (a real server adds deletecollection, which the fake leaves out).
VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]
_IN_CATEGORY_ALL = {"deployments", "pods", "services", "horizontalpodautoscalers"}


def version_info(version: tuple[int, int, int]) -> Obj:
    major, minor, patch = version
    return {"major": str(major), "minor": str(minor), "gitVersion": f"v{major}.{minor}.{patch}",
            "gitCommit": "fake", "gitTreeState": "clean", "buildDate": "2024-08-13T00:00:00Z",
            "goVersion": "go1.22.5", "compiler": "gc", "platform": "linux/amd64"}


def core_versions(address: str) -> Obj:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]}


def _version_entry(gv: GroupVersion) -> Obj:
    return {"groupVersion": gv.name, "version": gv.version}


def _group(name: str, versions: list[GroupVersion]) -> Obj:
    return {"name": name, "versions": [_version_entry(gv) for gv in versions],
            "preferredVersion": _version_entry(versions[0])}


def group_list(served: ServedApis) -> Obj:
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [_group(name, versions) for name, versions in served.groups().items()]}


def group(served: ServedApis, name: str) -> Obj | None:
    versions = served.groups().get(name)
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)} if versions else None


def _resource(kind: Kind) -> Obj:
    entry = {"name": kind.plural, "singularName": kind.kind.lower() if kind.custom else "", "namespaced": True,
             "kind": kind.kind, "verbs": VERBS}
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.plural in _IN_CATEGORY_ALL:
        entry["categories"] = ["all"]
    return entry


def resource_list(served: ServedApis, group_name: str, version: str) -> Obj | None:
    gv = served.group_version(group_name, version)
    if gv is None:
        return None
    typed = {"apiVersion": "v1"} if group_name else {}  # /api/v1 answers without one, as the real server does
    return {"kind": "APIResourceList", **typed, "groupVersion": gv.name,
            "resources": [_resource(kind) for kind in gv.kinds]}
