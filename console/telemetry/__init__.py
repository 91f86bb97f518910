"""Telemetry for the console: live figures through a MetricsSource, log lines through a LogSource.

Embedded: ScrapeMetrics and LocalFileLogs. Cluster: PrometheusMetrics, and
ElasticsearchLogs or, without Elasticsearch, KubernetesPodLogs.

The adapters load on first use: their clients take time to import (about
0.4 s each for elasticsearch and kubernetes, 0.1 s for prometheus-api-client,
`python -c "import kanri.console.telemetry.pod_logs"` on the 2-core dev machine), and
the console and the CLI should not pay for the ones this configuration does not use.
"""

from importlib import import_module
from typing import Any

from kanri.console.telemetry.sources import LogSource, MetricsSource, follow
from kanri.console.telemetry.types import (
    FIGURE_NAMES,
    Figures,
    LogLine,
    LogPage,
    LogQuery,
    MetricsHistory,
    MetricsSnapshot,
    PodFigures,
    Series,
    ServiceFigures,
    TelemetryUnavailable,
    levels_at_least,
)

_ADAPTERS = {
    "ElasticsearchLogs": "elasticsearch", "LocalFileLogs": "local_files", "KubernetesPodLogs": "pod_logs",
    "PodLabels": "pod_logs", "PrometheusMetrics": "prometheus", "SERVER_FAULT_CODES": "promql", "Labels": "promql",
    "ScrapeMetrics": "scrape",
}


def __getattr__(name: str) -> Any:
    if name in _ADAPTERS:
        return getattr(import_module(f"kanri.console.telemetry.{_ADAPTERS[name]}"), name)
    raise AttributeError(f"module 'kanri.console.telemetry' has no attribute {name!r}")


__all__ = [
    "FIGURE_NAMES",
    "SERVER_FAULT_CODES",
    "ElasticsearchLogs",
    "Figures",
    "KubernetesPodLogs",
    "Labels",
    "LocalFileLogs",
    "LogLine",
    "LogPage",
    "LogQuery",
    "LogSource",
    "MetricsHistory",
    "MetricsSnapshot",
    "MetricsSource",
    "PodFigures",
    "PodLabels",
    "PrometheusMetrics",
    "ScrapeMetrics",
    "Series",
    "ServiceFigures",
    "TelemetryUnavailable",
    "follow",
    "levels_at_least",
]
