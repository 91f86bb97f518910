"""KubernetesBackend: kanri's services as Deployments and its routes as Istio objects, on one or more clusters.

Every configured cluster (kubeconfig context) gets every service: operations
fan out, and reads report each cluster under its name. A failure on one
cluster does not stop the others; it is reported, naming the cluster, once all
were tried.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from kubernetes import client

from ..base import ClusterError, ClusterState, Pod, RolloutStatus, RouteSpec, ServiceSpec, route_problems
from . import labels, readback
from .apply import apply_object
from .connection import DEFAULT_TIMEOUT, Cluster, connect
from .kinds import kinds
from .objects import ObjectOptions, workload_objects
from .routing import LEVEL_PORT, level_host, route_objects
from .status import rollout_status, unready_detail

T = TypeVar("T")
WORKLOAD_KINDS = ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "Deployment")
ROUTE_KINDS = ("VirtualService", "DestinationRule", "Service")


class KubernetesBackend:
    """contexts: kubeconfig contexts, one cluster each (none: in-cluster config, else the current context);
    api_clients: ready clients by cluster name instead, for authentication kubeconfig cannot express."""

    name = "kubernetes"

    def __init__(self, contexts: list[str] | None = None, namespace: str = "kanri", kubeconfig: str | None = None,
                 api_clients: Mapping[str, client.ApiClient] | None = None, *,
                 options: ObjectOptions | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 poll_interval: float = 1.0) -> None:
        self.namespace = namespace
        self.options = options or ObjectOptions()
        self.poll_interval = poll_interval
        self.clusters = ([Cluster(name, api, timeout) for name, api in api_clients.items()] if api_clients
                         else connect(contexts, kubeconfig, timeout))
        self.kinds = kinds(self.options.istio_api_version)

    def _fan_out(self, work: Callable[[Cluster], T]) -> list[T]:
        results, failures = [], []
        for cluster in self.clusters:
            try:
                results.append(work(cluster))
            except ClusterError as exc:
                failures.append(str(exc))
        if failures:
            done = len(self.clusters) - len(failures)
            raise ClusterError("; ".join(failures) + (f" (the other {done} clusters succeeded)" if done else ""))
        return results

    def apply(self, spec: ServiceSpec) -> None:
        objects = workload_objects(spec, self.namespace, self.options)
        name = labels.workload_name(spec.app, spec.name)

        def work(cluster: Cluster) -> None:
            if not spec.autoscale:  # first, so that it cannot scale the Deployment back meanwhile
                self.kinds["HorizontalPodAutoscaler"].delete(cluster, self.namespace, name)
            for obj in objects:
                apply_object(cluster, self.kinds[obj["kind"]], obj)

        self._fan_out(work)

    def cluster_statuses(self, app: str, service: str) -> list[RolloutStatus]:
        """The rollout status on each cluster; a stuck one says what its pods show."""
        name = labels.workload_name(app, service)

        def work(cluster: Cluster) -> RolloutStatus:
            deployment = self.kinds["Deployment"].read(cluster, self.namespace, name)
            if deployment is None:
                raise ClusterError(f"cluster {cluster.name}: service {app}/{service} is not deployed (no Deployment "
                                   f"{self.namespace}/{name}); apply it first")
            status = rollout_status(deployment, cluster.name)
            if status.stuck:
                pods = self.kinds["Pod"].list(cluster, self.namespace, labels.managed(app=app, service=service))
                if detail := unready_detail(pods):
                    status = dataclasses.replace(status, stuck=f"{status.stuck}: {detail}")
            return status

        return self._fan_out(work)

    def status(self, app: str, service: str) -> RolloutStatus:
        """Over several clusters: counts summed, converged only when converged everywhere."""
        statuses = self.cluster_statuses(app, service)
        if len(statuses) == 1:
            return statuses[0]
        return RolloutStatus(
            app=app, service=service, desired=sum(s.desired for s in statuses),
            updated=sum(s.updated for s in statuses), ready=sum(s.ready for s in statuses),
            available=sum(s.available for s in statuses), converged=all(s.converged for s in statuses),
            stuck="; ".join(f"{s.cluster}: {s.stuck}" for s in statuses if s.stuck),
            message="; ".join(f"{s.cluster}: {s.message}" for s in statuses),
            cluster=",".join(s.cluster for s in statuses))

    def rollout(self, app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
        """Each cluster's status whenever it changes, until all converged, one is stuck, or the timeout."""
        deadline = time.monotonic() + timeout
        last: dict[str, RolloutStatus] = {}
        while True:
            statuses = self.cluster_statuses(app, service)
            for status in statuses:
                if last.get(status.cluster) != status:
                    last[status.cluster] = status
                    yield status
            if all(s.converged for s in statuses) or any(s.stuck for s in statuses):
                return
            if time.monotonic() >= deadline:
                for status in statuses:
                    if not status.converged:
                        yield dataclasses.replace(status, stuck="timed out",
                                                  message=f"not converged after {timeout:g} s: {status.message}")
                return
            time.sleep(min(self.poll_interval, max(deadline - time.monotonic(), 0.0)))

    def set_route(self, route: RouteSpec) -> None:
        """Istio applies the new weights to new calls; calls in flight finish where they are."""
        objects = route_objects(route, self.namespace, self.options)

        def work(cluster: Cluster) -> None:
            deployments = self.kinds["Deployment"].list(cluster, self.namespace,
                                                        labels.managed(app=route.app, level=route.level))
            if problems := route_problems(route, {d["metadata"]["labels"][labels.SERVICE] for d in deployments}):
                raise ClusterError(f"cluster {cluster.name}: cannot route {route.app} at {route.level}: "
                                   f"{'; '.join(problems)}")
            for obj in objects:
                apply_object(cluster, self.kinds[obj["kind"]], obj)

        self._fan_out(work)

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        now = datetime.now(UTC)
        selector = labels.managed(app=app, service=service or "")
        found = self._fan_out(lambda cluster: [readback.pod(obj, cluster.name, now) for obj in
                                               self.kinds["Pod"].list(cluster, self.namespace, selector)])
        return sorted((p for pods in found for p in pods), key=lambda p: (p.cluster, p.service, p.name))

    def actual_state(self) -> ClusterState:
        """Services per cluster; routes once each (the same on every cluster unless edited out of band)."""
        selector = labels.managed()

        def work(cluster: Cluster) -> ClusterState:
            autoscalers = {h["metadata"]["name"]: h for h in
                           self.kinds["HorizontalPodAutoscaler"].list(cluster, self.namespace, selector)}
            services = [readback.actual_service(d, autoscalers.get(d["metadata"]["name"]), cluster.name)
                        for d in self.kinds["Deployment"].list(cluster, self.namespace, selector)]
            routes = [readback.route(vs) for vs in self.kinds["VirtualService"].list(cluster, self.namespace, selector)]
            return ClusterState(services, routes)

        states = self._fan_out(work)
        routes: list[RouteSpec] = []
        for route in (r for state in states for r in state.routes):
            if route not in routes:
                routes.append(route)
        return ClusterState([s for state in states for s in state.services], routes)

    def delete(self, app: str, service: str) -> None:
        """The route objects of the level go too once no service of the application is left at that level."""
        name = labels.workload_name(app, service)

        def work(cluster: Cluster) -> None:
            deployment = self.kinds["Deployment"].read(cluster, self.namespace, name)
            if deployment is None:
                return
            identity = deployment["metadata"].get("labels", {})
            if identity.get(labels.MANAGED_BY) != "kanri":
                raise ClusterError(f"cluster {cluster.name}: Deployment {self.namespace}/{name} is not managed by "
                                   "kanri; it was left alone")
            for kind in WORKLOAD_KINDS:
                self.kinds[kind].delete(cluster, self.namespace, name)
            level = identity.get(labels.LEVEL, "")
            if not self.kinds["Deployment"].list(cluster, self.namespace, labels.managed(app=app, level=level)):
                for kind in ROUTE_KINDS:
                    self.kinds[kind].delete(cluster, self.namespace, labels.level_name(app, level))

        self._fan_out(work)

    def address(self, app: str, level: str) -> str:
        """Through the ingress when one is configured (the SDK sends the routing headers), else in the mesh."""
        if self.options.gateway and self.options.ingress_host:
            return f"{self.options.ingress_host}:443"
        return f"{level_host(app, level, self.namespace)}:{LEVEL_PORT}"
