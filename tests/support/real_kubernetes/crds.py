"""CustomResourceDefinitions for the kinds kanri writes (Istio routing and security, Prometheus Operator
monitoring, KEDA scaling), built from the spec schemas kept in manifests/schemas, so that the real server checks
and prunes what kanri writes as a cluster with Istio, the Prometheus Operator and KEDA would.

Those schemas are strict JSON Schema, which Kubernetes 1.20 refuses as not structural, so two rewrites:
`additionalProperties: false` beside `properties` goes (a structural schema prunes unknown fields instead),
and the integer-or-string unions (Kubernetes quantities among them: number or string) become
`x-kubernetes-int-or-string`.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from tests.support.manifests import MANIFESTS
from tests.support.prometheus import wait_until

# Served versions of each group, the storage version first; all share the one schema kept in manifests/schemas.
VERSIONS = {"networking.istio.io": ("v1beta1", "v1alpha3", "v1"), "security.istio.io": ("v1beta1", "v1"),
            "monitoring.coreos.com": ("v1",), "keda.sh": ("v1alpha1",)}
IRREGULAR_PLURALS = {"AuthorizationPolicy": "authorizationpolicies"}  # as Istio's CRD names it; others add an s
CRDS = "apiextensions.k8s.io", "v1", "customresourcedefinitions"


def structural(schema: Any) -> Any:
    """The schema as Kubernetes 1.20 accepts it (see the module's docstring)."""
    if isinstance(schema, list):
        return [structural(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if _int_or_string(schema):
        return {"x-kubernetes-int-or-string": True}
    return {key: structural(value) for key, value in schema.items()
            if not (key == "additionalProperties" and value is False and "properties" in schema)}


def _int_or_string(schema: dict) -> bool:
    """`anyOf: [integer, string]`, possibly inside `oneOf: [that, null]`; or a quantity, `oneOf: [number, string]`."""
    types = {option.get("type") for option in schema.get("anyOf", [])}
    quantity = {option.get("type") for option in schema.get("oneOf", [])} == {"number", "string"}
    if types == {"integer", "string"} or quantity:
        return True
    options = schema.get("oneOf", [])
    return len(options) == 2 and {"type": "null"} in options and any(map(_int_or_string, options))


def definitions() -> list[dict]:
    """One CustomResourceDefinition per kind in manifests/schemas."""
    found = []
    for path in sorted((MANIFESTS / "schemas").glob("*.json")):
        document = json.loads(path.read_text())
        group = document["apiVersion"].split("/")[0]
        kind = document["kind"]
        plural = IRREGULAR_PLURALS.get(kind, kind.lower() + "s")
        schema = {"openAPIV3Schema": {"type": "object", "properties": {"spec": structural(document["spec"])}}}
        found.append({
            "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "scope": "Namespaced",
                     "names": {"kind": kind, "plural": plural, "singular": kind.lower(), "listKind": f"{kind}List"},
                     "versions": [{"name": version, "served": True, "storage": version == VERSIONS[group][0],
                                   "schema": schema} for version in VERSIONS[group]]}})
    return found


def register(api: client.ApiClient, timeout: float = 60) -> None:
    """Create every definition and wait until the server serves them (Established)."""
    custom = client.CustomObjectsApi(api)  # a cluster-scoped object sent as it is, without the typed model
    names = []
    for definition in definitions():
        custom.create_cluster_custom_object(*CRDS, definition)
        names.append(definition["metadata"]["name"])
    for name in names:
        wait_until(lambda name=name: _established(custom, name), timeout,
                   f"CustomResourceDefinition {name} established")


def _established(custom: client.CustomObjectsApi, name: str) -> bool:
    conditions = (custom.get_cluster_custom_object(*CRDS, name).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)
