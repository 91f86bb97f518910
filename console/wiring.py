"""From settings to a working operations context: registry, model store, cluster backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.cluster.base import ClusterBackend
from console.config import Settings
from console.ops.context import Context
from console.registry.database import Registry
from serving.models import ModelStore

if TYPE_CHECKING:
    from console.cluster.kubernetes import ObjectOptions


def object_options(settings: Settings) -> ObjectOptions:
    """What the configuration adds to every Kubernetes object kanri writes or renders."""
    from console.cluster.kubernetes import ObjectOptions

    defaults = ObjectOptions()
    return ObjectOptions(image=settings.image or defaults.image, gateway=settings.istio_gateway,
                         ingress_host=settings.ingress_host)


def cluster_backend(settings: Settings) -> ClusterBackend:
    """Imported on demand: the Kubernetes client is slow to import and the local cluster does not need it."""
    if settings.cluster == "kubernetes":
        from console.cluster.kubernetes import KubernetesBackend

        return KubernetesBackend(contexts=list(settings.kubernetes_contexts) or None,
                                 namespace=settings.kubernetes_namespace, kubeconfig=settings.kubeconfig or None,
                                 options=object_options(settings))
    from console.cluster.local import LocalBackend

    return LocalBackend(settings.home)


def open_context(settings: Settings) -> Context:
    registry = Registry(settings.database_url, auto_upgrade=settings.embedded_database)
    return Context(registry=registry, store=ModelStore(settings.model_store),
                   backend_factory=lambda: cluster_backend(settings))
