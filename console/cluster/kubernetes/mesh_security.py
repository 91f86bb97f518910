"""Who may call an application at a service level inside the mesh: Istio's RequestAuthentication,
PeerAuthentication and AuthorizationPolicy for the level's pods, rendered when kanri's configuration names a
JWT issuer and the URL of its public keys (JWKS).

The level's sidecars then refuse a prediction whose token is invalid (401) and, through the ALLOW policy, one
without a token (403) unless it comes from a named service account, while Prometheus and health checks get
through. This is in front of the runtime's own check (serving/auth.py), which may be used as well: the token
is passed on to it.
"""

from __future__ import annotations

from . import labels
from .objects import HTTP_PORT, METRICS_PORT, ObjectOptions
from .versions import ISTIO_SECURITY_API_VERSION

KINDS = ("RequestAuthentication", "PeerAuthentication", "AuthorizationPolicy")
"""In the order they are applied: the policy that asks for a verified token after the check that verifies it,
so that no valid call is refused while they come (they go in the reverse order)."""
HEALTH_PATHS = ("/v2/health/*",)  # the Open Inference Protocol's live and ready, over HTTP


def configured(options: ObjectOptions) -> bool:
    return bool(options.jwt_issuer and options.jwks_uri)


def _object(kind: str, app: str, level: str, namespace: str, spec: dict) -> dict:
    """Every one selects the level's pods: all its services, as the level's Service does."""
    return {"apiVersion": ISTIO_SECURITY_API_VERSION, "kind": kind,
            "metadata": labels.level_metadata(app, level, namespace),
            "spec": {"selector": {"matchLabels": labels.level_pods(app, level)}, **spec}}


def request_authentication(app: str, level: str, namespace: str, options: ObjectOptions) -> dict:
    """The issuer's tokens, verified by the sidecar against its JWKS: a call with an invalid or expired one is
    refused (401); one without a token passes on without an identity, for the AuthorizationPolicy to refuse.
    forwardOriginalToken keeps the Authorization header (Istio drops it by default), so that the runtime's own
    JWT check can verify the same token again."""
    rule: dict[str, object] = {"issuer": options.jwt_issuer, "jwksUri": options.jwks_uri}
    rule |= {"audiences": list(options.jwt_audiences)} if options.jwt_audiences else {}
    return _object("RequestAuthentication", app, level, namespace,
                   {"jwtRules": [rule | {"forwardOriginalToken": True}]})


def peer_authentication(app: str, level: str, namespace: str) -> dict:
    """STRICT: the pods take mutual TLS only, so nothing reaches the runtime around the sidecar's checks and a
    caller's service account (the policy's principals) is proven by its certificate. PERMISSIVE on the metrics
    port: Prometheus usually runs outside the mesh and scrapes in plain text. Istio names that port by the
    pod's number, and only under a workload selector."""
    return _object("PeerAuthentication", app, level, namespace,
                   {"mtls": {"mode": "STRICT"}, "portLevelMtls": {str(METRICS_PORT): {"mode": "PERMISSIVE"}}})


def authorization_policy(app: str, level: str, namespace: str, options: ObjectOptions) -> dict:
    """ALLOW: once such a policy selects a pod, Istio lets through only the calls one of its rules matches.

    The first rule is the callers': a token the RequestAuthentication verified (any request principal), or one
    of the named service accounts. It names no port: the pods' ports are gRPC and HTTP predictions and metrics,
    which is open anyway, while the gRPC port is each service's own (ServiceSpec.port) and Istio matches ports
    by number only. The second rule is open to anyone: the metrics port, which Prometheus scrapes without a
    token or (from outside the mesh) an identity; and the HTTP health paths, which tell nothing worth guarding,
    so that readiness checks from inside the mesh need no token, as the runtime's own check leaves them open.
    The kubelet's probes need no rule: the sidecar rewrites them to its agent, which calls the runtime over
    localhost, past this policy.
    """
    callers = [{"source": {"requestPrincipals": ["*"]}}]
    callers += [{"source": {"principals": list(options.allowed_principals)}}] if options.allowed_principals else []
    anyone = [{"operation": {"ports": [str(METRICS_PORT)]}},
              {"operation": {"ports": [str(HTTP_PORT)], "methods": ["GET"], "paths": list(HEALTH_PATHS)}}]
    return _object("AuthorizationPolicy", app, level, namespace,
                   {"action": "ALLOW", "rules": [{"from": callers}, {"to": anyone}]})


def level_objects(app: str, level: str, namespace: str, options: ObjectOptions) -> list[dict]:
    """The level's objects in KINDS' order; none unless the configuration names an issuer and its JWKS."""
    if not configured(options):
        return []
    return [request_authentication(app, level, namespace, options), peer_authentication(app, level, namespace),
            authorization_policy(app, level, namespace, options)]
