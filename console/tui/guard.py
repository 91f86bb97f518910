"""The one place the console turns a failed read or change into a sentence instead of a crash.

Workers run database, cluster and telemetry calls; whatever goes wrong there
(a dead database raises SQLAlchemy's errors, a cluster ClusterError, a bug
anything) must reach the operator as "unavailable: reason" and leave the
rest of the console working.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from console.errors import KanriError

T = TypeVar("T")


def reason(exc: BaseException) -> str:
    if isinstance(exc, KanriError):
        return str(exc)
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else 'no details'}"


def attempt(call: Callable[[], T]) -> tuple[T | None, str]:
    """(result, "") or (None, why it failed)."""
    try:
        return call(), ""
    except Exception as exc:  # the console's boundary: every failure becomes a message, none a traceback
        return None, reason(exc)
