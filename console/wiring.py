"""From settings to a working operations context: registry, model store, cluster backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kanri.console.cluster.base import ClusterBackend, Pod
from kanri.console.config import Settings
from kanri.console.ops.context import Context
from kanri.console.registry.database import Registry
from kanri.serving.models import ModelStore

if TYPE_CHECKING:
    from kanri.console.cluster.kubernetes import ObjectOptions
    from kanri.console.telemetry import LogSource, MetricsSource


def object_options(settings: Settings) -> ObjectOptions:
    """What the configuration adds to every Kubernetes object kanri writes or renders."""
    from kanri.console.cluster.kubernetes import ObjectOptions

    defaults = ObjectOptions()
    return ObjectOptions(image=settings.image or defaults.image,
                         fetch_image=settings.fetch_image or defaults.fetch_image, gateway=settings.istio_gateway,
                         ingress_host=settings.ingress_host, jwt_issuer=settings.istio_jwt_issuer,
                         jwks_uri=settings.istio_jwks_uri, jwt_audiences=settings.istio_jwt_audiences,
                         allowed_principals=settings.istio_allowed_principals, prometheus_url=settings.prometheus_url,
                         progress_deadline_seconds=settings.progress_deadline_seconds)


def progress_deadline(settings: Settings) -> float:
    """How long the configured cluster lets a rollout go without progress before it calls it stuck. Read from the
    settings, not ObjectOptions: opening a context must not import the Kubernetes client."""
    if settings.cluster == "kubernetes":
        return settings.progress_deadline_seconds
    from kanri.console.cluster.local import SupervisorSettings

    return SupervisorSettings.from_env().progress_deadline_seconds


def cluster_backend(settings: Settings, watch: bool = False) -> ClusterBackend:
    """Imported on demand: the Kubernetes client is slow to import and the local cluster does not need it.
    watch: a process that reads the cluster again and again (the console) keeps watched copies instead."""
    if settings.cluster == "kubernetes":
        from kanri.console.cluster.kubernetes import KubernetesBackend

        return KubernetesBackend(contexts=list(settings.kubernetes_contexts) or None,
                                 namespace=settings.kubernetes_namespace, kubeconfig=settings.kubeconfig or None,
                                 options=object_options(settings), watch=watch)
    from kanri.console.cluster.local import LocalBackend

    return LocalBackend(settings.home)


def open_context(settings: Settings, watch: bool = False) -> Context:
    registry = Registry(settings.database_url, auto_upgrade=settings.embedded_database)
    return Context(registry=registry, store=ModelStore(settings.model_store),
                   backend_factory=lambda: cluster_backend(settings, watch),
                   progress_deadline_seconds=progress_deadline(settings))


def metrics_source(settings: Settings, pods: Callable[[], list[Pod]]) -> MetricsSource:
    """Prometheus when one is configured; otherwise each replica's /metrics, scraped directly."""
    # Each adapter is imported only where it is chosen: their clients take a long time to import.
    if settings.prometheus_url:
        from kanri.console.telemetry.prometheus import PrometheusMetrics

        namespace = settings.kubernetes_namespace if settings.cluster == "kubernetes" else None
        return PrometheusMetrics(settings.prometheus_url, namespace=namespace, timeout=settings.telemetry_timeout)
    from kanri.console.telemetry.scrape import ScrapeMetrics

    return ScrapeMetrics(pods, timeout=settings.telemetry_timeout)


def log_source(settings: Settings) -> LogSource:
    """Elasticsearch when configured; else the pods' logs through the Kubernetes API; embedded, the log files."""
    if settings.elasticsearch_url:
        from elasticsearch import Elasticsearch

        from kanri.console.telemetry.elasticsearch import ElasticsearchLogs

        client = Elasticsearch(settings.elasticsearch_url, request_timeout=settings.telemetry_timeout)
        return ElasticsearchLogs(client, index=settings.elasticsearch_index, timeout=settings.telemetry_timeout)
    if settings.cluster == "kubernetes":
        return pod_log_source(settings)
    from kanri.console.cluster.local.paths import LocalPaths
    from kanri.console.telemetry.local_files import LocalFileLogs

    return LocalFileLogs(LocalPaths(settings.home).logs, timeout=settings.telemetry_timeout)


def pod_log_source(settings: Settings, container: str = "", previous: bool = False) -> LogSource:
    """The pods' logs through the Kubernetes API: without Elasticsearch, and for what only the kubelet keeps
    (a container's previous instance, a container other than the runtime). `container` "": the runtime's."""
    from kanri.console.cluster.kubernetes.connection import connect
    from kanri.console.telemetry.pod_logs import RUNTIME_CONTAINER, KubernetesPodLogs

    # The first configured cluster: pod logs are a fallback, and Elasticsearch is the way to see them all.
    first = connect(list(settings.kubernetes_contexts[:1]) or None, settings.kubeconfig or None)[0]
    return KubernetesPodLogs(first.api, settings.kubernetes_namespace, container=container or RUNTIME_CONTAINER,
                             previous=previous, timeout=settings.telemetry_timeout)
