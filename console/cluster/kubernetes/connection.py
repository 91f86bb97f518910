"""One API server per cluster: clients built from a kubeconfig context or in-cluster config, and every
call bounded by a timeout and turned into a one-line ClusterError when it fails."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import urllib3
from kubernetes import client, config
from kubernetes.client.rest import RESTResponse
from kubernetes.config.config_exception import ConfigException

from ..base import ClusterError
from .versions import OLDEST_SUPPORTED, Capabilities, served_group_versions, server_version

# (connect, read) seconds: an unreachable API server fails an operation instead of hanging it.
DEFAULT_TIMEOUT = (3.0, 15.0)


@dataclass
class Cluster:
    """An API server and the name it is reported under (its kubeconfig context)."""

    name: str
    api: client.ApiClient
    timeout: tuple[float, float] = DEFAULT_TIMEOUT

    def request(self, action: str, method: str, path: str, query: dict[str, str] | None = None,
                body: dict | None = None, content_type: str = "application/json",
                tolerate: tuple[int, ...] = ()) -> dict | None:
        """The answer as the API server's JSON; None when its HTTP status is in `tolerate` (404, 409)."""
        response = self._send(action, method, path, query, body, content_type, self.timeout)
        data = response.read()
        if 200 <= response.status <= 299:
            return json.loads(data)
        if response.status in tolerate:
            return None
        raise ClusterError(self._refused(action, response.status, response.reason, data))

    def stream(self, action: str, path: str, query: dict[str, str], seconds: float) -> Iterator[dict]:
        """A watch: one event per line until the server ends it (after about `seconds`) or the caller stops."""
        response = self._send(action, "GET", path, query | {"watch": "true", "timeoutSeconds": str(int(seconds))},
                              None, "application/json", (self.timeout[0], seconds + self.timeout[1]))
        if not 200 <= response.status <= 299:
            raise ClusterError(self._refused(action, response.status, response.reason, response.read()))
        raw = response.response
        try:
            pending = b""
            for chunk in raw.stream(64 * 1024, decode_content=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                yield from (json.loads(line) for line in lines if line.strip())
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(self._unanswered(action, exc)) from None
        finally:
            raw.release_conn()

    @functools.cached_property
    def capabilities(self) -> Capabilities:
        """Discovered on first use, once per connection: the server's version and the APIs it serves."""
        version = server_version(self.request("read the server version", "GET", "/version") or {})
        if version < OLDEST_SUPPORTED:
            raise ClusterError(f"cluster {self.name} runs Kubernetes {version[0]}.{version[1]}; kanri needs "
                               f"{OLDEST_SUPPORTED[0]}.{OLDEST_SUPPORTED[1]} or later")
        core = self.request("list the served APIs", "GET", "/api") or {}
        groups = self.request("list the served API groups", "GET", "/apis") or {}
        return Capabilities(version, frozenset(served_group_versions(core, groups)))

    def _send(self, action: str, method: str, path: str, query: dict[str, str] | None, body: dict | None,
              content_type: str, timeout: tuple[float, float]) -> RESTResponse:
        headers = {"Accept": "application/json", "Content-Type": content_type}
        try:
            _, url, headers, payload, _ = self.api.param_serialize(
                method, path, query_params=list((query or {}).items()), header_params=headers, body=body,
                auth_settings=["BearerToken"])
            return self.api.call_api(method, url, headers, payload, None, _request_timeout=timeout)
        except client.ApiException as exc:  # TLS failures arrive as status 0
            raise ClusterError(f"cluster {self.name}: cannot {action}: {exc.reason}") from None
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(self._unanswered(action, exc)) from None

    def _unanswered(self, action: str, exc: urllib3.exceptions.HTTPError) -> str:
        return (f"cluster {self.name}: cannot {action}: the Kubernetes API at {self.api.configuration.host} did not "
                f"answer ({_cause(exc)}); check that the context points at a running API server you can reach")

    def _refused(self, action: str, status: int, reason: str | None, body: bytes | None) -> str:
        try:
            message = json.loads(body or b"")["message"]
        except (TypeError, ValueError, KeyError):
            message = f"{status} {reason or ''}".strip()
        hint = {401: f"the credentials of context {self.name} were refused; log in again",
                403: "kanri's account lacks the permission (RBAC) for this in the namespace",
                404: "create the namespace on this cluster",
                409: "someone changed it at the same time; try again",
                415: "this server does not take that kind of change",
                422: "the object is invalid for this cluster; check its version and admission policies"}.get(
            status, "fix what the API server names and try again")
        return f"cluster {self.name}: cannot {action}: {message}; {hint}"


def _cause(exc: urllib3.exceptions.HTTPError) -> str:
    """"[Errno 111] Connection refused", "Read timed out. (read timeout=15.0)": the end of urllib3's message."""
    return str(getattr(exc, "reason", None) or exc).split(": ")[-1]


def _configuration() -> client.Configuration:
    configuration = client.Configuration()
    # No retries: an operation fails once, within its timeout, with one message (urllib3 would log every retry
    # on stderr). Pooled connections that the server closed are noticed before reuse, so they need none.
    configuration.retries = False
    return configuration


def connect(contexts: list[str] | None, kubeconfig: str | None,
            timeout: tuple[float, float] = DEFAULT_TIMEOUT) -> list[Cluster]:
    """A Cluster per named context; with none, the in-cluster service account, else the current context."""
    try:
        if not contexts and "KUBERNETES_SERVICE_HOST" in os.environ:
            configuration = _configuration()
            config.load_incluster_config(client_configuration=configuration)
            return [Cluster("in-cluster", client.ApiClient(configuration), timeout)]
        if not contexts:
            contexts = [config.list_kube_config_contexts(config_file=kubeconfig)[1]["name"]]
        clusters = []
        for context in contexts:
            configuration = _configuration()
            config.load_kube_config(config_file=kubeconfig, context=context, client_configuration=configuration,
                                    persist_config=False)
            clusters.append(Cluster(context, client.ApiClient(configuration), timeout))
        return clusters
    except ConfigException as exc:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ClusterError(f"cannot use the Kubernetes configuration {where}: {exc}; name contexts that "
                           "`kubectl config get-contexts` lists") from None
