"""The same CLI operations on Kubernetes: two fake API servers (east, west) reached through a kubeconfig.

The fakes are tests/fakes/kubernetes_api, not real clusters: this checks that
the operations reach the backend and the backend writes the right objects
in every configured cluster, not that Kubernetes or Istio then act on them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.cli import kanri_in
from tests.support.kube import fake_clusters


def test_switch_scale_weights_and_sync_fan_out_to_every_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 echo_models: dict) -> None:
    with fake_clusters(tmp_path, names=("east", "west")) as clusters:
        kanri = kanri_in(monkeypatch, {"KANRI_HOME": str(tmp_path / "home"), "KANRI_CLUSTER": "kubernetes",
                                       "KUBECONFIG": str(clusters.kubeconfig), "KANRI_KUBERNETES_CONTEXTS": "east,west",
                                       "XDG_CONFIG_HOME": str(tmp_path / "config")})

        kanri("app", "create", "echo", "--predictor", "tests.support.predictors:Echo")
        kanri("model", "upload", "echo", str(echo_models["v1"]))
        kanri("model", "upload", "echo", str(echo_models["v2"]))
        kanri("service", "create", "echo", "echo-prod", "--level", "production", "--model", "1", "--replicas", "2")
        switched = json.loads(kanri("switch", "echo", "echo-prod", "2", "--json", "--timeout", "60"))
        assert switched["rollout"]["converged"] and switched["model_version"] == 2
        kanri("scale", "echo", "echo-prod", "3", "--timeout", "60")
        kanri("service", "create", "echo", "echo-prod-b", "--level", "production", "--model", "1", "--timeout", "60")
        kanri("weights", "echo", "production", "echo-prod=90", "echo-prod-b=10")

        for cluster in ("east", "west"):
            [deployment] = [d for d in clusters.objects("deployments", "apps", cluster=cluster)
                            if d["metadata"]["name"] == "echo-echo-prod"]
            annotations = deployment["spec"]["template"]["metadata"]["annotations"]
            assert (deployment["spec"]["replicas"], annotations["kanri.io/model-version"]) == (3, "2")
        assert clusters.route_weights("echo", "production") == {
            "east": {"echo-prod": 90, "echo-prod-b": 10}, "west": {"echo-prod": 90, "echo-prod-b": 10}}
        pods = json.loads(kanri("pods", "echo", "echo-prod", "--json"))
        assert sorted((p["cluster"], p["model_version"]) for p in pods) == [("east", 2)] * 3 + [("west", 2)] * 3
        assert json.loads(kanri("sync", "--json")) == {"drift": [], "fixed": False}
        listed = json.loads(kanri("service", "list", "--json"))
        assert {s["address"] for s in listed} == {"echo-production.kanri.svc.cluster.local:50051"}
