"""Rendering and validating Kubernetes manifests offline, as a cluster would accept them.

`kubectl kustomize` comes from Debian's kubernetes-client, installed when
missing (any kubectl on PATH will do). Built-in kinds are validated with
kubernetes-validate against the Kubernetes OpenAPI schemas in strict mode
(unknown fields refused); Istio and Prometheus Operator objects against the
CRD schemas kept in manifests/schemas.
"""

from __future__ import annotations

import functools
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from kanri.console.cluster.base import ModelRef, Resources, RouteSpec, ServiceSpec
from kanri.console.cluster.kubernetes import Capabilities, render_service_yaml
from kanri.console.config import load
from kanri.console.wiring import object_options
from tests.support.prometheus import debian_binary

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
# The oldest Kubernetes kanri's objects need (gRPC probes are GA in 1.27), and the newest the package knows.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.latest_version())


LEVELS = ("development", "staging", "production")
SHA = "3b5d6b2e4f1a9c0d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
MODEL = ModelRef(1, f"s3://kanri-models/sha256/{SHA}.skops", SHA)
# What the overlays say each level's service is, in the registry's terms: the seeds' differences.
LEVEL_SERVICES = {
    "development": dict(replicas=1, min_replicas=1, max_replicas=1, cpu_threshold=80,
                        resources=Resources("250m", "1", "512Mi", "1Gi")),
    "staging": dict(replicas=2, min_replicas=2, max_replicas=4, cpu_threshold=80, autoscale=True,
                    resources=Resources("500m", "1", "1Gi", "2Gi")),
    "production": dict(replicas=3, min_replicas=3, max_replicas=10, cpu_threshold=70, autoscale=True,
                       resources=Resources("1", "2", "2Gi", "4Gi")),
}


def level_service(level: str, store: str) -> ServiceSpec:
    return ServiceSpec(app="digits", name=f"main-{level}", level=level, predictor="digits.predictor:Digits",
                       model=MODEL, model_store=store, max_surge=1, max_unavailable=0, min_ready_seconds=10,
                       **LEVEL_SERVICES[level])


@pytest.fixture(scope="module")
def console_settings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The settings the console pod runs with: manifests/base's kanri-config as its environment."""
    [config] = [o for o in kustomize(Path("base")) if o["metadata"]["name"] == "kanri-config"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("no-config")))
        patch.delenv("KANRI_CONFIG", raising=False)
        for name, value in config["data"].items():
            patch.setenv(name, value)
        yield load()


def rendered(spec: ServiceSpec, route: RouteSpec, settings: object,
             capabilities: Capabilities | None = None) -> list[dict]:
    text = render_service_yaml(spec, route, settings.kubernetes_namespace, object_options(settings), capabilities)
    return list(yaml.safe_load_all(text))


def rendered_level(level: str, store: str, settings: object, capabilities: Capabilities | None = None) -> list[dict]:
    """What `kanri render` prints for the level's service, taking all of the level's traffic (Deployment first)."""
    return rendered(level_service(level, store), RouteSpec("digits", level, {f"main-{level}": 100}), settings,
                    capabilities)


def kustomizations() -> list[Path]:
    """Every kustomization under manifests/, relative to it."""
    return sorted(path.parent.relative_to(MANIFESTS) for path in MANIFESTS.rglob("kustomization.yaml"))


@functools.cache
def kustomize(folder: Path) -> tuple[dict, ...]:
    """The objects `kubectl kustomize manifests/FOLDER` renders."""
    kubectl = debian_binary("kubectl", "kubernetes-client")
    result = subprocess.run([kubectl, "kustomize", str(MANIFESTS / folder)], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise AssertionError(f"kubectl kustomize manifests/{folder} failed:\n{result.stderr}")
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) -> the JSON schema of its spec."""
    schemas = {}
    for path in (MANIFESTS / "schemas").glob("*.json"):
        document = json.loads(path.read_text())
        schemas[document["apiVersion"], document["kind"]] = document["spec"]
    return schemas


def problems(obj: dict) -> list[str]:
    """Why a cluster would refuse this object (none: it would take it)."""
    where = f"{obj.get('kind')} {obj.get('metadata', {}).get('name')}"
    schema = crd_schemas().get((obj.get("apiVersion"), obj.get("kind")))
    if schema is not None:
        found = [f"{where}: spec.{'.'.join(map(str, e.absolute_path))}: {e.message}"
                 for e in jsonschema.Draft7Validator(schema).iter_errors(obj.get("spec", {}))]
        if not obj.get("metadata", {}).get("name"):
            found.append(f"{where}: metadata.name is missing")
        return found
    found = []
    for version in KUBERNETES_VERSIONS:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            found.append(f"{where} (Kubernetes {version}): {exc.message} at {'.'.join(map(str, exc.path))}")
        except kubernetes_validate.SchemaNotFoundError:
            found.append(f"{where}: no schema for {obj.get('apiVersion')} {obj.get('kind')}: neither Kubernetes "
                         f"{version} nor manifests/schemas knows it")
    return found
