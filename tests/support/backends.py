"""The cluster backends the contract suite runs against, each with its own way to check a traffic split.

Add a backend by adding its name to BACKENDS and a context manager to
`backend_under_test` that yields a BackendUnderTest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

from kanri.console.cluster.base import ClusterBackend
from kanri.console.cluster.kubernetes import KubernetesBackend, ObjectOptions
from kanri.console.cluster.local import LocalBackend, SupervisorSettings
from kanri.console.cluster.local.control import kill_leftovers, stop_supervisor
from kanri.serving._pb import serving_pb2 as pb
from kanri.serving._pb import serving_pb2_grpc as pb_grpc
from kanri.serving.client import encode_value
from kanri.serving.models import ModelStore
from tests.support.kube import fake_clusters
from tests.support.real_kubernetes.cluster import RealKubernetes

ROOT = Path(__file__).resolve().parents[2]
ECHO = f"{ROOT / 'tests' / 'support' / 'predictors.py'}:Echo"
REAL_KUBERNETES = "real-kubernetes"
BACKENDS = ["local", "kubernetes", REAL_KUBERNETES]
"""The embedded local cluster; the fake API server; a real kube-apiserver and controller manager (v1.20.2)
with the stand-in kubelet (tests/support/real_kubernetes)."""

FAST = SupervisorSettings(tick_seconds=0.1, drain_delay_seconds=0.5, grace_seconds=5.0, startup_seconds=5.0,
                          autoscale_interval_seconds=0.5, autoscale_cooldown_seconds=2.0, router_poll_seconds=0.05,
                          stable_window_seconds=2.0)
"""Timings that keep the tests quick; the defaults are for people."""


@dataclass
class BackendUnderTest:
    backend: ClusterBackend
    store: ModelStore
    predictor: str
    verify_split: Callable[[str, str, dict[str, int]], None]
    """verify_split(app, level, weights) asserts that traffic really follows the weights."""


def answering_services(address: str, calls: int, concurrency: int = 16) -> Counter[str]:
    """How many of `calls` Predict calls through a router each service answered (x-kanri-service)."""

    async def run() -> Counter[str]:
        counts: Counter[str] = Counter()
        async with grpc.aio.insecure_channel(address) as channel:
            stub = pb_grpc.PredictionServiceStub(channel)
            request = pb.PredictRequest(input=encode_value("split"))

            async def worker(n: int) -> None:
                for _ in range(n):
                    call = stub.Predict(request, timeout=10)
                    await call
                    counts[dict(await call.initial_metadata())["x-kanri-service"]] += 1

            share, rest = divmod(calls, concurrency)
            await asyncio.gather(*(worker(share + (i < rest)) for i in range(concurrency)))
        return counts

    return asyncio.run(run())


def verify_split_through_router(backend: LocalBackend) -> Callable[[str, str, dict[str, int]], None]:
    def verify(app: str, level: str, weights: dict[str, int]) -> None:
        calls = 2000
        counts = answering_services(backend.address(app, level), calls)
        assert sum(counts.values()) == calls
        for service, weight in weights.items():
            assert abs(100 * counts[service] / calls - weight) <= 5, (weights, counts)

    return verify


@contextlib.contextmanager
def local_backend(home: Path, settings: SupervisorSettings = FAST) -> Iterator[LocalBackend]:
    """A LocalBackend in home; its supervisor, replicas and routers are stopped afterwards, whatever happened."""
    backend = LocalBackend(home, settings)
    try:
        yield backend
    finally:
        try:
            stop_supervisor(backend.paths, timeout=30)
        finally:
            kill_leftovers(backend.paths)


def delete_every_service(backend: ClusterBackend) -> None:
    """Between tests sharing a backend: nothing one deployed keeps running (and costing CPU) in the next."""
    for service in backend.actual_state().services:
        backend.delete(service.app, service.name)


def real_backend(real: RealKubernetes, namespace: str, **options: object) -> KubernetesBackend:
    """kanri on the real API server through its kubeconfig, in a namespace of its own made ready for its pods;
    a progress deadline of seconds (the real deployment controller's), polls and timeouts at test speed."""
    return KubernetesBackend([real.context], real.namespace(namespace), str(real.kubeconfig),
                             options=ObjectOptions(**{"progress_deadline_seconds": 8} | options),
                             poll_interval=0.05, timeout=(2.0, 10.0))


def verify_split_in_virtual_service(real: RealKubernetes, namespace: str) -> Callable[[str, str, dict[str, int]], None]:
    """On a cluster a split is what Istio is told: the weights of the level's (mesh) VirtualService."""
    def verify(app: str, level: str, weights: dict[str, int]) -> None:
        from kubernetes import client

        with real.api_client() as api:
            found = client.CustomObjectsApi(api).get_namespaced_custom_object(
                "networking.istio.io", "v1beta1", namespace, "virtualservices", f"{app}-{level}")
        assert {d["destination"]["subset"]: d["weight"] for d in found["spec"]["http"][0]["route"]} == weights

    return verify


@contextlib.contextmanager
def backend_under_test(name: str, tmp: Path, real: RealKubernetes | None = None) -> Iterator[BackendUnderTest]:
    """real: the session's real API server, for "real-kubernetes"."""
    if name == "local":
        with local_backend(tmp / "home") as backend:
            yield BackendUnderTest(backend, ModelStore(str(tmp / "models")), ECHO,
                                   verify_split_through_router(backend))
    elif name == "kubernetes":
        with fake_clusters(tmp) as clusters:
            yield BackendUnderTest(clusters.backend(), ModelStore(str(tmp / "models")), ECHO,
                                   clusters.verify_split())
    elif name == REAL_KUBERNETES and real is not None:
        namespace = f"kanri-{tmp.name.lower().replace('_', '-')}"[:63].rstrip("-")
        yield BackendUnderTest(real_backend(real, namespace), ModelStore(str(tmp / "models")), ECHO,
                               verify_split_in_virtual_service(real, namespace))
    else:
        raise ValueError(f"unknown backend {name!r}")
