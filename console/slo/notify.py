"""Telling people: one Slack-compatible message to a webhook, or a log line where there is none."""

from __future__ import annotations

import json
import logging
import urllib.request

log = logging.getLogger("kanri.notify")


def notify(text: str, webhook_url: str = "", timeout: float = 5.0) -> bool:
    """Post {"text": text} to the webhook; True when it took it. Never raises: a lost message must not stop
    the operation that sent it, so failures (and the message) go to the log instead."""
    if not webhook_url:
        log.warning("%s", text)
        return False
    request = urllib.request.Request(webhook_url, data=json.dumps({"text": text}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return 200 <= response.status < 300
    except OSError as exc:
        log.warning("could not notify %s (%s): %s", webhook_url, exc, text)
        return False
