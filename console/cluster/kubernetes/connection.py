"""One API server per cluster: clients built from a kubeconfig context or in-cluster config, and every
call bounded by a timeout and turned into a one-line ClusterError when it fails."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass

import urllib3
from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from ..base import ClusterError

# (connect, read) seconds: an unreachable API server fails an operation instead of hanging it.
DEFAULT_TIMEOUT = (3.0, 15.0)


@dataclass
class Cluster:
    """An API server and the name it is reported under (its kubeconfig context)."""

    name: str
    api: client.ApiClient
    timeout: tuple[float, float] = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        self.apps = client.AppsV1Api(self.api)
        self.core = client.CoreV1Api(self.api)
        self.autoscaling = client.AutoscalingV2Api(self.api)
        self.policy = client.PolicyV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def call(self, action: str, method: Callable[..., object], *args: object,
             tolerate: tuple[int, ...] = (), **kwargs: object) -> dict | None:
        """The answer as the API server's JSON; None when its HTTP status is in `tolerate` (404, 409)."""
        try:
            response = method(*args, **kwargs, _preload_content=False, _request_timeout=self.timeout)
        except client.ApiException as exc:
            if exc.status in tolerate:
                return None
            raise ClusterError(self._refused(action, exc)) from None
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterError(f"cluster {self.name}: cannot {action}: the Kubernetes API at "
                               f"{self.api.configuration.host} did not answer ({_cause(exc)}); check that the "
                               "context points at a running API server you can reach") from None
        return json.loads(response.data)

    def _refused(self, action: str, exc: client.ApiException) -> str:
        try:
            reason = json.loads(exc.body)["message"]
        except (TypeError, ValueError, KeyError):
            reason = f"{exc.status} {exc.reason}".strip()
        hint = {401: f"the credentials of context {self.name} were refused; log in again",
                403: "kanri's account lacks the permission (RBAC) for this in the namespace",
                404: "create the namespace, and install Istio for routes, on this cluster",
                409: "someone changed it at the same time; try again",
                422: "the object is invalid for this cluster; check its version and admission policies"}.get(
            exc.status, "fix what the API server names and try again")
        return f"cluster {self.name}: cannot {action}: {reason}; {hint}"


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
