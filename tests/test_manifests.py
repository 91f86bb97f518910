"""The production path, checked offline: every kustomization under manifests/ and kanri's rendered objects
validate against the Kubernetes and CRD schemas, the level overlays are exactly what `kanri render` prints
for the same services, the console's Roles grant exactly the API calls it makes, and the images run as a
non-root user with the entrypoints the objects expect.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from prometheus_client import CollectorRegistry, Gauge, start_http_server

from kanri.console.cli import main
from kanri.console.cluster.base import Resources, RouteSpec
from kanri.console.cluster.kubernetes import KubernetesBackend, mesh_security, pod
from kanri.console.telemetry import ElasticsearchLogs, KubernetesPodLogs, LogQuery
from kanri.console.wiring import object_options
from kanri.serving.logs import JsonFormatter
from tests.fakes.elasticsearch import FakeElasticsearch
from tests.fakes.kubernetes_api import FakeKubernetes
from tests.fakes.pod_logs import FakePodLogs
from tests.support.manifests import (
    LEVELS,
    MANIFESTS,
    crd_schemas,
    kustomizations,
    kustomize,
    level_service,
    problems,
    rendered,
    rendered_level,
)
from tests.support.prometheus import Prometheus, wait_until
from tests.support.recording_proxy import proxied_client, rbac_requests, recording_proxy
from tests.support.servers import free_port

REPO = MANIFESTS.parent
@pytest.mark.parametrize("folder", kustomizations(), ids=str)
def test_every_kustomization_renders_and_validates(folder: Path) -> None:
    found = kustomize(folder)
    assert found, f"manifests/{folder} renders nothing"
    assert [p for obj in found for p in problems(obj)] == []


def test_kanri_render_output_validates(console_settings: object) -> None:
    """Every level's service, and ones with what the overlays do not show: a GPU, a model store on the shared
    volume, a canary weight and a mirrored share; scaling on calls per second, to zero (a KEDA ScaledObject)."""
    cases = [(level_service(level, console_settings.model_store),
              RouteSpec("digits", level, {f"main-{level}": 100})) for level in LEVELS]
    gpu = dataclasses.replace(level_service("production", "/var/lib/kanri/models"), name="canary",
                              resources=Resources(cpu_request="2", memory_limit="8Gi", gpus=1))
    cases.append((gpu, RouteSpec("digits", "production", {"main-production": 90, "canary": 10}, mirror="shadow",
                                 mirror_percent=5)))
    on_calls = dataclasses.replace(level_service("staging", console_settings.model_store), min_replicas=0,
                                   scale_metric="rps", scale_target=40.0, scale_to_zero_after=120.0)
    cases.append((on_calls, RouteSpec("digits", "staging", {"main-staging": 100})))
    for spec, route in cases:
        documents = rendered(spec, route, console_settings)
        assert {d["kind"] for d in documents} >= {"Deployment", "Service", "DestinationRule", "VirtualService"}
        assert [p for obj in documents for p in problems(obj)] == []


def test_the_kanri_render_command_prints_objects_that_validate(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The command itself, from a registry: the service is recorded although no cluster took it."""
    monkeypatch.setenv("KANRI_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("KANRI_CLUSTER", "kubernetes")
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    for name in ("KANRI_CONFIG", "KANRI_DATABASE_URL", "KANRI_MODEL_STORE"):
        monkeypatch.delenv(name, raising=False)
    (tmp_path / "model.bin").write_bytes(b"weights")
    runner = CliRunner()
    for args in (["app", "create", "digits", "--predictor", "digits.predictor:Digits"],
                 ["model", "upload", "digits", str(tmp_path / "model.bin")],
                 ["service", "create", "digits", "main-production", "--level", "production", "--model", "1",
                  "--replicas", "3", "--cpu", "1", "--memory", "2Gi", "--gpus", "1", "--no-wait"],
                 ["autoscale", "digits", "main-production", "--min", "3", "--max", "10", "--cpu-threshold", "70"]):
        runner.invoke(main, args, catch_exceptions=False)  # the cluster calls fail; the registry keeps them
    result = runner.invoke(main, ["render", "digits", "main-production"], catch_exceptions=False)
    documents = list(yaml.safe_load_all(result.stdout))
    assert result.exit_code == 0 and "HorizontalPodAutoscaler" in {d["kind"] for d in documents}
    assert [p for obj in documents for p in problems(obj)] == []


def _broken(obj: dict, path: str, value: object) -> dict:
    """A copy of obj with the field at dotted path (list indexes as numbers) set to value."""
    obj = json.loads(json.dumps(obj))
    *parents, last = path.split(".")
    node = obj
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[last] = value
    return obj


@pytest.mark.parametrize(("kind", "path", "value", "expected"), [
    ("Deployment", "spec.template.spec.containers.0.imagePullPolcy", "Always", "'imagePullPolcy' was unexpected"),
    ("Deployment", "spec.minReadySeconds", "10", "'10' is not of type 'integer'"),
    ("VirtualService", "spec.http.0.mirrorPercentag", {"value": 5.0}, "'mirrorPercentag' was unexpected"),
    ("VirtualService", "spec.http.0.route.0.weight", "100", "'100' is not of type 'integer'"),
    ("AuthorizationPolicy", "spec.rules.0.from.0.source.requestPrincipal", ["*"], "'requestPrincipal' was unexpected"),
    ("PeerAuthentication", "spec.mtls.mode", "STICT", "'STICT' is not one of"),
])
def test_a_misspelt_field_is_refused(kind: str, path: str, value: object, expected: str,
                                     console_settings: object) -> None:
    """The validation has teeth, in built-in kinds (Kubernetes' schemas) and in Istio's (the CRD schemas)."""
    obj = next(o for o in rendered_level("staging", "s3://m", console_settings) if o["kind"] == kind)
    assert problems(obj) == []
    assert expected in "\n".join(problems(_broken(obj, path, value)))


def _normalized(obj: dict) -> dict:
    """Environment variables by name: their order means nothing to kanri (none refers to another)."""
    obj = json.loads(json.dumps(obj))
    if obj["kind"] == "Deployment":
        template = obj["spec"]["template"]["spec"]
        for container in template["containers"] + template.get("initContainers", []):
            container["env"] = sorted(container.get("env", []), key=lambda e: e["name"])
    return obj


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_overlay_is_what_kanri_render_prints(level: str, console_settings: object) -> None:
    by_kanri = {(o["kind"], o["metadata"]["name"]): _normalized(o)
                for o in rendered_level(level, console_settings.model_store, console_settings)}
    by_kustomize = {(o["kind"], o["metadata"]["name"]): _normalized(o) for o in kustomize(Path("overlays", level))}
    assert sorted(by_kustomize) == sorted(by_kanri)
    for key, obj in by_kanri.items():
        assert by_kustomize[key] == obj, key


def test_levels_differ_as_they_should_and_never_share_nodes() -> None:
    deployments = {level: next(o for o in kustomize(Path("overlays", level)) if o["kind"] == "Deployment")
                   for level in LEVELS}
    pods = {level: d["spec"]["template"]["spec"] for level, d in deployments.items()}
    requests = [pods[level]["containers"][0]["resources"]["requests"]["memory"] for level in LEVELS]
    assert requests == ["512Mi", "1Gi", "2Gi"]
    autoscalers = {level: [o for o in kustomize(Path("overlays", level)) if o["kind"] == "HorizontalPodAutoscaler"]
                   for level in LEVELS}
    assert [len(a) for a in autoscalers.values()] == [0, 1, 1]
    assert autoscalers["production"][0]["spec"]["minReplicas"] > autoscalers["staging"][0]["spec"]["minReplicas"]
    for level, spec in pods.items():
        [required] = spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert {"key": "kanri.io/service-level", "operator": "NotIn", "values": [level]} in \
            required["labelSelector"]["matchExpressions"] and required["namespaceSelector"] == {}
        assert [t["value"] for t in spec["tolerations"] if t["key"] == "kanri.io/service-level"] == [level]


# The console's Roles: exactly what the code does, on the wire.

def _granted(role: str) -> set[tuple[str, str, str]]:
    [found] = [o for o in kustomize(Path("base")) if o["kind"] == "Role" and o["metadata"]["name"] == role]
    return {(group, resource, verb) for rule in found["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def test_the_console_roles_grant_exactly_the_calls_kanri_makes(console_settings: object) -> None:
    """A service's whole life (create, autoscale on CPU then on calls, route, status, pods, sync, logs, delete)
    through a recording proxy, on a cluster with KEDA, configured as manifests/base configures the console (so
    its levels' mesh security is written too), the reads as the console makes them (watched): the console Role
    allows every call made and nothing else; the read-only Role, every read."""
    options = object_options(console_settings)
    fake, logs = FakeKubernetes(ready_after=0.05, keda=True).start(), FakePodLogs()
    logs.add_pod("kanri", "digits-main-1", {"kanri.io/app": "digits", "kanri.io/service": "main"})
    try:
        with recording_proxy() as proxy:
            backend = KubernetesBackend(api_clients={"fake": proxied_client(fake.url, proxy.url)}, namespace="kanri",
                                        options=options, poll_interval=0.05)
            spec = dataclasses.replace(level_service("development", "s3://m"), name="main", min_ready_seconds=0)
            on_calls = dataclasses.replace(spec, autoscale=True, scale_metric="concurrency", scale_target=4.0)
            # Creates, then replaces; each removes the autoscaler the service no longer has (an HPA, a ScaledObject).
            for step in (spec, dataclasses.replace(spec, autoscale=True), on_calls, on_calls):
                backend.apply(step)
            assert list(backend.rollout("digits", "main", timeout=10))[-1].converged
            for _ in range(2):
                backend.set_route(RouteSpec("digits", "development", {"main": 100}))
            writes = len(proxy.requests)
            backend.status("digits", "main")
            console = KubernetesBackend(api_clients={"fake": proxied_client(fake.url, proxy.url)}, namespace="kanri",
                                        options=options, watch=True)  # as the console reads: watched copies
            console.pods("digits")
            console.actual_state()
            console.close()
            source = KubernetesPodLogs(proxied_client(logs.url, proxy.url), "kanri")
            assert not isinstance(source.search(LogQuery(app="digits")), Exception)
            source.close()
            reads = rbac_requests(proxy.requests[writes:])
            backend.apply(dataclasses.replace(spec, autoscale=False))
            backend.delete("digits", "main")
            made = rbac_requests(proxy.requests)
    finally:
        fake.stop()
        logs.stop()
    assert made == _granted("kanri-console")
    assert reads == _granted("kanri-read-only")


# Images: the Dockerfiles read offline (tests/test_images.py builds and runs them on a real engine).

DOCKER = REPO / "docker"
PYTHON_BASE = r"python:3\.1[1-9]-slim(-\w+)?"


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(line for line in dockerfile.read_text().splitlines()
                                         if not line.lstrip().startswith("#")))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip()]


def _final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    instructions = _instructions(dockerfile)
    return instructions[max(i for i, (name, _) in enumerate(instructions) if name == "FROM"):]


def _copied(dockerfile: Path) -> list[str]:
    """The sources COPY takes from the build context (not from another stage)."""
    return [source for name, args in _instructions(dockerfile) if name == "COPY" and "--from=" not in args
            for source in args.split()[:-1]]


@pytest.mark.parametrize(("image", "base", "entrypoint"), [
    ("serving", PYTHON_BASE, ["kanri", "serve"]),
    ("console", PYTHON_BASE, ["tini", "-e", "143", "--"]),  # tini ends the idle sleep on SIGTERM
    ("fetch", r"debian:\w+-slim", ["kanri-fetch-predictor"]),
])
def test_images_run_as_a_non_root_user_with_their_entrypoint(image: str, base: str, entrypoint: list[str]) -> None:
    dockerfile = DOCKER / f"{image}.Dockerfile"
    final = _final_stage(dockerfile)
    assert re.fullmatch(base, final[0][1]), final[0]
    user = [args for name, args in final if name == "USER"][-1].split(":")[0]
    assert int(user) == pod.RUNTIME_UID  # the pods' runAsUser
    [command] = [args for name, args in final if name == "ENTRYPOINT"]
    assert json.loads(command) == entrypoint  # exec form: the process gets the signals
    ignored = (DOCKER / f"{image}.Dockerfile.dockerignore").read_text().splitlines()
    for source in _copied(dockerfile):
        assert (REPO / source).exists() and f"!{source}" in ignored, source  # in the context BuildKit sends


@pytest.mark.parametrize("image", ["serving", "console"])
def test_python_images_install_pinned_dependencies_before_any_source(image: str) -> None:
    """A source edit leaves the dependency layer cached; every pip install takes docker/constraints.txt."""
    instructions = _instructions(DOCKER / f"{image}.Dockerfile")
    installs = [i for i, (name, args) in enumerate(instructions) if name == "RUN" and "pip install" in args]
    dependencies = next(i for i in installs if "--requirement" in instructions[i][1])
    sources = [i for i, (name, args) in enumerate(instructions) if name == "COPY" and re.search(r"\bserving\b", args)]
    assert sources and dependencies < min(sources)
    assert all("--constraint /tmp/constraints.txt" in instructions[i][1] or "--no-deps" in instructions[i][1]
               for i in installs)


def test_the_fetch_image_carries_the_init_containers_command(console_settings: object) -> None:
    deployment = rendered_level("development", "s3://m", console_settings)[0]
    [fetch] = deployment["spec"]["template"]["spec"]["initContainers"]
    copies = [a.split() for name, a in _instructions(DOCKER / "fetch.Dockerfile") if name == "COPY"]
    assert [f"docker/{fetch['command'][0]}", f"/usr/local/bin/{fetch['command'][0]}"] in copies


def _requirements(extras: str) -> subprocess.CompletedProcess:
    """docker/requirements.py, as the Dockerfiles run it."""
    return subprocess.run([sys.executable, str(DOCKER / "requirements.py"), str(REPO / "pyproject.toml"), extras],
                          capture_output=True, text=True, timeout=30)


def test_the_constraints_pin_every_requirement_the_images_name() -> None:
    """Each with a version its specifier allows: pyproject.toml's (every extra but test, the project's own
    references followed), the Dockerfiles' model-store filesystems, the build backend."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = sorted(set(pyproject["project"]["optional-dependencies"]) - {"test"})
    named = _requirements(",".join(extras)).stdout.splitlines()
    assert "scikit-learn>=1.4" in named and not [r for r in named if r.startswith("kanri")]
    stores = re.findall(r'^ARG STORES="([^"]*)"', "".join(p.read_text() for p in DOCKER.glob("*.Dockerfile")), re.M)
    named += [*" ".join(stores).split(), *pyproject["build-system"]["requires"]]
    pins = dict(line.split("==") for line in (DOCKER / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    pins = {canonicalize_name(name): Version(version) for name, version in pins.items()}
    for requirement in map(Requirement, named):
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None and pinned in requirement.specifier, (requirement, pinned)


def test_an_extra_pyproject_does_not_declare_stops_the_build() -> None:
    """pip only warns about an unknown extra and installs without it (the image once asked for [sklearn]
    before it existed)."""
    done = _requirements("sklearn,tracing,nope")
    assert done.returncode != 0 and "declares no extra 'nope'" in done.stderr


# The init container's script, run for real against a git repository on disk.

def _fetch(target: Path, as_user: dict[str, object] | None = None, **env: str) -> subprocess.CompletedProcess:
    """as_user: subprocess.run's user, group, extra_groups and umask, to run it as a pod would."""
    return subprocess.run([str(REPO / "docker" / "kanri-fetch-predictor"), str(target)], env={"PATH": "/usr/bin:/bin",
                          "HOME": str(target.parent), **env}, capture_output=True, text=True, timeout=30,
                          **(as_user or {}))


def _predictor_repository(folder: Path) -> Path:
    """A git repository with digits/predictor.py on the branch release."""
    source = folder / "digits-repo"
    (source / "digits").mkdir(parents=True)
    (source / "digits" / "predictor.py").write_text("class Digits: ...\n")
    git = f"git -C {shlex.quote(str(source))} -c user.name=t -c user.email=t@example.com"
    for command in ("init -q -b release", "add .", "commit -q -m predictor"):
        subprocess.run(f"{git} {command}", shell=True, check=True)
    return source


def test_fetch_predictor_clones_the_branch_without_history(tmp_path: Path) -> None:
    source = _predictor_repository(tmp_path)
    target = tmp_path / "predictor"
    target.mkdir()
    done = _fetch(target, GIT_URL=f"file://{source}", GIT_BRANCH="release", GIT_USERNAME="u", GIT_PASSWORD="token")
    assert done.returncode == 0, done.stderr
    assert (target / "digits" / "predictor.py").read_text() == "class Digits: ...\n"
    assert not (target / ".git").exists() and "token" not in done.stdout + done.stderr
    missing = _fetch(tmp_path / "other", GIT_URL=f"file://{source}", GIT_BRANCH="no-such-branch")
    assert missing.returncode != 0 and "no-such-branch" in missing.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="running as the pod's users needs root")
def test_fetch_predictor_as_the_proxy_user_leaves_files_the_runtime_reads(console_settings: object) -> None:
    """The users of the rendered pod: the init container's (istio-proxy's uid, the pod's group) clones into
    an emptyDir as the kubelet prepares it for fsGroup (setgid, group-writable); the runtime's reads it all."""
    spec = rendered_level("development", "s3://m", console_settings)[0]["spec"]["template"]["spec"]
    pod_security, [fetch], [runtime] = spec["securityContext"], spec["initContainers"], spec["containers"]

    def user(container: dict) -> dict[str, object]:
        own = pod_security | container["securityContext"]
        return {"user": own["runAsUser"], "group": own["runAsGroup"], "extra_groups": [own["fsGroup"]],
                "umask": 0o022}

    with tempfile.TemporaryDirectory() as folder:  # pytest's tmp_path is root's alone
        base = Path(folder)
        base.chmod(0o755)
        source = _predictor_repository(base)
        subprocess.run(["chown", "-R", str(user(fetch)["user"]), str(source)], check=True)
        target = base / "predictor"
        target.mkdir(mode=0o777)
        os.chown(target, 0, pod_security["fsGroup"])
        target.chmod(0o2777)
        done = _fetch(target, user(fetch), GIT_URL=f"file://{source}", GIT_BRANCH="release")
        assert done.returncode == 0, done.stderr
        read = subprocess.run(["cat", str(target / "digits" / "predictor.py")], capture_output=True, text=True,
                              timeout=10, **user(runtime))
        assert read.returncode == 0 and read.stdout == "class Digits: ...\n", read.stderr


def test_fetch_predictor_without_a_repository_leaves_the_image_predictor(tmp_path: Path) -> None:
    done = _fetch(tmp_path)
    assert done.returncode == 0 and "comes with the image" in done.stdout and not any(tmp_path.iterdir())


def test_crd_schemas_cover_every_custom_kind_kanri_writes() -> None:
    assert {("networking.istio.io/v1beta1", k) for k in ("Gateway", "VirtualService", "DestinationRule")} | \
        {("security.istio.io/v1beta1", k) for k in mesh_security.KINDS} | \
        {("monitoring.coreos.com/v1", k) for k in ("ServiceMonitor", "PrometheusRule")} | \
        {("keda.sh/v1alpha1", "ScaledObject")} <= set(crd_schemas())


# Logs: fluent-bit's configuration and the index template, against the console's Elasticsearch reader.

OBSERVABILITY = MANIFESTS / "observability"


def _fluent_bit_sections() -> list[tuple[str, dict[str, str]]]:
    """fluent-bit.conf (classic format) as (SECTION, {key: value}) in order."""
    sections: list[tuple[str, dict[str, str]]] = []
    for line in (OBSERVABILITY / "fluent-bit" / "fluent-bit.conf").read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            sections.append((line.strip("[]"), {}))
        elif line and not line.startswith("#"):
            key, value = line.split(None, 1)
            sections[-1][1][key] = value
    return sections


def test_fluent_bit_ships_the_runtime_lines_where_the_console_reads(console_settings: object) -> None:
    sections = _fluent_bit_sections()
    [tail] = [s for name, s in sections if name == "INPUT"]
    [output] = [s for name, s in sections if name == "OUTPUT"]
    filters = {s["Name"]: s for name, s in sections if name == "FILTER"}
    deployment = rendered_level("production", "s3://m", console_settings)[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]["name"]
    namespace = console_settings.kubernetes_namespace
    assert tail["Path"] == f"/var/log/containers/*_{namespace}_{container}-*.log"
    assert filters["kubernetes"]["Merge_Log"] == "On" and filters["kubernetes"]["Keep_Log"] == "Off"
    assert f"{output['Logstash_Prefix']}-*" == console_settings.elasticsearch_index
    assert output["Time_Key"] != "@timestamp"  # the line's own @timestamp is the one the console sorts on
    assert filters["record_modifier"]["Uuid_Key"] == "log_id"  # ElasticsearchLogs' tiebreaker


@pytest.fixture(scope="module")
def elasticsearch() -> Iterator[FakeElasticsearch]:
    fake = FakeElasticsearch.start()
    yield fake
    fake.stop()


def test_the_index_template_maps_runtime_lines_that_the_console_finds(elasticsearch: FakeElasticsearch) -> None:
    """What the index-template Job puts, then a runtime line as fluent-bit ships it, read by ElasticsearchLogs."""
    template = (OBSERVABILITY / "elasticsearch" / "kanri-logs-template.json").read_bytes()
    put = urllib.request.Request(f"{elasticsearch.url}/_index_template/kanri-logs", data=template, method="PUT",
                                 headers={"Content-Type": "application/json"})
    assert json.loads(urllib.request.urlopen(put, timeout=10).read())["acknowledged"]
    line = JsonFormatter().format(logging.makeLogRecord({
        "name": "kanri.request", "levelname": "WARNING", "msg": "deadline exceeded after 500 ms", "app": "digits",
        "service": "main-production", "service_level": "production", "pod": "digits-main-production-7d9f-x2x",
        "pid": 7, "model_version": "1", "request_id": "r-1", "method": "Predict", "latency_ms": 500.2,
        "code": "DEADLINE_EXCEEDED"}))
    origin = {"namespace_name": "kanri", "pod_name": "digits-main-production-7d9f-x2x", "container_name": "kanri"}
    shipped = json.loads(line) | {"log_id": "0f5e", "shipped_at": "2026-12-01T21:00:01Z", "stream": "stdout",
                                  "kubernetes": origin}
    client = Elasticsearch(elasticsearch.url)
    client.index(index="kanri-logs-2026.12.01", document=shipped, refresh=True)
    mapping = client.indices.get_mapping(index="kanri-logs-2026.12.01")["kanri-logs-2026.12.01"]["mappings"]
    fields = mapping["properties"]
    assert (fields["app"]["type"], fields["latency_ms"]["type"], fields["message"]["type"]) == \
        ("keyword", "float", "text")
    source = ElasticsearchLogs(client, index="kanri-logs-*", settle_seconds=0)
    page = source.search(LogQuery(app="digits", service="main-production", service_level="production",
                                  levels=frozenset({"warning"}), text="deadline"))
    source.close()
    [found] = page.lines
    assert (found.pod, found.message, found.fields["code"]) == ("digits-main-production-7d9f-x2x",
                                                                 "deadline exceeded after 500 ms", "DEADLINE_EXCEEDED")


# Metrics: the scrape jobs for a Prometheus without the Operator, run by a real Prometheus.

def test_the_scrape_jobs_label_runtime_series_with_pod_and_namespace(tmp_path: Path) -> None:
    """Debian's Prometheus is built without Kubernetes discovery: the jobs run as written, except that file
    discovery hands them the meta labels Kubernetes' pod and endpoints discovery would."""
    registry = CollectorRegistry()
    Gauge("kanri_requests_in_flight", "RPCs being answered now.", ["app", "service", "service_level"],
          registry=registry).labels("digits", "main-production", "production").set(2)
    Gauge("DCGM_FI_DEV_GPU_UTIL", "GPU utilisation.", ["gpu", "pod", "namespace"],
          registry=registry).labels("0", "digits-main-production-7d9f-x2x", "kanri").set(87)
    exporter, _ = start_http_server(0, addr="127.0.0.1", registry=registry)
    port = exporter.server_address[1]
    pod_meta = {"__meta_kubernetes_namespace": "kanri", "__meta_kubernetes_pod_name": "digits-main-production-7d9f-x2x",
                "__meta_kubernetes_pod_annotation_prometheus_io_scrape": "true",
                "__meta_kubernetes_pod_annotation_prometheus_io_port": str(port),
                "__meta_kubernetes_pod_annotation_prometheus_io_path": "/metrics"}
    discovered = {
        "kanri-runtime": [{"targets": ["127.0.0.1:50051"], "labels": pod_meta},  # the pod's gRPC port
                          {"targets": [f"127.0.0.1:{free_port()}"], "labels": {"__meta_kubernetes_pod_name": "other"}}],
        "dcgm-exporter": [{"targets": [f"127.0.0.1:{port}"], "labels": {
            "__meta_kubernetes_service_name": "dcgm-exporter", "__meta_kubernetes_endpoint_port_name": "metrics",
            "__meta_kubernetes_pod_name": "dcgm-exporter-abcde"}}]}
    config = yaml.safe_load((OBSERVABILITY / "prometheus" / "kanri-scrape-configs.yml").read_text())
    for job in config["scrape_configs"]:
        (tmp_path / f"{job['job_name']}.json").write_text(json.dumps(discovered[job["job_name"]]))
        assert job.pop("kubernetes_sd_configs")
        job["file_sd_configs"] = [{"files": [str(tmp_path / f"{job['job_name']}.json")]}]
        job["scrape_interval"] = "1s"
    prometheus = Prometheus(tmp_path, free_port())
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    try:
        prometheus.restart()

        def series(query: str) -> list[dict] | None:
            url = f"{prometheus.url}/api/v1/query?query={urllib.parse.quote(query)}"
            return json.loads(urllib.request.urlopen(url, timeout=2).read())["data"]["result"] or None

        [runtime] = wait_until(lambda: series('kanri_requests_in_flight{job="kanri-runtime"}'), 15, "runtime scraped")
        assert runtime["metric"].items() >= {"app": "digits", "service": "main-production", "pod":
                                             "digits-main-production-7d9f-x2x", "namespace": "kanri"}.items()
        assert runtime["metric"]["instance"] == f"127.0.0.1:{port}"  # the annotated port, not the gRPC one
        [gpu] = wait_until(lambda: series('DCGM_FI_DEV_GPU_UTIL{job="dcgm-exporter"}'), 15, "exporter scraped")
        assert gpu["metric"]["pod"] == "digits-main-production-7d9f-x2x"  # the GPU's user, not the exporter
        targets = json.loads(urllib.request.urlopen(f"{prometheus.url}/api/v1/targets", timeout=2).read())
        assert len(targets["data"]["activeTargets"]) == 2  # the pod without the annotation was dropped
    finally:
        prometheus.stop()
        exporter.shutdown()
