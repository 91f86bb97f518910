"""Times as operators write and read them, one way for the CLI and the console: "30m" or an ISO time in
(--since, the logs screen's back in time), "3h" out (ages and durations, as kubectl shows them)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from kanri.console.errors import Invalid


def moment(text: str | None, what: str) -> datetime | None:
    """An ISO date/time, or a duration back from now: 30m, 12h, 7d. `what` names the input in the error."""
    if not text:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days"}
    if text[-1:] in units and text[:-1].isdigit():
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise Invalid(f"{what} {text!r} is neither a time (2026-11-23T10:00) nor a duration (30m, 12h, 7d)") from exc
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def seconds(text: str, what: str) -> float:
    """A duration as operators write it: 90 or 90s, 5m, 1h."""
    sizes = {"s": 1, "m": 60, "h": 3600}
    number, unit = (text[:-1], text[-1]) if text[-1:] in sizes else (text, "s")
    try:
        amount = float(number)
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount):
        raise Invalid(f"{what} {text!r} is not a duration: write 30s, 5m or 1h")
    if amount < 0:
        raise Invalid(f"{what} {text!r} is negative")
    return amount * sizes[unit]


def age(moment: datetime) -> str:
    """How long ago."""
    return duration((datetime.now(UTC) - moment).total_seconds())


def duration(seconds: float) -> str:
    """The largest whole unit, as kubectl shows ages: 45s, 3m, 2h, 5d."""
    seconds = max(int(seconds), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
