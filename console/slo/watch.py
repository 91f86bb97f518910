"""Following alerts over time: which started firing and which resolved since the last look, and telling people."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from kanri.console.slo.alerts import FiringAlert
from kanri.console.slo.notify import notify as post

Key = tuple[str, str, str, str, str]


def _key(alert: FiringAlert) -> Key:
    return alert.name, alert.app, alert.service, alert.slo, alert.severity


def message(alert: FiringAlert, resolved: bool = False) -> str:
    return f"[{'RESOLVED' if resolved else 'FIRING'}] {alert.severity}: {alert.summary}"


class AlertWatch:
    """Remembers what fired at the last look; each look notifies what started firing and what resolved."""

    def __init__(self, webhook_url: str = "", notify: Callable[[str, str], Any] = post) -> None:
        self.webhook_url = webhook_url
        self.notify = notify
        self.firing: dict[Key, FiringAlert] = {}

    def look(self, alerts: Sequence[FiringAlert]) -> tuple[list[FiringAlert], list[FiringAlert]]:
        """(started firing, resolved) since the previous look; each is notified once."""
        now = {_key(a): a for a in alerts}
        fired = [a for key, a in now.items() if key not in self.firing]
        resolved = [a for key, a in self.firing.items() if key not in now]
        self.firing = now
        for alert in fired:
            self.notify(message(alert) + (f"\n{alert.description}" if alert.description else ""), self.webhook_url)
        for alert in resolved:
            self.notify(message(alert, resolved=True), self.webhook_url)
        return fired, resolved
