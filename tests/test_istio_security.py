"""Who may predict, in the mesh: with a JWT issuer and its JWKS in kanri's configuration, each service level
gets a RequestAuthentication, a PeerAuthentication and an AuthorizationPolicy for its pods; without them,
nothing. Checked here: the configuration and its errors; which calls the rendered policy lets through (by
Istio's ALLOW rules, evaluated below for the fields kanri writes), which plain-text connections the peer
policy takes, and that both name the ports the pods really have; that the backend applies them with the route,
removes them with the level's last service but never for a configuration without them (fail closed), and that
`kanri sync` notices them missing or edited (the fake API server); and that the real API server, with Istio's
CRDs, takes what kanri writes.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from kanri.console.cluster.base import ClusterError, ModelRef, RouteSpec, ServiceSpec
from kanri.console.cluster.kubernetes import Capabilities, ObjectOptions, mesh_security, render_service_yaml
from kanri.console.cluster.kubernetes.routing import route_objects
from kanri.console.cluster.kubernetes.versions import istio_security_kind
from kanri.console.config import ConfigError, load
from kanri.console.wiring import object_options
from tests.support.backends import real_backend
from tests.support.cli import kanri_in
from tests.support.kube import NAMESPACE, FakeClusters, fake_clusters
from tests.support.manifests import problems
from tests.support.prometheus import debian_binary
from tests.support.real_kubernetes.cluster import RealKubernetes

SECURITY = "security.istio.io"
ISSUER, JWKS = "https://auth.example.com", "https://auth.example.com/.well-known/jwks.json"
CHECKOUT = "cluster.local/ns/shop/sa/checkout"
GUARDED = ObjectOptions(jwt_issuer=ISSUER, jwks_uri=JWKS, jwt_audiences=("kanri",), allowed_principals=(CHECKOUT,))
SPEC = ServiceSpec(app="digits", name="main", level="production", predictor="digits.predictor:Digits",
                   model=ModelRef(1, "s3://m/sha256/ab.skops", "ab"), model_store="s3://m")
ROUTE = RouteSpec("digits", "production", {"main": 100})


def _objects(options: ObjectOptions, spec: ServiceSpec = SPEC, route: RouteSpec = ROUTE) -> dict[str, dict]:
    """What `kanri render` prints, by kind (the last of a kind: the route's objects come after the service's)."""
    return {o["kind"]: o for o in yaml.safe_load_all(render_service_yaml(spec, route, NAMESPACE, options))}


# The configuration.

@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    for name in ("KANRI_CONFIG", "KANRI_ISTIO_JWT_ISSUER", "KANRI_ISTIO_JWKS_URI", "KANRI_ISTIO_JWT_AUDIENCES",
                 "KANRI_ISTIO_ALLOWED_PRINCIPALS"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_settings_come_from_the_environment_and_reach_the_objects(environment: pytest.MonkeyPatch) -> None:
    environment.setenv("KANRI_ISTIO_JWT_ISSUER", ISSUER)
    environment.setenv("KANRI_ISTIO_JWKS_URI", JWKS)
    environment.setenv("KANRI_ISTIO_JWT_AUDIENCES", "kanri, digits")
    environment.setenv("KANRI_ISTIO_ALLOWED_PRINCIPALS", f"{CHECKOUT},cluster.local/ns/ops/sa/batch")
    settings = load()
    assert settings.istio_jwt_audiences == ("kanri", "digits")
    assert settings.shown()["istio_allowed_principals"] == [CHECKOUT, "cluster.local/ns/ops/sa/batch"]
    options = object_options(settings)
    assert (options.jwt_issuer, options.jwks_uri, options.jwt_audiences, options.allowed_principals) == (
        ISSUER, JWKS, ("kanri", "digits"), (CHECKOUT, "cluster.local/ns/ops/sa/batch"))
    assert mesh_security.configured(options)


def test_the_settings_may_be_lists_in_the_file(environment: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "kanri").mkdir()
    (tmp_path / "kanri" / "kanri.toml").write_text(
        f'istio_jwt_issuer = "{ISSUER}"\nistio_jwks_uri = "{JWKS}"\nistio_jwt_audiences = ["kanri", "digits"]\n')
    assert load().istio_jwt_audiences == ("kanri", "digits")


@pytest.mark.parametrize(("variables", "expected"), [
    ({"KANRI_ISTIO_JWT_ISSUER": ISSUER}, "istio_jwt_issuer and istio_jwks_uri go together"),
    ({"KANRI_ISTIO_JWKS_URI": JWKS}, "istio_jwt_issuer and istio_jwks_uri go together"),
    ({"KANRI_ISTIO_JWT_ISSUER": ISSUER, "KANRI_ISTIO_JWKS_URI": "auth.example.com/jwks.json"},
     "istio_jwks_uri must be the http(s) URL of the issuer's public keys (a JWKS), got 'auth.example.com/jwks.json'"),
    ({"KANRI_ISTIO_JWT_ISSUER": ISSUER, "KANRI_ISTIO_JWKS_URI": "https://[::1/jwks"}, "must be the http(s) URL"),
    ({"KANRI_ISTIO_JWT_AUDIENCES": "kanri"}, "set istio_jwt_issuer and istio_jwks_uri too"),
    ({"KANRI_ISTIO_ALLOWED_PRINCIPALS": CHECKOUT}, "set istio_jwt_issuer and istio_jwks_uri too"),
    ({"KANRI_ISTIO_JWT_ISSUER": ISSUER, "KANRI_ISTIO_JWKS_URI": JWKS, "KANRI_ISTIO_ALLOWED_PRINCIPALS": "checkout"},
     "'checkout' is not a service account as Istio names it, TRUST_DOMAIN/ns/NAMESPACE/sa/NAME"),
])
def test_an_incomplete_or_malformed_setting_is_a_clear_error(variables: dict[str, str], expected: str,
                                                             environment: pytest.MonkeyPatch) -> None:
    for name, value in variables.items():
        environment.setenv(name, value)
    with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        load()


# The objects.

def test_nothing_is_rendered_without_an_issuer_and_its_keys() -> None:
    for options in (ObjectOptions(), ObjectOptions(jwt_issuer=ISSUER), ObjectOptions(jwks_uri=JWKS)):
        assert [o["kind"] for o in route_objects(ROUTE, NAMESPACE, options)] == [
            "Service", "DestinationRule", "VirtualService"]


def test_the_three_objects_come_after_the_route_under_the_levels_name_and_validate() -> None:
    found = route_objects(ROUTE, NAMESPACE, GUARDED)
    assert [o["kind"] for o in found] == ["Service", "DestinationRule", "VirtualService", *mesh_security.KINDS]
    assert mesh_security.KINDS.index("AuthorizationPolicy") > mesh_security.KINDS.index("RequestAuthentication"), \
        "the policy asking for a verified token comes after what verifies it"
    for obj in found[3:]:
        assert obj["apiVersion"] == "security.istio.io/v1beta1"
        assert obj["metadata"] == found[0]["metadata"], "named and labelled as the level's route objects"
        assert problems(obj) == []


def _pod_labels(spec: ServiceSpec) -> dict[str, str]:
    return _objects(ObjectOptions(), spec)["Deployment"]["spec"]["template"]["metadata"]["labels"]


def test_they_select_every_pod_of_the_level_and_no_other() -> None:
    """Any service at the level (whatever its port), none of another level or application."""
    selectors = [o["spec"]["selector"]["matchLabels"] for o in route_objects(ROUTE, NAMESPACE, GUARDED)[3:]]
    level = [SPEC, dataclasses.replace(SPEC, name="canary", port=50052)]
    others = [dataclasses.replace(SPEC, level="staging"), dataclasses.replace(SPEC, app="iris")]
    for selector in selectors:
        assert [selector.items() <= _pod_labels(spec).items() for spec in level + others] == [True, True, False, False]


def test_the_token_is_checked_against_the_issuers_keys_and_passed_on() -> None:
    [rule] = _objects(GUARDED)["RequestAuthentication"]["spec"]["jwtRules"]
    assert rule == {"issuer": ISSUER, "jwksUri": JWKS, "audiences": ["kanri"], "forwardOriginalToken": True}
    [any_audience] = _objects(dataclasses.replace(GUARDED, jwt_audiences=()))["RequestAuthentication"]["spec"][
        "jwtRules"]
    assert "audiences" not in any_audience, "Istio then takes the token's audience as it comes"


@dataclasses.dataclass(frozen=True)
class Call:
    """A call as the level's sidecar sees it: the pod's port, the HTTP or gRPC path, the caller's verified token
    (its request principal, "" without one) and its mTLS identity ("" in plain text)."""

    port: int
    path: str
    method: str = "POST"
    token: str = ""
    peer: str = ""


def _matches(patterns: list[str], value: str) -> bool:
    """Istio's string match: exact, "*" for any non-empty value, or a prefix* or *suffix."""
    return bool(value) and any(p == value or p == "*" or (p.endswith("*") and value.startswith(p[:-1]))
                               or (p.startswith("*") and value.endswith(p[1:])) for p in patterns)


def _allowed(policy: dict, call: Call) -> bool:
    """An ALLOW policy: some rule whose `from` (any source) and `to` (any operation) both match, a missing one
    matching all; within a source or operation every field must (a field this model lacks fails, KeyError)."""
    assert policy["spec"]["action"] == "ALLOW"
    source = {"requestPrincipals": call.token, "principals": call.peer}
    operation = {"ports": str(call.port), "paths": call.path, "methods": call.method}

    def any_of(clauses: list[dict] | None, key: str, fields: dict[str, str]) -> bool:
        return clauses is None or any(all(_matches(p, fields[f]) for f, p in c[key].items()) for c in clauses)

    return any(any_of(rule.get("from"), "source", source) and any_of(rule.get("to"), "operation", operation)
               for rule in policy["spec"]["rules"])


def _ports(deployment: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]}


PREDICT = "/kanri.serving.PredictionService/Predict"
TOKEN = f"{ISSUER}/some-user"
OTHER_ACCOUNT = "cluster.local/ns/shop/sa/cart"


@pytest.mark.parametrize(("call", "allowed"), [
    (Call(50051, PREDICT, peer=OTHER_ACCOUNT), False),
    (Call(50051, PREDICT, token=TOKEN, peer=OTHER_ACCOUNT), True),
    (Call(50052, PREDICT, token=TOKEN), True),  # another service of the level, on its own gRPC port
    (Call(8080, "/v2/models/digits/infer"), False),
    (Call(8080, "/v2/models/digits/infer", token=TOKEN), True),
    (Call(8080, "/v2/models/digits", "GET"), False),  # metadata is the runtime's, and needs a token here
    (Call(50051, PREDICT, peer=CHECKOUT), True),  # a named service account, without a token
    (Call(8080, "/v2/health/ready", "GET"), True),
    (Call(8080, "/v2/health/live", "GET"), True),
    (Call(8080, "/v2/health/ready", "POST"), False),
    (Call(9102, "/metrics", "GET"), True),  # Prometheus: no token, no identity
], ids=repr)
def test_the_policy_lets_through_valid_tokens_named_accounts_metrics_and_health(call: Call, allowed: bool) -> None:
    assert _allowed(_objects(GUARDED)["AuthorizationPolicy"], call) is allowed


def test_without_named_accounts_a_service_account_alone_is_refused() -> None:
    policy = _objects(dataclasses.replace(GUARDED, allowed_principals=()))["AuthorizationPolicy"]
    assert not _allowed(policy, Call(50051, PREDICT, peer=CHECKOUT))
    assert _allowed(policy, Call(50051, PREDICT, token=TOKEN, peer=CHECKOUT))


def test_the_open_ports_are_the_pods_metrics_and_http_ports() -> None:
    """The exemptions name the ports the runtime container really has: Istio matches ports by number."""
    found = _objects(GUARDED)
    ports = _ports(found["Deployment"])
    policy = found["AuthorizationPolicy"]
    assert _allowed(policy, Call(ports["metrics"], "/metrics", "GET"))
    assert _allowed(policy, Call(ports["http"], "/v2/health/ready", "GET"))
    assert not _allowed(policy, Call(ports["grpc"], "/v2/health/ready", "GET")), "health is opened on HTTP only"
    assert list(found["PeerAuthentication"]["spec"]["portLevelMtls"]) == [str(ports["metrics"])]


def _takes_plain_text(peer_authentication: dict, port: int) -> bool:
    spec = peer_authentication["spec"]
    mode = spec.get("portLevelMtls", {}).get(str(port), spec["mtls"])["mode"]
    return mode in ("PERMISSIVE", "DISABLE")


def test_mutual_tls_is_required_except_on_the_metrics_port() -> None:
    found = _objects(GUARDED)
    ports, peer = _ports(found["Deployment"]), found["PeerAuthentication"]
    assert {name: _takes_plain_text(peer, port) for name, port in ports.items()} == {
        "grpc": False, "http": False, "metrics": True}


def test_a_cluster_without_istios_security_api_is_named_in_the_error() -> None:
    networking_only = Capabilities(served=frozenset({"v1", "apps/v1", "networking.istio.io/v1beta1"}))
    with pytest.raises(ClusterError, match=r"write AuthorizationPolicies in: it needs security.istio.io/v1beta1 "
                                           r"\(Istio 1.5 and later\); install Istio .* or unset istio_jwt_issuer"):
        networking_only.require(istio_security_kind("AuthorizationPolicy"), "east")


# The backend, on the fake API server.

def _held(clusters: FakeClusters, app: str) -> dict[str, dict]:
    """The mesh security objects a fake holds for `app`, by kind."""
    plurals = {"RequestAuthentication": "requestauthentications", "PeerAuthentication": "peerauthentications",
               "AuthorizationPolicy": "authorizationpolicies"}
    return {kind: o for kind, plural in plurals.items() for o in clusters.objects(plural, SECURITY)
            if o["metadata"]["labels"]["kanri.io/app"] == app}


def test_the_backend_applies_them_with_the_route_and_removes_them(tmp_path: Path) -> None:
    with fake_clusters(tmp_path) as clusters:
        guarded, open_ = clusters.backend(options=GUARDED), clusters.backend()
        guarded.apply(SPEC)
        guarded.set_route(ROUTE)
        held = _held(clusters, "digits")
        rendered = _objects(GUARDED)
        assert sorted(held) == sorted(mesh_security.KINDS)
        for kind, obj in held.items():
            assert obj["spec"] == rendered[kind]["spec"], "exactly what kanri render prints"
            assert obj["metadata"]["name"] == "digits-production"
        assert guarded.actual_state().access_drift == []

        open_.set_route(ROUTE)  # an operator whose configuration names no issuer: the level stays guarded
        assert sorted(_held(clusters, "digits")) == sorted(mesh_security.KINDS)
        assert open_.actual_state().access_drift == []

        guarded.set_route(ROUTE)
        guarded.delete("digits", "main")  # the level's last service: the route goes, and its guards with it
        assert _held(clusters, "digits") == {}


@pytest.fixture
def kanri(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, echo_models: dict) -> Iterator[tuple]:
    """The CLI on a fake cluster configured with an issuer, an application "echo" served at production, and the
    official client on the fake for edits behind kanri's back."""
    with fake_clusters(tmp_path) as clusters:
        run = kanri_in(monkeypatch, {"KANRI_HOME": str(tmp_path / "home"), "KANRI_CLUSTER": "kubernetes",
                                     "KUBECONFIG": str(clusters.kubeconfig),
                                     "XDG_CONFIG_HOME": str(tmp_path / "config"),
                                     "KANRI_ISTIO_JWT_ISSUER": ISSUER, "KANRI_ISTIO_JWKS_URI": JWKS},
                       unset=("KANRI_CONFIG", "KANRI_KUBERNETES_CONTEXTS", "KANRI_ISTIO_GATEWAY", "KANRI_INGRESS_HOST",
                              "KANRI_ISTIO_JWT_AUDIENCES", "KANRI_ISTIO_ALLOWED_PRINCIPALS"))

        run("app", "create", "echo", "--predictor", "tests.support.predictors:Echo")
        run("model", "upload", "echo", str(echo_models["v1"]))
        run("service", "create", "echo", "main", "--level", "production", "--model", "1", "--timeout", "60")
        configuration = client.Configuration()
        configuration.host = next(iter(clusters.fakes.values())).url
        yield run, clusters, client.CustomObjectsApi(client.ApiClient(configuration))


def _drift(run: Callable[..., str]) -> list[dict]:
    return json.loads(run("sync", "--json"))["drift"]


def test_sync_notices_a_guard_missing_edited_or_left_over_and_fixes_it(kanri: tuple,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    run, clusters, custom = kanri
    assert sorted(_held(clusters, "echo")) == sorted(mesh_security.KINDS) and _drift(run) == []
    rendered = yaml.safe_load_all(run("render", "echo", "main"))
    assert {o["kind"] for o in rendered} >= set(mesh_security.KINDS)

    custom.delete_namespaced_custom_object(SECURITY, "v1beta1", NAMESPACE, "authorizationpolicies", "echo-production")
    custom.patch_namespaced_custom_object(SECURITY, "v1beta1", NAMESPACE, "peerauthentications", "echo-production",
                                          {"spec": {"mtls": {"mode": "PERMISSIVE"}}})
    [drift] = _drift(run)
    assert drift == {"target": "echo/production", "field": "access", "desired": sorted(mesh_security.KINDS),
                     "actual": ["PeerAuthentication (edited)", "RequestAuthentication"], "cluster": "kind-kanri"}
    run("sync", "--fix")
    assert _drift(run) == []
    assert _held(clusters, "echo")["PeerAuthentication"]["spec"]["mtls"] == {"mode": "STRICT"}

    monkeypatch.delenv("KANRI_ISTIO_JWT_ISSUER")  # an operator without the settings: nothing to fix, nothing opened
    monkeypatch.delenv("KANRI_ISTIO_JWKS_URI")
    assert _drift(run) == []
    run("sync", "--fix")
    run("weights", "echo", "production", "main=100")
    assert sorted(_held(clusters, "echo")) == sorted(mesh_security.KINDS)


# The real API server (v1.20.2) with Istio's CRDs from manifests/schemas.

def _dry_run(real: RealKubernetes, namespace: str, objects: list[dict]) -> subprocess.CompletedProcess:
    return subprocess.run([debian_binary("kubectl", "kubernetes-client"), "apply", "--dry-run=server", "-f", "-",
                           "--kubeconfig", str(real.kubeconfig), "--context", real.context, "-n", namespace],
                          input=yaml.safe_dump_all(objects), capture_output=True, text=True, timeout=120)


def test_the_real_api_server_takes_them_and_refuses_a_wrong_mode(real_kubernetes: RealKubernetes) -> None:
    namespace = real_kubernetes.namespace("mesh-security-dry-run")
    found = [o for level in ("development", "staging", "production")
             for o in route_objects(RouteSpec("digits", level, {"main": 100}), namespace, GUARDED)[3:]]
    taken = _dry_run(real_kubernetes, namespace, found)
    assert taken.returncode == 0, taken.stderr
    assert taken.stdout.count("(server dry run)") == 9, taken.stdout
    wrong = json.loads(json.dumps(found[1]))
    wrong["spec"]["mtls"]["mode"] = "STRICTLY"
    refused = _dry_run(real_kubernetes, namespace, [wrong])
    assert refused.returncode != 0 and 'spec.mtls.mode: Unsupported value: "STRICTLY"' in refused.stderr, \
        refused.stderr


def test_the_backend_writes_them_on_the_real_api_server_as_rendered(real_kubernetes: RealKubernetes) -> None:
    """The server keeps every field (a structural schema would prune one it lacks, read back as edited)."""
    backend = real_backend(real_kubernetes, "mesh-security", jwt_issuer=ISSUER, jwks_uri=JWKS,
                           jwt_audiences=("kanri",), allowed_principals=(CHECKOUT,))
    spec = dataclasses.replace(SPEC, app="echo")
    backend.apply(spec)
    backend.set_route(RouteSpec("echo", "production", {"main": 100}))
    with real_kubernetes.api_client() as api:
        custom = client.CustomObjectsApi(api)
        policy = custom.get_namespaced_custom_object(SECURITY, "v1beta1", backend.namespace, "authorizationpolicies",
                                                     "echo-production")
        assert policy["spec"]["rules"][0]["from"][1] == {"source": {"principals": [CHECKOUT]}}
        assert backend.actual_state().access_drift == []
        backend.delete("echo", "main")
        assert custom.list_namespaced_custom_object(SECURITY, "v1beta1", backend.namespace,
                                                    "authorizationpolicies")["items"] == []
