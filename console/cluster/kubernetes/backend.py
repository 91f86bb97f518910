"""KubernetesBackend: kanri's services as Deployments and its routes as Istio objects, on one or more clusters.

Every configured cluster (kubeconfig context) gets every service: a change is
checked by every API server before any writes it (apply.change), then written
to each; reads report each cluster under its name, and a failure on one
cluster does not stop the reads of the others. Objects are rendered per
cluster, in the API versions that cluster serves (versions.Capabilities).
With watch=True (the console) reads come from watched copies (watching.Reflector)
instead of a request each.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import TypeVar

from kubernetes import client

from ..base import ClusterError, ClusterState, Pod, RolloutStatus, RouteSpec, ServiceSpec, route_problems
from . import labels, mesh_security, readback
from .apply import Write, change
from .connection import DEFAULT_TIMEOUT, Cluster, connect
from .kinds import kinds
from .objects import HTTP_PORT, ObjectOptions, workload_objects
from .routing import LEVEL_PORT, level_host, route_objects
from .status import rollout_status, unready_detail
from .watching import Reflector

T = TypeVar("T")
AUTOSCALER_KINDS = ("HorizontalPodAutoscaler", "ScaledObject")  # on CPU; on calls, through KEDA (scaling.py)
WORKLOAD_KINDS = (*AUTOSCALER_KINDS, "PodDisruptionBudget", "Service", "Deployment")
ROUTE_KINDS = (*reversed(mesh_security.KINDS), "VirtualService", "DestinationRule", "Service")
WRITE_ORDER = ("Service", "PodDisruptionBudget", *AUTOSCALER_KINDS, "Deployment")  # pods change last


class KubernetesBackend:
    """contexts: kubeconfig contexts, one cluster each (none: in-cluster config, else the current context);
    api_clients: ready clients by cluster name instead, for authentication kubeconfig cannot express;
    watch: serve reads from watched copies of the namespace's objects (for a process that reads often)."""

    name = "kubernetes"

    def __init__(self, contexts: list[str] | None = None, namespace: str = "kanri", kubeconfig: str | None = None,
                 api_clients: Mapping[str, client.ApiClient] | None = None, *,
                 options: ObjectOptions | None = None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 poll_interval: float = 1.0, watch: bool = False) -> None:
        self.namespace = namespace
        self.options = options or ObjectOptions()
        self.poll_interval = poll_interval
        self.timeout = timeout
        self.clusters = ([Cluster(name, api, timeout) for name, api in api_clients.items()] if api_clients
                         else connect(contexts, kubeconfig, timeout))
        self.kinds = kinds(self.options.istio_api_version)
        self._reflectors: dict[tuple[str, str], Reflector] | None = {} if watch else None
        self._reflectors_lock = threading.Lock()

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

    def _managed(self, cluster: Cluster, kind: str, **narrowed_by: str) -> list[dict]:
        """kanri's objects of a kind, narrowed by app=, service=, level=: listed, or from the watched copy."""
        if self._reflectors is None:
            return self.kinds[kind].list(cluster, self.namespace, labels.managed(**narrowed_by))
        with self._reflectors_lock:
            key = (cluster.name, kind)
            if key not in self._reflectors:
                self._reflectors[key] = Reflector(cluster, self.kinds[kind], self.namespace,
                                                  labels.managed()).start()
            reflector = self._reflectors[key]
        wanted = labels.narrowed(**narrowed_by).items()
        return [o for o in reflector.objects(sum(self.timeout))
                if wanted <= o["metadata"].get("labels", {}).items()]

    def close(self) -> None:
        """Stop watching (the watch threads end with their requests)."""
        for reflector in (self._reflectors or {}).values():
            reflector.stop()

    def apply(self, spec: ServiceSpec) -> None:
        """An autoscaled service's replicas are left where its autoscaler put them, or start at its minimum. The
        autoscaler it no longer has (none, or the other kind after a change of metric) goes first, so that it
        cannot scale the Deployment meanwhile; after a change of metric, before the new one is even checked."""
        gone = {"metadata": {"namespace": self.namespace, "name": labels.workload_name(spec.app, spec.name)}}
        removals, writes = [], []
        for cluster in self.clusters:
            objects = {o["kind"]: o for o in workload_objects(spec, self.namespace, self.options,
                                                               cluster.capabilities)}
            removals += [Write(cluster, self.kinds[kind], gone, delete=True) for kind in AUTOSCALER_KINDS
                         if kind not in objects]
            writes += [Write(cluster, self.kinds[kind], objects[kind]) for kind in WRITE_ORDER if kind in objects]
        if removals and any(w.kind.kind in AUTOSCALER_KINDS for w in writes):
            # A change of metric: KEDA's admission webhook refuses a ScaledObject, dry run included, while an
            # HPA of another owner scales its Deployment, so the old autoscaler goes in a change of its own; but
            # not before every cluster is known to serve what replaces it (no KEDA: the HPA stays).
            try:
                for write in writes:
                    write.cluster.capabilities.require(write.kind.api, write.cluster.name)
            except ClusterError as exc:
                raise ClusterError(f"{exc} (nothing was changed on any cluster)") from None
            change(removals)
            removals = []
        change(removals + writes, prepare=_autoscaled_replicas)

    def cluster_statuses(self, app: str, service: str) -> list[RolloutStatus]:
        """The rollout status on each cluster; a stuck one says what its pods show, an autoscaled one why its
        autoscaler wants its replicas."""
        name = labels.workload_name(app, service)

        def work(cluster: Cluster) -> RolloutStatus:
            status = self._rollout_status(cluster, app, service,
                                          self.kinds["Deployment"].read(cluster, self.namespace, name))
            why = readback.scaling_reason(name, *self._autoscalers(cluster, app=app, service=service))
            return dataclasses.replace(status, scale_reason=why)

        return self._fan_out(work)

    def _autoscalers(self, cluster: Cluster, **narrowed_by: str) -> tuple[dict[str, dict], dict[str, dict]]:
        """kanri's HPAs and ScaledObjects, each by name, narrowed by app=, service=. The HPAs include those KEDA
        makes from kanri's ScaledObjects, which carry the ScaledObjects' labels."""
        return ({o["metadata"]["name"]: o for o in self._managed(cluster, "HorizontalPodAutoscaler", **narrowed_by)},
                {o["metadata"]["name"]: o for o in self._managed(cluster, "ScaledObject", **narrowed_by)})

    def _rollout_status(self, cluster: Cluster, app: str, service: str, deployment: dict | None) -> RolloutStatus:
        if deployment is None:
            raise ClusterError(f"cluster {cluster.name}: service {app}/{service} is not deployed (no Deployment "
                               f"{self.namespace}/{labels.workload_name(app, service)}); apply it first")
        status = rollout_status(deployment, cluster.name)
        if status.stuck:
            pods = self.kinds["Pod"].list(cluster, self.namespace, labels.managed(app=app, service=service))
            if detail := unready_detail(pods):
                status = dataclasses.replace(status, stuck=f"{status.stuck}: {detail}")
        return status

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
            cluster=",".join(s.cluster for s in statuses),
            scale_reason="; ".join(f"{s.cluster}: {s.scale_reason}" for s in statuses if s.scale_reason))

    def rollout(self, app: str, service: str, timeout: float = 300.0) -> Iterator[RolloutStatus]:
        """Each cluster's status whenever its Deployment changes (watched, not polled), until all converged,
        one is stuck, or the timeout."""
        deadline = time.monotonic() + timeout
        name = labels.workload_name(app, service)
        changed = threading.Event()
        reflectors = [Reflector(cluster, self.kinds["Deployment"], self.namespace,
                                labels.managed(app=app, service=service), changed.set,
                                watch_seconds=max(timeout, 1.0)).start() for cluster in self.clusters]
        try:
            last: dict[str, RolloutStatus] = {}
            while True:
                changed.clear()
                statuses = [self._rollout_status(r.cluster, app, service, next(
                    (d for d in r.objects(sum(self.timeout)) if d["metadata"]["name"] == name), None))
                    for r in reflectors]
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
                changed.wait(max(deadline - time.monotonic(), 0.0))
        finally:
            for reflector in reflectors:
                reflector.stop()

    def set_route(self, route: RouteSpec) -> None:
        """Istio applies the new weights to new calls; calls in flight finish where they are. The level's mesh
        security objects are written when configured, and never removed for a configuration that lacks them: an
        operator whose own settings miss the issuer must not open a level to every caller (docs: turning it off)."""
        objects = route_objects(route, self.namespace, self.options)
        writes = []
        for cluster in self.clusters:
            deployments = self.kinds["Deployment"].list(cluster, self.namespace,
                                                        labels.managed(app=route.app, level=route.level))
            if problems := route_problems(route, {d["metadata"]["labels"][labels.SERVICE] for d in deployments}):
                raise ClusterError(f"cluster {cluster.name}: cannot route {route.app} at {route.level}: "
                                   f"{'; '.join(problems)}")
            writes += [Write(cluster, self.kinds[obj["kind"]], obj) for obj in objects]
        change(writes)

    def pods(self, app: str, service: str | None = None) -> list[Pod]:
        now = datetime.now(UTC)
        found = self._fan_out(lambda cluster: [readback.pod(obj, cluster.name, now) for obj in
                                               self._managed(cluster, "Pod", app=app, service=service or "")])
        return sorted((p for pods in found for p in pods), key=lambda p: (p.cluster, p.service, p.name))

    def actual_state(self) -> ClusterState:
        """Services per cluster; routes once each (the same on every cluster unless edited out of band)."""
        def work(cluster: Cluster) -> ClusterState:
            autoscalers = self._autoscalers(cluster)
            services = [readback.actual_service(d, *autoscalers, cluster.name)
                        for d in self._managed(cluster, "Deployment")]
            routes = [readback.route(vs) for vs in self._managed(cluster, "VirtualService")
                      if readback.is_mesh_route(vs)]
            guards = [o for kind in mesh_security.KINDS for o in self._managed(cluster, kind)]
            return ClusterState(services, routes,
                                readback.access_drift(routes, guards, self.namespace, self.options, cluster.name))

        states = self._fan_out(work)
        routes: list[RouteSpec] = []
        for route in (r for state in states for r in state.routes):
            if route not in routes:
                routes.append(route)
        return ClusterState([s for state in states for s in state.services], routes,
                            [d for state in states for d in state.access_drift])

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
            gone = {"metadata": {"namespace": self.namespace, "name": name}}
            # change() removes only what kanri made: someone's own scaler of that name stays, as on apply
            change([Write(cluster, self.kinds[kind], gone, delete=True) for kind in WORKLOAD_KINDS])
            level = identity.get(labels.LEVEL, "")
            if not self.kinds["Deployment"].list(cluster, self.namespace, labels.managed(app=app, level=level)):
                for kind in ROUTE_KINDS:
                    for obj in self.kinds[kind].list(cluster, self.namespace, labels.route_objects_of(app, level)):
                        self.kinds[kind].delete(cluster, self.namespace, obj["metadata"]["name"])

        self._fan_out(work)

    def address(self, app: str, level: str) -> str:
        """Through the ingress when one is configured (the SDK sends the routing headers), else in the mesh."""
        if self.options.gateway and self.options.ingress_host:
            return f"{self.options.ingress_host}:443"
        return f"{level_host(app, level, self.namespace)}:{LEVEL_PORT}"

    def http_address(self, app: str, level: str) -> str:
        """In the mesh, where the level's Service serves HTTP beside gRPC."""
        return f"http://{level_host(app, level, self.namespace)}:{HTTP_PORT}"


def _autoscaled_replicas(write: Write, live: dict | None) -> dict:
    """An autoscaled Deployment keeps the replicas its autoscaler set, within its bounds: an HPA does not scale up
    a Deployment left at zero, as one scaled on calls may be when it goes over to CPU. A new one starts at its
    minimum, so that its rollout is not done at one replica before the autoscaler first acts; at one when that
    minimum is zero, so that the rollout shows a replica serving before the service goes idle."""
    obj = write.obj
    if obj["kind"] != "Deployment" or "replicas" in obj["spec"]:
        return obj
    bounds = obj["metadata"]["annotations"]
    low, high = int(bounds[labels.MIN_REPLICAS]), int(bounds[labels.MAX_REPLICAS])
    replicas = min(max(live["spec"].get("replicas", 1), low), high) if live else max(low, 1)
    return obj | {"spec": obj["spec"] | {"replicas": replicas}}
