"""Telemetry for the console: live figures through a MetricsSource, log lines through a LogSource.

Embedded: ScrapeMetrics and LocalFileLogs. Cluster: PrometheusMetrics, and
ElasticsearchLogs or, without Elasticsearch, KubernetesPodLogs.
"""

from console.telemetry.elasticsearch import ElasticsearchLogs
from console.telemetry.local_files import LocalFileLogs
from console.telemetry.pod_logs import KubernetesPodLogs, PodLabels
from console.telemetry.prometheus import PrometheusMetrics
from console.telemetry.promql import SERVER_FAULT_CODES, Labels
from console.telemetry.scrape import ScrapeMetrics
from console.telemetry.sources import LogSource, MetricsSource, follow
from console.telemetry.types import (
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
