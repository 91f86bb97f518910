"""The one place the console turns a failed read or change into a sentence instead of a crash.

Workers run database, cluster and telemetry calls; whatever goes wrong there
(a dead database raises SQLAlchemy's errors, a cluster ClusterError, a bug
anything) must reach the operator as "unavailable: reason" and leave the
rest of the console working.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import Any, TypeVar

from textual.message_pump import MessagePump

from kanri.console.errors import KanriError

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


def post(node: MessagePump, callback: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """From a worker: run callback on the UI thread, unless `node` went away meanwhile (its screen closed, the
    app quit) while the worker was out on the network."""

    def guarded() -> None:
        if node.is_attached and node.is_running:
            callback(*args, **kwargs)

    with suppress(RuntimeError):  # the app has stopped: nothing left to show it on
        node.app.call_from_thread(guarded)
