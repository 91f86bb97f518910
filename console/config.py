"""kanri's configuration: one TOML file, overridden by KANRI_* environment variables.

The file is the one named by --config, else $KANRI_CONFIG, else
$XDG_CONFIG_HOME/kanri/kanri.toml (absent is fine: every setting has an
embedded default). Precedence: environment over file over default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from kanri.console.errors import Invalid
from kanri.serving.config import data_dir

CLUSTERS = ("local", "kubernetes")


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
        shown["kubernetes_contexts"] = list(self.kubernetes_contexts)
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
    contexts = values.get("kubernetes_contexts") or ()
    if isinstance(contexts, str):
        contexts = [name.strip() for name in contexts.split(",") if name.strip()]
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
        kubernetes_contexts=tuple(contexts),
        kubernetes_namespace=values.get("kubernetes_namespace", "kanri"),
        kubeconfig=values.get("kubeconfig", ""),
        image=values.get("image", ""),
        fetch_image=values.get("fetch_image", ""),
        istio_gateway=values.get("istio_gateway", ""),
        ingress_host=values.get("ingress_host", ""),
        telemetry_timeout=timeout,
        progress_deadline_seconds=int(deadline),
        source=source,
    )


def mask_password(url: str) -> str:
    """scheme://user:***@host/…: a URL safe to print."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
