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
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

from tests.support.prometheus import debian_binary

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
# The oldest Kubernetes kanri's objects need (gRPC probes are GA in 1.27), and the newest the package knows.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.latest_version())


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
