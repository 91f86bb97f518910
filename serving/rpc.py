"""What every RPC shares: status mapping, admin authorisation, metrics, request logs and traces.

``@rpc(method)`` wraps a servicer method; it is the one place where a
ServingError becomes a gRPC status and where each call is measured, logged
and, when tracing is on, given its server span.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.message import Message

from .dataplane import DataPlane
from .errors import ServingError, Unauthenticated
from .logs import RequestLog
from .registration import Undecodable

if TYPE_CHECKING:  # imported for real only when tracing is on: it imports OpenTelemetry
    from .tracing import Tracing

log = logging.getLogger("kanri.rpc")


class Runtime:
    """The state the servicers share."""

    def __init__(self, dataplane: DataPlane, request_log: RequestLog, admin_token: str = "",
                 tracing: Tracing | None = None) -> None:
        self.dataplane = dataplane
        self.metrics = dataplane.metrics
        self.request_log = request_log
        self.admin_token = admin_token
        self.tracing = tracing

    def live_version(self) -> str:
        return self.dataplane.holder.current.version if self.dataplane.holder.loaded else ""

    def authorize(self, context: grpc.aio.ServicerContext) -> None:
        if not self.admin_token:
            return
        presented = ""
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                presented = value
        if not hmac.compare_digest(presented.encode(), f"Bearer {self.admin_token}".encode()):
            raise Unauthenticated("admin RPCs need metadata 'authorization: Bearer <token>' "
                                  "matching the server's KANRI_ADMIN_TOKEN")

    def record(self, method: str, started: float, code: grpc.StatusCode, version: str,
               request_id: str = "", error: str = "") -> None:
        elapsed = time.perf_counter() - started
        self.metrics.observe(version, method, code.name, elapsed)
        self.request_log.write(method, code.name, elapsed, request_id, version, error)


def failure(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and message a caller sees for an exception."""
    if isinstance(exc, ServingError):
        return exc.code, exc.message
    log.error("unexpected error: %s: %s", type(exc).__name__, exc, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}"


async def refuse_undecodable(messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A request stream that raises InvalidInput at the first message that did not parse."""
    async for message in messages:
        if isinstance(message, Undecodable):
            raise message.refuse()
        yield message


Handler = Callable[[Any, Any, grpc.aio.ServicerContext], Awaitable[Any]]


def rpc(method: str, admin: bool = False) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def handler(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            runtime: Runtime = self.runtime
            started = time.perf_counter()
            # Without tracing, this test is all a call pays for it.
            call_span = runtime.tracing.start_call(method, context) if runtime.tracing is not None else None
            runtime.metrics.in_flight.inc()
            code, error, version = grpc.StatusCode.OK, "", ""
            try:
                if admin:
                    runtime.authorize(context)
                if isinstance(request, Undecodable):
                    raise request.refuse()
                if not isinstance(request, Message):  # a client stream
                    request = refuse_undecodable(request)
                response = await fn(self, request, context)
                version = getattr(response, "model_version", "")
                return response
            except asyncio.CancelledError:
                code = grpc.StatusCode.CANCELLED
                raise
            except Exception as exc:
                code, error = failure(exc)
            finally:
                runtime.metrics.in_flight.dec()
                version = version or runtime.live_version()
                runtime.record(method, started, code, version, getattr(request, "request_id", ""), error)
                if call_span is not None:
                    runtime.tracing.end_call(call_span, code, version, error)
            await context.abort(code, error)

        return handler

    return wrap
