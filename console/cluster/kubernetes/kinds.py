"""The REST calls for each kind kanri manages, in the API version the cluster serves: read, list, apply, delete.

Answers are the API server's JSON (dicts in the same camelCase as the objects
kanri renders), so reading back uses the vocabulary of writing. Writes are
server-side apply under the field manager "kanri": kanri owns the fields it
renders, so a field it stops rendering goes, while fields others own (a
rollout restart's annotation, the clusterIP the server allocated, the replicas
an HPA set) stay; and there is no read-modify-write race with the controllers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .connection import Cluster
from .versions import ISTIO_SECURITY_KINDS, KIND_APIS, SCALED_OBJECT, KindApi, istio_kind, istio_security_kind

FIELD_MANAGER = "kanri"
APPLY = "application/apply-patch+yaml"  # a JSON body is YAML too


@dataclass(frozen=True)
class Kind:
    api: KindApi

    @property
    def kind(self) -> str:
        return self.api.kind

    def _served(self, cluster: Cluster) -> bool:
        """Whether the cluster serves this kind in a version kanri writes. A kind of Kubernetes itself must be
        (else a ClusterError names the missing API); an add-on's (Istio) may be absent, and then none exist."""
        if self.api.needs and not any(cluster.capabilities.serves(gv) for gv, _ in self.api.versions):
            return False
        cluster.capabilities.require(self.api, cluster.name)
        return True

    def path(self, cluster: Cluster, namespace: str, name: str = "") -> str:
        group_version = cluster.capabilities.require(self.api, cluster.name)
        root = f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"
        return f"{root}/namespaces/{namespace}/{self.api.plural}" + (f"/{name}" if name else "")

    def read(self, cluster: Cluster, namespace: str, name: str) -> dict | None:
        """None when it does not exist."""
        if not self._served(cluster):
            return None
        return cluster.request(f"read {self.kind} {namespace}/{name}", "GET", self.path(cluster, namespace, name),
                               tolerate=(404,))

    def list(self, cluster: Cluster, namespace: str, selector: str) -> list[dict]:
        return self.list_at(cluster, namespace, selector)[0]

    def list_at(self, cluster: Cluster, namespace: str, selector: str) -> tuple[list[dict], str]:
        """The objects and the resourceVersion of the list, where a watch of them starts."""
        if not self._served(cluster):
            return [], ""
        answer = cluster.request(f"list {self.api.many} in namespace {namespace}", "GET", self.path(cluster, namespace),
                                 {"labelSelector": selector}) or {}
        return answer.get("items") or [], answer.get("metadata", {}).get("resourceVersion", "")

    def watch(self, cluster: Cluster, namespace: str, selector: str, resource_version: str,
              seconds: float) -> Iterator[dict]:
        """Changes after `resource_version`, with bookmarks, for about `seconds` (a 410 Gone arrives as an ERROR)."""
        query = {"labelSelector": selector, "resourceVersion": resource_version, "allowWatchBookmarks": "true"}
        return cluster.stream(f"watch {self.api.many} in namespace {namespace}", self.path(cluster, namespace), query,
                              seconds)

    def apply(self, cluster: Cluster, obj: dict, dry_run: bool = False) -> dict | None:
        """Server-side apply, forcing kanri's ownership of what it renders; None on a conflict (409), to retry."""
        meta = obj["metadata"]
        query = {"fieldManager": FIELD_MANAGER, "force": "true"} | ({"dryRun": "All"} if dry_run else {})
        body = obj | {"apiVersion": cluster.capabilities.require(self.api, cluster.name)}
        verb = "check" if dry_run else "apply"
        return cluster.request(f"{verb} {self.kind} {meta['namespace']}/{meta['name']}", "PATCH",
                               self.path(cluster, meta["namespace"], meta["name"]), query, body, APPLY,
                               tolerate=(409,))

    def delete(self, cluster: Cluster, namespace: str, name: str, dry_run: bool = False) -> None:
        """Deleting what is already gone is not an error; its dependents (pods) go in the background."""
        if not self._served(cluster):
            return
        query = {"propagationPolicy": "Background"} | ({"dryRun": "All"} if dry_run else {})
        cluster.request(f"delete {self.kind} {namespace}/{name}", "DELETE", self.path(cluster, namespace, name),
                        query, tolerate=(404,))


def kinds(istio_api_version: str) -> dict[str, Kind]:
    """Every kind kanri manages, by its Kubernetes kind name."""
    apis = [*KIND_APIS.values(), istio_kind("VirtualService", istio_api_version),
            istio_kind("DestinationRule", istio_api_version), *map(istio_security_kind, ISTIO_SECURITY_KINDS),
            SCALED_OBJECT]
    return {api.kind: Kind(api) for api in apis}
