"""The console's reads on Kubernetes come from watched copies: current within a watch event, no request per
read, and current again after the server forgets the history a watch would resume from (410 Gone)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest

from kanri.console.cluster.base import ClusterError, ModelRef, ServiceSpec
from kanri.console.cluster.kubernetes import KubernetesBackend
from kanri.console.cluster.kubernetes.kinds import Kind
from kanri.console.cluster.kubernetes.watching import Reflector
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.support.kube import FAST_OPTIONS, NAMESPACE
from tests.support.prometheus import wait_until
from tests.support.recording_proxy import proxied_client, recording_proxy

SPEC = ServiceSpec(app="watched", name="a", level="development", predictor="predictor.py:Digits",
                   model=ModelRef(1, "s3://models/v1", "1" * 64), model_store="s3://models")


@pytest.fixture
def fake() -> Iterator[FakeKubernetes]:
    server = FakeKubernetes(ready_after=0.05, bookmark_interval=0.2).start()
    yield server
    server.stop()


def backend_on(url: str, proxy: str = "", watch: bool = True) -> KubernetesBackend:
    return KubernetesBackend(api_clients={"fake": proxied_client(url, proxy)}, namespace=NAMESPACE,
                             options=FAST_OPTIONS, watch=watch, poll_interval=0.05, timeout=(2.0, 5.0))


def test_a_change_reaches_the_watched_copy_at_once(fake: FakeKubernetes) -> None:
    writer, console = backend_on(fake.url, watch=False), backend_on(fake.url)
    try:
        assert console.pods("watched") == []
        writer.apply(SPEC)
        wait_until(lambda: len(console.pods("watched")) == 1, 5, "the new pod in the watched copy")
        writer.apply(dataclasses.replace(SPEC, replicas=3))
        wait_until(lambda: len(console.pods("watched")) == 3, 5, "the scaled pods in the watched copy")
        assert [s.replicas for s in console.actual_state().services] == [3]
    finally:
        console.close()


def test_a_watch_that_cannot_resume_after_410_gone_lists_again(fake: FakeKubernetes) -> None:
    """A watch resumes from the last resourceVersion seen; when the server has compacted that history away, it
    answers 410 Gone (an ERROR event), and the copy must be listed anew rather than resumed or failed."""
    writer, console = backend_on(fake.url, watch=False), backend_on(fake.url)
    [cluster], deployments = console.clusters, console.kinds["Deployment"]
    reflector = Reflector(cluster, deployments, NAMESPACE, "kanri.io/service=b", watch_seconds=1)
    writer.apply(SPEC)
    _, seen = deployments.list_at(cluster, NAMESPACE, "kanri.io/service=b")
    writer.apply(dataclasses.replace(SPEC, replicas=2))
    fake.compact()
    assert reflector._follow(seen) == "", "410 Gone: list again"  # the resume step itself


def test_reading_again_and_again_asks_the_api_server_nothing_more(fake: FakeKubernetes) -> None:
    backend_on(fake.url, watch=False).apply(SPEC)
    with recording_proxy() as proxy:
        console = backend_on(fake.url, proxy.url)
        try:
            console.pods("watched")
            console.actual_state()
            first = len(proxy.requests)
            for _ in range(50):
                console.pods("watched")
                console.actual_state()
            assert len(proxy.requests) == first
        finally:
            console.close()
    watches = [url for _, url in proxy.requests if "watch=true" in url]
    # pods, Deployments, HPAs, VirtualServices, and the levels' RequestAuthentications, PeerAuthentications and
    # AuthorizationPolicies
    assert len(watches) == 7 and all("allowWatchBookmarks=true" in url for url in watches), watches


def test_a_kind_the_cluster_does_not_serve_is_an_empty_copy_without_relisting() -> None:
    """An add-on's kind on a cluster without the add-on: nothing exists, and nothing is asked again and again
    (the reflector once relisted in a loop as fast as the CPU went)."""
    server = FakeKubernetes(istio=False).start()
    console = backend_on(server.url)
    lists = 0

    class Counted(Kind):
        def list_at(self, *args: object, **kwargs: object) -> tuple[list[dict], str]:
            nonlocal lists
            lists += 1
            return super().list_at(*args, **kwargs)  # type: ignore[arg-type]

    reflector = Reflector(console.clusters[0], Counted(console.kinds["VirtualService"].api), NAMESPACE, "").start()
    try:
        assert reflector.objects(5) == []
        time.sleep(0.3)
        assert lists == 1
    finally:
        reflector.stop()
        server.stop()


def test_an_api_server_that_goes_away_is_said_by_the_watched_copy(fake: FakeKubernetes) -> None:
    console = backend_on(fake.url)
    try:
        console.pods("watched")
        fake.stop()
        wait_until(lambda: _refusal(console), 10, "the watched copy saying the server is gone")
    finally:
        console.close()


def _refusal(console: KubernetesBackend) -> str:
    try:
        console.pods("watched")
    except ClusterError as exc:
        return str(exc)
    return ""
