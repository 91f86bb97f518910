"""The API calls for each kind kanri manages, behind one shape: read, list, create, replace, delete.

Answers are the API server's JSON (dicts in the same camelCase as the objects
kanri renders), so reading back uses the vocabulary of writing.
"""

from __future__ import annotations

from dataclasses import dataclass

from .connection import Cluster


@dataclass(frozen=True)
class Kind:
    kind: str
    api: str  # the Cluster attribute holding the typed API, or "custom"
    resource: str  # "deployment" as in read_namespaced_deployment; the plural for custom objects
    group_version: str = ""  # for custom objects

    def _call(self, cluster: Cluster, verb: str, namespace: str, name: str = "", body: dict | None = None,
              tolerate: tuple[int, ...] = (), **query: str) -> dict | None:
        in_path = [name] if name and verb != "create" else []  # a new object's name is in its body
        in_body = [body] if body is not None else []
        if self.group_version:
            group, version = self.group_version.split("/")
            method = getattr(cluster.custom, f"{'get' if verb == 'read' else verb}_namespaced_custom_object")
            args = [group, version, namespace, self.resource, *in_path, *in_body]
        else:
            method = getattr(getattr(cluster, self.api), f"{verb}_namespaced_{self.resource}")
            args = [*in_path, namespace, *in_body]
        action = f"{verb} {self.kind} {namespace}/{name}" if name else f"{verb} {self.kind}s in namespace {namespace}"
        return cluster.call(action, method, *args, tolerate=tolerate, **query)

    def read(self, cluster: Cluster, namespace: str, name: str) -> dict | None:
        """None when it does not exist."""
        return self._call(cluster, "read", namespace, name, tolerate=(404,))

    def list(self, cluster: Cluster, namespace: str, selector: str) -> list[dict]:
        return self._call(cluster, "list", namespace, label_selector=selector)["items"]

    def create(self, cluster: Cluster, obj: dict) -> bool:
        """False when it already exists (someone created it since it was read)."""
        meta = obj["metadata"]
        return self._call(cluster, "create", meta["namespace"], meta["name"], obj, tolerate=(409,)) is not None

    def replace(self, cluster: Cluster, obj: dict) -> bool:
        """False on a conflict: the object changed since its resourceVersion was read."""
        meta = obj["metadata"]
        return self._call(cluster, "replace", meta["namespace"], meta["name"], obj, tolerate=(409,)) is not None

    def delete(self, cluster: Cluster, namespace: str, name: str) -> None:
        """Deleting what is already gone is not an error."""
        self._call(cluster, "delete", namespace, name, tolerate=(404,))


def kinds(istio_api_version: str) -> dict[str, Kind]:
    """Every kind kanri manages, by its Kubernetes kind name."""
    return {k.kind: k for k in (
        Kind("Deployment", "apps", "deployment"),
        Kind("Service", "core", "service"),
        Kind("PodDisruptionBudget", "policy", "pod_disruption_budget"),
        Kind("HorizontalPodAutoscaler", "autoscaling", "horizontal_pod_autoscaler"),
        Kind("Pod", "core", "pod"),
        Kind("VirtualService", "custom", "virtualservices", istio_api_version),
        Kind("DestinationRule", "custom", "destinationrules", istio_api_version),
    )}
