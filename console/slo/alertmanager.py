"""An Alertmanager configuration that sends the SLO alerts on: pages and tickets to a webhook, as Slack messages.

Slack's incoming-webhook payload ({"text": ..., "attachments": [...]}) is what
Slack, Mattermost, Rocket.Chat and most chat bridges accept, so one URL per
severity is all an operator has to give.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from kanri.console.slo.rules import PAGE, TICKET


@dataclass(frozen=True)
class Timings:
    """How long Alertmanager gathers alerts before the first message, between updates, and before repeating."""

    group_wait: str = "30s"
    group_interval: str = "5m"
    page_repeat: str = "1h"
    ticket_repeat: str = "12h"


TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.severity }}: {{ .CommonAnnotations.summary }}'
TEXT = '{{ range .Alerts }}{{ .Annotations.description }}\n{{ end }}'


def alertmanager_config(page_url: str, ticket_url: str = "", timings: Timings = Timings()) -> str:
    """The configuration file; tickets go to `page_url` too unless they have a URL of their own."""
    repeats = {PAGE: timings.page_repeat, TICKET: timings.ticket_repeat}
    urls = {PAGE: page_url, TICKET: ticket_url or page_url}
    config = {
        "route": {
            "receiver": "kanri-unrouted",
            "group_by": ["alertname", "app", "service", "slo", "severity"],
            "group_wait": timings.group_wait,
            "group_interval": timings.group_interval,
            "routes": [{"matchers": [f'severity="{severity}"'], "receiver": f"kanri-{severity}",
                        "repeat_interval": repeats[severity]} for severity in (PAGE, TICKET)],
        },
        # A page says it already: no ticket for the same objective while it pages.
        "inhibit_rules": [{"source_matchers": [f'severity="{PAGE}"'], "target_matchers": [f'severity="{TICKET}"'],
                           "equal": ["app", "service", "slo"]}],
        "receivers": [{"name": "kanri-unrouted"}, *(
            {"name": f"kanri-{severity}",
             "slack_configs": [{"api_url": urls[severity], "channel": f"#kanri-{severity}", "send_resolved": True,
                                "title": TITLE, "text": TEXT}]}
            for severity in (PAGE, TICKET))],
    }
    return yaml.safe_dump(config, sort_keys=False, width=1000)
