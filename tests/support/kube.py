"""Fake Kubernetes API servers and KubernetesBackends connected to them through a kubeconfig, as in production.

`fake_clusters(folder, ["east", "west"])` starts one FakeKubernetes per name
and writes a kubeconfig with a context of that name for each; `.backend()`
builds a KubernetesBackend on every context with test-speed timings. For the
contract suite: `BackendUnderTest(clusters.backend(), store, predictor, clusters.verify_split())`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from kanri.console.cluster.kubernetes import KubernetesBackend, ObjectOptions
from tests.fakes.kubernetes_api import FakeKubernetes

NAMESPACE = "kanri"
FAST_OPTIONS = ObjectOptions(progress_deadline_seconds=1)
"""A stuck rollout is reported after a second instead of ten minutes."""


def write_kubeconfig(path: Path, servers: dict[str, str]) -> Path:
    """A kubeconfig with one context per (name, server URL); the first is current."""
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": next(iter(servers)),
        "clusters": [{"name": name, "cluster": {"server": url}} for name, url in servers.items()],
        "users": [{"name": name, "user": {"token": f"fake-token-{name}"}} for name in servers],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name, "namespace": NAMESPACE}}
                     for name in servers],
    }
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class FakeClusters:
    fakes: dict[str, FakeKubernetes]
    kubeconfig: Path

    def backend(self, contexts: list[str] | None = None, options: ObjectOptions = FAST_OPTIONS) -> KubernetesBackend:
        """A backend on the named contexts (default: all), polling fast, with a one-second progress deadline."""
        return KubernetesBackend(contexts or list(self.fakes), NAMESPACE, str(self.kubeconfig), options=options,
                                 poll_interval=0.05, timeout=(2.0, 5.0))

    def objects(self, plural: str, group: str = "", cluster: str = "") -> list[dict]:
        """What a fake holds (the first one by default), read directly rather than through the backend."""
        return self.fakes[cluster or next(iter(self.fakes))].objects(plural, NAMESPACE, group)

    def route_weights(self, app: str, level: str) -> dict[str, dict[str, int]]:
        """Each cluster's VirtualService weights for an application at a level (the subsets by weight)."""
        found = {}
        for name, fake in self.fakes.items():
            for vs in fake.objects("virtualservices", NAMESPACE, "networking.istio.io"):
                if vs["metadata"]["name"] == f"{app}-{level}":
                    route = vs["spec"]["http"][0]["route"]
                    found[name] = {d["destination"]["subset"]: d["weight"] for d in route}
        return found

    def verify_split(self) -> Callable[[str, str, dict[str, int]], None]:
        """For the contract suite: on Kubernetes a split is what Istio is told, the weights in every cluster."""
        def verify(app: str, level: str, weights: dict[str, int]) -> None:
            assert self.route_weights(app, level) == dict.fromkeys(self.fakes, weights)

        return verify


@contextlib.contextmanager
def fake_clusters(folder: Path, names: tuple[str, ...] = ("kind-kanri",), ready_after: float = 0.1,
                  kubernetes_version: str = "1.31", istio: bool = True, keda: bool = False) -> Iterator[FakeClusters]:
    """Fakes of one Kubernetes version, with or without Istio's (and the Prometheus Operator's) CRDs and KEDA's."""
    fakes: dict[str, FakeKubernetes] = {}
    try:
        for name in names:
            fakes[name] = FakeKubernetes(ready_after=ready_after, kubernetes_version=kubernetes_version,
                                         istio=istio, keda=keda).start()
        yield FakeClusters(fakes, write_kubeconfig(folder / "kubeconfig", {n: f.url for n, f in fakes.items()}))
    finally:
        for fake in fakes.values():
            fake.stop()

