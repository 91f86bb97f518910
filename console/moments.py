"""When an operator means: an ISO time, or a duration back from now; the CLI's --since and the console's
"back in time" read it the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from console.errors import Invalid


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
