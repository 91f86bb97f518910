"""kanri against a real kube-apiserver and controller manager (v1.20.2; tests/support/real_kubernetes), through
the `kanri` CLI as an operator uses it: the whole flow, a stuck rollout, a failing init container, a pod with a
sidecar, autoscaling from its minimum, and the console's Role as its only permission.

The kubelet is the stand-in (no container runs): pods become Running and Ready when it says so, and hold or
fail where a test asks it to; everything else is the real control plane.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from kubernetes import client

from kanri.console.cli import main
from kanri.console.cluster.base import ModelRef, RouteSpec, ServiceSpec
from kanri.console.cluster.kubernetes import KubernetesBackend, ObjectOptions
from kanri.console.config import ENVIRONMENT
from kanri.console.telemetry import KubernetesPodLogs, LogQuery
from kanri.serving.models import ModelStore
from tests.support.backends import real_backend
from tests.support.manifests import kustomize
from tests.support.prometheus import wait_until
from tests.support.real_kubernetes.cluster import RealKubernetes
from tests.support.servers import PREDICTORS

Kanri = Callable[..., tuple[int, str, str]]


@pytest.fixture
def kanri(real_kubernetes: RealKubernetes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
          request: pytest.FixtureRequest) -> Iterator[Kanri]:
    """`kanri ARGS` in-process on the real API server, in a namespace of the test's own, with a fresh registry;
    rollouts are stuck after 8 s without progress. Returns (exit code, stdout, stderr)."""
    for variable in (*ENVIRONMENT.values(), "KANRI_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    namespace = real_kubernetes.namespace(f"cli-{request.node.name[5:40].replace('_', '-')}".rstrip("-"))
    for name, value in {"KANRI_HOME": str(tmp_path / "home"), "KANRI_CLUSTER": "kubernetes",
                        "KUBECONFIG": str(real_kubernetes.kubeconfig),
                        "KANRI_KUBERNETES_CONTEXTS": real_kubernetes.context, "KANRI_KUBERNETES_NAMESPACE": namespace,
                        "KANRI_PROGRESS_DEADLINE_SECONDS": "8", "XDG_CONFIG_HOME": str(tmp_path / "config")}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str, str]:
        result = runner.invoke(main, list(args), prog_name="kanri", catch_exceptions=False)
        return result.exit_code, result.stdout, result.stderr

    yield run
    real_kubernetes.kubelet.clear()


def ok(kanri: Kanri, *args: str) -> str:
    code, out, err = kanri(*args)
    assert code == 0, err
    return out


def deployment(real: RealKubernetes, namespace: str, name: str) -> client.V1Deployment:
    with real.api_client() as api:
        return client.AppsV1Api(api).read_namespaced_deployment(name, namespace)


def test_the_operators_flow_through_the_cli(kanri: Kanri, real_kubernetes: RealKubernetes, echo_models: dict) -> None:
    namespace = os.environ["KANRI_KUBERNETES_NAMESPACE"]
    ok(kanri, "app", "create", "echo", "--predictor", f"{PREDICTORS}:Echo")
    for version in ("v1", "v2"):
        ok(kanri, "model", "upload", "echo", str(echo_models[version]))
    ok(kanri, "service", "create", "echo", "echo-prod", "--level", "production", "--model", "1", "--replicas", "2",
       "--timeout", "60")
    switched = json.loads(ok(kanri, "switch", "echo", "echo-prod", "2", "--json", "--timeout", "60"))
    assert switched["rollout"]["converged"] and switched["model_version"] == 2
    ok(kanri, "scale", "echo", "echo-prod", "3", "--timeout", "60")
    ok(kanri, "service", "create", "echo", "echo-prod-b", "--level", "production", "--model", "1", "--timeout", "60")
    ok(kanri, "weights", "echo", "production", "echo-prod=90", "echo-prod-b=10")

    live = deployment(real_kubernetes, namespace, "echo-echo-prod")
    assert (live.spec.replicas, live.spec.template.metadata.annotations["kanri.io/model-version"]) == (3, "2")
    assert {f.manager for f in live.metadata.managed_fields} >= {"kanri"}, "written by server-side apply"
    with real_kubernetes.api_client() as api:
        route = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "networking.istio.io", "v1beta1", namespace, "virtualservices", "echo-production")
    assert {d["destination"]["subset"]: d["weight"] for d in route["spec"]["http"][0]["route"]} == {
        "echo-prod": 90, "echo-prod-b": 10}
    pods = json.loads(ok(kanri, "pods", "echo", "echo-prod", "--json"))
    assert [(p["model_version"], p["ready"], p["status"]) for p in pods] == [(2, True, "Running")] * 3
    assert json.loads(ok(kanri, "sync", "--json")) == {"drift": [], "fixed": False}
    listed = json.loads(ok(kanri, "service", "list", "--json"))
    assert {s["address"] for s in listed} == {f"echo-production.{namespace}.svc.cluster.local:50051"}
    ok(kanri, "weights", "echo", "production", "echo-prod=100")
    ok(kanri, "service", "delete", "echo", "echo-prod-b", "--yes")
    assert [s["name"] for s in json.loads(ok(kanri, "service", "list", "--json"))] == ["echo-prod"]


def test_a_rollout_held_by_an_unready_pod_is_reported_stuck(kanri: Kanri, real_kubernetes: RealKubernetes,
                                                            echo_models: dict) -> None:
    ok(kanri, "app", "create", "echo", "--predictor", f"{PREDICTORS}:Echo")
    for version in ("v1", "v2"):
        ok(kanri, "model", "upload", "echo", str(echo_models[version]))
    ok(kanri, "service", "create", "echo", "main", "--level", "staging", "--model", "1", "--replicas", "2",
       "--timeout", "60")
    real_kubernetes.kubelet.hold_unready(
        lambda pod: pod["metadata"].get("annotations", {}).get("kanri.io/model-version") == "2")
    code, _, err = kanri("switch", "echo", "main", "2", "--timeout", "60")
    assert code != 0
    assert "rollout of echo/main is stuck: progress deadline (8 s) exceeded: 1 of 3 pods not ready" in err, err
    assert err.rstrip().endswith("the old replicas keep serving; `kanri rollback echo main` returns it to v1"), err
    pods = json.loads(ok(kanri, "pods", "echo", "main", "--json"))
    assert sorted((p["model_version"], p["ready"]) for p in pods) == [(1, True), (1, True), (2, False)], \
        "the old replicas keep serving"


def test_a_failing_init_container_shows_in_the_rollout_and_the_pods(kanri: Kanri, real_kubernetes: RealKubernetes,
                                                                    echo_models: dict) -> None:
    ok(kanri, "app", "create", "echo", "--predictor", f"{PREDICTORS}:Echo")
    ok(kanri, "model", "upload", "echo", str(echo_models["v1"]))
    real_kubernetes.kubelet.fail_init(lambda pod: True, "fatal: repository 'https://git.example.com/p.git' not found")
    code, _, err = kanri("service", "create", "echo", "main", "--level", "development", "--model", "1",
                         "--timeout", "60")
    assert code != 0 and "Init:CrashLoopBackOff" in err and "repository 'https://git.example.com/p.git'" in err, err
    [pod] = json.loads(ok(kanri, "pods", "echo", "main", "--json"))
    assert pod["status"] == "Init:CrashLoopBackOff" and "exited 128" in pod["reason"], pod


def test_an_autoscaled_service_starts_at_its_minimum(real_kubernetes: RealKubernetes, make_echo_spec: Callable) -> None:
    backend = real_backend(real_kubernetes, "autoscaled-start")
    backend.apply(make_echo_spec(autoscale=True, replicas=1, min_replicas=3, max_replicas=5))
    events = list(backend.rollout("echo", "main", timeout=60))
    assert events[-1].converged and (events[-1].desired, events[-1].available) == (3, 3), events
    assert all(not e.converged for e in events[:-1]), "not done at one replica before the minimum exists"


def test_pod_logs_are_the_runtime_containers_beside_a_sidecar(real_kubernetes: RealKubernetes) -> None:
    namespace = real_kubernetes.namespace("sidecar-logs")
    labels = {"kanri.io/app": "echo", "kanri.io/service": "main", "app.kubernetes.io/managed-by": "kanri"}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "echo-main-1", "labels": labels},
           "spec": {"serviceAccountName": "kanri-runtime", "containers": [
               {"name": "kanri", "image": "kanri"}, {"name": "istio-proxy", "image": "proxyv2"}]}}
    with real_kubernetes.api_client() as api:
        client.CoreV1Api(api).create_namespaced_pod(namespace, pod)
        wait_until(lambda: (real_kubernetes.kubelet.pod(namespace, "echo-main-1") or {}).get("status", {}).get(
            "phase") == "Running", 30, "the pod running")
        real_kubernetes.kubelet.write_log(namespace, "echo-main-1", json.dumps({"message": "from the runtime"}),
                                          container="kanri")
        real_kubernetes.kubelet.write_log(namespace, "echo-main-1", json.dumps({"message": "from the proxy"}),
                                          container="istio-proxy")
        source = KubernetesPodLogs(real_kubernetes.api_client(), namespace)
        page = source.search(LogQuery(app="echo", limit=1000))
        source.close()
    messages = [line.message for line in page.lines]
    assert "from the runtime" in messages and "from the proxy" not in messages


def test_the_console_role_is_all_kanri_needs(real_kubernetes: RealKubernetes, make_echo_spec: Callable) -> None:
    """manifests/base's Role and ServiceAccount kanri-console, applied for real; kanri connects with that
    account's token alone and runs a service's whole life, its level routed and guarded by the mesh."""
    namespace = real_kubernetes.namespace("as-console")
    wanted = {"Role", "RoleBinding", "ServiceAccount"}
    objects = [o for o in kustomize(Path("base")) if o["kind"] in wanted and "console" in o["metadata"]["name"]]
    with real_kubernetes.api_client() as api:
        for obj in objects:
            obj["metadata"]["namespace"] = namespace
            for subject in obj.get("subjects", []):
                subject["namespace"] = namespace
        rbac, core = client.RbacAuthorizationV1Api(api), client.CoreV1Api(api)
        for obj in objects:
            {"Role": lambda o: rbac.create_namespaced_role(namespace, o),
             "RoleBinding": lambda o: rbac.create_namespaced_role_binding(namespace, o),
             "ServiceAccount": lambda o: core.create_namespaced_service_account(namespace, o)}[obj["kind"]](obj)
        token = wait_until(lambda: _account_token(core, namespace, "kanri-console"), 30, "kanri-console's token")
    configuration = client.Configuration()
    configuration.host, configuration.ssl_ca_cert = real_kubernetes.url, str(real_kubernetes.credentials.ca)
    configuration.api_key = {"authorization": f"Bearer {token}"}
    guarded = ObjectOptions(jwt_issuer="https://auth.example.com", jwks_uri="https://auth.example.com/jwks.json")
    backend = KubernetesBackend(api_clients={"as-console": client.ApiClient(configuration)}, namespace=namespace,
                                options=guarded, poll_interval=0.05, timeout=(2.0, 10.0))
    spec = make_echo_spec()
    for autoscale in (False, True, False):
        backend.apply(dataclasses.replace(spec, autoscale=autoscale))
    assert list(backend.rollout("echo", "main", timeout=60))[-1].converged
    backend.set_route(RouteSpec("echo", spec.level, {"main": 100}))
    watching = KubernetesBackend(api_clients={"as-console": client.ApiClient(configuration)}, namespace=namespace,
                                 watch=True)
    assert [p.ready for p in watching.pods("echo")] == [True] and watching.actual_state().services
    watching.close()
    backend.delete("echo", "main")


def _account_token(core: client.CoreV1Api, namespace: str, account: str) -> str:
    found = core.read_namespaced_service_account(account, namespace)
    if not found.secrets:
        return ""
    secret = core.read_namespaced_secret(found.secrets[0].name, namespace)
    return base64.b64decode(secret.data["token"]).decode()


@pytest.fixture
def make_echo_spec(tmp_path: Path, echo_models: dict) -> Callable[..., ServiceSpec]:
    stored = ModelStore(str(tmp_path / "models")).put_file(echo_models["v1"])
    spec = ServiceSpec(app="echo", name="main", level="development", predictor=f"{PREDICTORS}:Echo",
                       model=ModelRef(1, stored.uri, stored.sha256), model_store=str(tmp_path / "models"))
    return lambda **changes: dataclasses.replace(spec, **changes)

