"""Firing SLO alerts, from the Prometheus or the Alertmanager API, for the console's alerts panel.

Like the telemetry sources, it answers within its timeout and never raises:
a server that is down or answers nonsense gives TelemetryUnavailable.
"""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kanri.console.slo.rules import PAGE
from kanri.console.telemetry.bounded import BoundedCalls
from kanri.console.telemetry.loglines import parse_timestamp
from kanri.console.telemetry.promql import Labels
from kanri.console.telemetry.types import TelemetryUnavailable

Api = Literal["prometheus", "alertmanager"]


@dataclass(frozen=True)
class FiringAlert:
    name: str
    severity: str  # "page" or "ticket" for kanri's SLO alerts
    app: str
    service: str
    slo: str  # "availability" or "latency"; "" for alerts not made by kanri
    summary: str
    description: str
    since: datetime | None


class AlertSource:
    """`api` says which server `url` is: Prometheus (/api/v1/alerts) or Alertmanager (/api/v2/alerts)."""

    def __init__(self, url: str, api: Api = "prometheus", *, labels: Labels | None = None,
                 timeout: float = 2.0) -> None:
        self.url = url.rstrip("/")
        self.api = api
        self.labels = labels or Labels()
        self.timeout = timeout
        self._calls = BoundedCalls(f"{api.capitalize()} at {url}", timeout, workers=2)

    def firing(self, app: str | None = None) -> list[FiringAlert] | TelemetryUnavailable:
        """Alerts firing now (of `app`, or all), pages first, then by application and service."""
        answer = self._calls.run(self._fetch)
        if isinstance(answer, TelemetryUnavailable):
            return answer
        alerts = [a for a in answer if app is None or a.app == app]
        return sorted(alerts, key=lambda a: (a.severity != PAGE, a.app, a.service, a.name))

    def close(self) -> None:
        self._calls.close()

    def _fetch(self) -> list[FiringAlert]:
        if self.api == "prometheus":
            body = self._get("/api/v1/alerts")
            return [self._alert(a, a.get("activeAt")) for a in body["data"]["alerts"] if a["state"] == "firing"]
        query = urllib.parse.urlencode({"active": "true", "silenced": "false", "inhibited": "false"})
        return [self._alert(a, a.get("startsAt")) for a in self._get(f"/api/v2/alerts?{query}")]

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.url}{path}", timeout=self.timeout) as response:
            return json.load(response)

    def _alert(self, raw: dict[str, Any], since: str | None) -> FiringAlert:
        labels, annotations = raw["labels"], raw.get("annotations", {})
        return FiringAlert(labels.get("alertname", ""), labels.get("severity", ""), labels.get(self.labels.app, ""),
                           labels.get(self.labels.service, ""), labels.get("slo", ""), annotations.get("summary", ""),
                           annotations.get("description", ""), parse_timestamp(since))
