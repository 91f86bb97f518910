"""kanri's configuration: one TOML file, overridden by KANRI_* environment variables.

The file is the one named by --config, else $KANRI_CONFIG, else
$XDG_CONFIG_HOME/kanri/kanri.toml (absent is fine: every setting has an
embedded default). Precedence: environment over file over default.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kanri.console.errors import Invalid
from kanri.serving.config import data_dir

CLUSTERS = ("local", "kubernetes")
SERVICE_ACCOUNT = re.compile(r"^[^/\s]+/ns/[^/\s]+/sa/[^/\s]+$")  # Istio's principal: a SPIFFE ID less spiffe://


class ConfigError(Invalid):
    """The configuration file or an override is unusable."""


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    model_store: str
    cluster: str = "local"
    prometheus_url: str = ""
    elasticsearch_url: str = ""
    elasticsearch_index: str = "kanri-logs-*"
    kubernetes_contexts: tuple[str, ...] = ()
    kubernetes_namespace: str = "kanri"
    kubeconfig: str = ""
    image: str = ""
    fetch_image: str = ""
    istio_gateway: str = ""
    ingress_host: str = ""
    istio_jwt_issuer: str = ""  # with istio_jwks_uri: the mesh checks every prediction's token (mesh_security.py)
    istio_jwks_uri: str = ""
    istio_jwt_audiences: tuple[str, ...] = ()
    istio_allowed_principals: tuple[str, ...] = ()
    telemetry_timeout: float = 2.0
    progress_deadline_seconds: int = 600  # a Kubernetes rollout without progress this long is stuck
    source: str = ""

    @property
    def embedded_database(self) -> bool:
        """SQLite is kanri's own file, so kanri may upgrade its schema unasked."""
        return self.database_url.startswith("sqlite")

    def shown(self) -> dict[str, Any]:
        """Every setting as printed by `kanri config show`, with passwords masked."""
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("database_url", "model_store", "prometheus_url", "elasticsearch_url"):
            shown[key] = mask_password(shown[key])
        shown["home"] = str(self.home)
        for key in ("kubernetes_contexts", "istio_jwt_audiences", "istio_allowed_principals"):
            shown[key] = list(shown[key])
        return shown


# setting name -> environment variable; each can also be a key of the TOML file's top level.
ENVIRONMENT = {
    "home": "KANRI_HOME",
    "database_url": "KANRI_DATABASE_URL",
    "model_store": "KANRI_MODEL_STORE",
    "cluster": "KANRI_CLUSTER",
    "prometheus_url": "KANRI_PROMETHEUS_URL",
    "elasticsearch_url": "KANRI_ELASTICSEARCH_URL",
    "elasticsearch_index": "KANRI_ELASTICSEARCH_INDEX",
    "kubernetes_contexts": "KANRI_KUBERNETES_CONTEXTS",
    "kubernetes_namespace": "KANRI_KUBERNETES_NAMESPACE",
    "kubeconfig": "KUBECONFIG",
    "image": "KANRI_IMAGE",
    "fetch_image": "KANRI_FETCH_IMAGE",
    "istio_gateway": "KANRI_ISTIO_GATEWAY",
    "ingress_host": "KANRI_INGRESS_HOST",
    "istio_jwt_issuer": "KANRI_ISTIO_JWT_ISSUER",
    "istio_jwks_uri": "KANRI_ISTIO_JWKS_URI",
    "istio_jwt_audiences": "KANRI_ISTIO_JWT_AUDIENCES",
    "istio_allowed_principals": "KANRI_ISTIO_ALLOWED_PRINCIPALS",
    "telemetry_timeout": "KANRI_TELEMETRY_TIMEOUT",
    "progress_deadline_seconds": "KANRI_PROGRESS_DEADLINE_SECONDS",
}


def config_path(explicit: str | Path | None = None) -> Path:
    if explicit:
        return Path(explicit)
    if named := os.environ.get("KANRI_CONFIG"):
        return Path(named)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "kanri" / "kanri.toml"


def load(explicit: str | Path | None = None) -> Settings:
    path = config_path(explicit)
    values: dict[str, Any] = {}
    if path.exists():
        try:
            values = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the configuration file {path}: {exc}") from exc
        unknown = set(values) - set(ENVIRONMENT)
        if unknown:
            raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(ENVIRONMENT)}")
    elif explicit or os.environ.get("KANRI_CONFIG"):
        raise ConfigError(f"the configuration file {path} does not exist")
    for key, variable in ENVIRONMENT.items():
        if variable in os.environ:
            values[key] = os.environ[variable]
    return _settings(values, str(path) if path.exists() else "")


def _settings(values: dict[str, Any], source: str) -> Settings:
    home = Path(values.get("home") or data_dir()).expanduser()
    contexts = _names(values.get("kubernetes_contexts"))
    issuer, keys, audiences, principals = _mesh_auth(values)
    cluster = values.get("cluster", "local")
    if cluster not in CLUSTERS:
        raise ConfigError(f"cluster must be one of {', '.join(CLUSTERS)}, got {cluster!r} (KANRI_CLUSTER)")
    try:
        timeout = float(values.get("telemetry_timeout", 2.0))
    except ValueError as exc:
        raise ConfigError(f"telemetry_timeout must be a number of seconds: {exc}") from exc
    deadline = str(values.get("progress_deadline_seconds", 600))
    if not deadline.isdigit() or int(deadline) < 1:
        raise ConfigError(f"progress_deadline_seconds must be a whole number of seconds, at least 1, got {deadline!r} "
                          "(KANRI_PROGRESS_DEADLINE_SECONDS)")
    return Settings(
        home=home,
        database_url=values.get("database_url") or f"sqlite:///{home / 'registry.db'}",
        model_store=values.get("model_store") or str(home / "models"),
        cluster=cluster,
        prometheus_url=values.get("prometheus_url", ""),
        elasticsearch_url=values.get("elasticsearch_url", ""),
        elasticsearch_index=values.get("elasticsearch_index", "kanri-logs-*"),
        kubernetes_contexts=contexts,
        kubernetes_namespace=values.get("kubernetes_namespace", "kanri"),
        kubeconfig=values.get("kubeconfig", ""),
        image=values.get("image", ""),
        fetch_image=values.get("fetch_image", ""),
        istio_gateway=values.get("istio_gateway", ""),
        ingress_host=values.get("ingress_host", ""),
        istio_jwt_issuer=issuer,
        istio_jwks_uri=keys,
        istio_jwt_audiences=audiences,
        istio_allowed_principals=principals,
        telemetry_timeout=timeout,
        progress_deadline_seconds=int(deadline),
        source=source,
    )


def _names(value: Any) -> tuple[str, ...]:
    """A list in the file; comma-separated in the environment."""
    if isinstance(value, str):
        return tuple(name.strip() for name in value.split(",") if name.strip())
    return tuple(value or ())


def _mesh_auth(values: dict[str, Any]) -> tuple[str, str, tuple[str, ...], tuple[str, ...]]:
    """The mesh's check of prediction callers (issuer, JWKS URL, audiences, service accounts): an issuer and its
    keys together, the others only with them."""
    issuer, keys = values.get("istio_jwt_issuer", ""), values.get("istio_jwks_uri", "")
    audiences, principals = _names(values.get("istio_jwt_audiences")), _names(values.get("istio_allowed_principals"))
    if bool(issuer) != bool(keys):
        raise ConfigError("istio_jwt_issuer and istio_jwks_uri go together (the mesh checks that issuer's tokens "
                          "against those keys): set both (KANRI_ISTIO_JWT_ISSUER, KANRI_ISTIO_JWKS_URI) or neither")
    if (audiences or principals) and not issuer:
        raise ConfigError("istio_jwt_audiences and istio_allowed_principals qualify the mesh's token check: set "
                          "istio_jwt_issuer and istio_jwks_uri too (KANRI_ISTIO_JWT_ISSUER, KANRI_ISTIO_JWKS_URI)")
    if keys and not _web_url(keys):
        raise ConfigError(f"istio_jwks_uri must be the http(s) URL of the issuer's public keys (a JWKS), got {keys!r} "
                          "(KANRI_ISTIO_JWKS_URI)")
    for principal in principals:
        if not SERVICE_ACCOUNT.match(principal):
            raise ConfigError(f"istio_allowed_principals: {principal!r} is not a service account as Istio names it, "
                              "TRUST_DOMAIN/ns/NAMESPACE/sa/NAME such as cluster.local/ns/shop/sa/checkout "
                              "(KANRI_ISTIO_ALLOWED_PRINCIPALS, comma-separated)")
    return issuer, keys, audiences, principals


def _web_url(text: str) -> bool:
    try:
        parts = urlsplit(text)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # a malformed host, such as an unclosed IPv6 bracket
        return False


def mask_password(url: str) -> str:
    """scheme://user:***@host/…: a URL safe to print."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
