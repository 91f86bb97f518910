"""manifests/ as a real API server (Kubernetes 1.20.2) takes it: `kubectl apply --dry-run=server`, with the
Istio and Prometheus Operator CRDs registered and the namespaces the objects name created first (a Namespace
applied in dry-run is not kept, so the objects in it would fail).

The level overlays are what `kanri render` prints for the newest Kubernetes (gRPC probes, policy/v1,
autoscaling/v2: 1.24 and later); on an older cluster kanri writes the same services in the APIs that cluster
serves, which is what `kanri render --kubernetes-version` prints. So on this 1.20 server each level is
dry-run as kanri renders it for 1.20 (and the overlay is checked to differ from that only where the versions
do), and every other kustomization as it is. The overlays' parts (application/, overlays/*/level/) are
taken through their overlays.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from kanri.console.cluster.kubernetes import Capabilities
from tests.support.manifests import LEVELS, kustomizations, kustomize, rendered_level
from tests.support.prometheus import debian_binary
from tests.support.real_kubernetes.cluster import RealKubernetes
from tests.support.real_kubernetes.namespaces import ensure_namespace

SERVER = Capabilities((1, 20))
LEVEL_OVERLAYS = [Path("overlays", level) for level in LEVELS]
AS_IS = [folder for folder in kustomizations() if folder != Path("application") and folder.parts[0] != "overlays"]


def namespaces(objects: list[dict]) -> set[str]:
    named = {obj["metadata"].get("namespace") for obj in objects}
    return {name for name in named if name} | {obj["metadata"]["name"] for obj in objects if obj["kind"] == "Namespace"}


def dry_run(cluster: RealKubernetes, objects: list[dict], what: str) -> None:
    with cluster.api_client() as api:
        for name in sorted(namespaces(objects)):
            ensure_namespace(api, name)
    applied = subprocess.run([debian_binary("kubectl", "kubernetes-client"), "apply", "--dry-run=server", "-f", "-",
                              "--kubeconfig", str(cluster.kubeconfig), "--context", cluster.context],
                             input=yaml.safe_dump_all(objects), capture_output=True, text=True, timeout=120)
    if applied.returncode != 0:
        pytest.fail(f"{what} refused: {applied.stderr.strip()}", pytrace=False)


@pytest.mark.parametrize("folder", AS_IS, ids=str)
def test_the_real_api_server_takes_the_kustomization(folder: Path, real_kubernetes: RealKubernetes) -> None:
    dry_run(real_kubernetes, list(kustomize(folder)), f"manifests/{folder}")


@pytest.mark.parametrize("level", LEVELS)
def test_the_real_api_server_takes_each_level_as_kanri_writes_it_there(
        level: str, real_kubernetes: RealKubernetes, console_settings: object) -> None:
    objects = rendered_level(level, console_settings.model_store, console_settings, SERVER)
    dry_run(real_kubernetes, objects, f"the {level} overlay as kanri renders it for Kubernetes 1.20")
    overlay = {(o["kind"], o["metadata"]["name"]): o for o in kustomize(Path("overlays", level))}
    for obj in objects:
        assert _version_neutral(obj) == _version_neutral(overlay[obj["kind"], obj["metadata"]["name"]])


def _version_neutral(obj: dict) -> dict:
    """The object less what differs between Kubernetes versions: API versions, probe handlers, namespaceSelector."""
    text = yaml.safe_dump({k: v for k, v in obj.items() if k != "apiVersion"}, sort_keys=True)
    found = yaml.safe_load(text)
    if found["kind"] == "Deployment":
        template = found["spec"]["template"]["spec"]
        for container in template["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                for handler in ("grpc", "httpGet"):
                    container[probe].pop(handler, None)
        for term in template["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]:
            term.pop("namespaceSelector", None)
        template["containers"][0]["env"] = sorted(template["containers"][0]["env"], key=lambda e: e["name"])
    return found
