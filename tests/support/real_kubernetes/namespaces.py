"""A namespace kanri can deploy into on the real server, as manifests/base would leave it."""

from __future__ import annotations

from collections.abc import Callable

from kubernetes import client

from kanri.console.cluster.kubernetes.pod import RUNTIME_ACCOUNT
from tests.support.prometheus import wait_until


def prepare_namespace(api: client.ApiClient, name: str, timeout: float = 60) -> str:
    """The namespace with ServiceAccount kanri-runtime (ServiceAccount admission refuses pods that name a missing
    account), once the token controller has given its accounts their token secrets (on 1.20 admission also
    refuses pods that mount a token before that)."""
    core = client.CoreV1Api(api)
    ensure_namespace(api, name)
    _create(core.create_namespaced_service_account, name, {"metadata": {"name": RUNTIME_ACCOUNT}})
    for account in ("default", RUNTIME_ACCOUNT):
        wait_until(lambda account=account: _has_token(core, name, account), timeout,
                   f"ServiceAccount {name}/{account} has its token secret")
    return name


def ensure_namespace(api: client.ApiClient, name: str) -> None:
    """The namespace, empty when new."""
    _create(client.CoreV1Api(api).create_namespace, {"metadata": {"name": name}})


def _create(method: Callable[..., object], *args: object) -> None:
    try:
        method(*args)
    except client.ApiException as exc:
        if exc.status != 409:  # it exists: a namespace asked for twice
            raise


def _has_token(core: client.CoreV1Api, namespace: str, account: str) -> bool:
    try:
        return bool(core.read_namespaced_service_account(account, namespace).secrets)
    except client.ApiException as exc:
        if exc.status == 404:  # the controller has not made `default` yet
            return False
        raise
