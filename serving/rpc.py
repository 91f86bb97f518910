"""What every call shares, on either transport: metrics, request logs and traces; and for gRPC,
status mapping and admin authorisation.

A ``Call`` is one request from arrival to answer: counted in flight, timed,
logged, and with tracing on, given its server span. ``@rpc(method)`` wraps a
gRPC servicer method in one; it is the one place where a ServingError becomes
a gRPC status. serving.rest.routes does the same for HTTP.
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
from .inference import Inference
from .logs import RequestLog
from .prediction import Predictions
from .registration import Undecodable

if TYPE_CHECKING:  # imported for real only when tracing is on: it imports OpenTelemetry
    from .auth import CallerAuth
    from .tracing import ServerSpan, Tracing

log = logging.getLogger("kanri.rpc")
# A servicer method's context: @rpc wraps every method alike, whatever its messages.
Context = grpc.aio.ServicerContext[Any, Any]


class Runtime:
    """The state both transports share: the data plane, the protocols over it, and what observes calls."""

    def __init__(self, dataplane: DataPlane, request_log: RequestLog, admin_token: str = "",
                 tracing: Tracing | None = None, callers: CallerAuth | None = None) -> None:
        self.dataplane = dataplane
        self.metrics = dataplane.metrics
        self.request_log = request_log
        self.admin_token = admin_token
        self.callers = callers
        self.tracing = tracing
        self.predictions: Predictions
        self.inference: Inference
        if tracing is None:
            self.predictions, self.inference = Predictions(dataplane), Inference(dataplane)
        else:
            from .tracing import TracedInference, TracedPredictions

            self.predictions = TracedPredictions(dataplane, tracing)
            self.inference = TracedInference(dataplane, tracing)

    def live_version(self) -> str:
        return self.dataplane.holder.current.version if self.dataplane.holder.loaded else ""

    def authorize(self, context: Context) -> None:
        if not self.admin_token:
            return
        if not hmac.compare_digest(authorization(context).encode(), f"Bearer {self.admin_token}".encode()):
            raise Unauthenticated("admin RPCs need metadata 'authorization: Bearer <token>' "
                                  "matching the server's KANRI_ADMIN_TOKEN")

    def admit(self, authorization: str) -> None:
        """Let a prediction through, or raise Unauthenticated (serving.auth); open when no check is set."""
        if self.callers is not None:
            self.callers.check(authorization)

    def record(self, method: str, started: float, code: grpc.StatusCode, version: str,
               request_id: str = "", error: str = "") -> None:
        elapsed = time.perf_counter() - started
        self.metrics.observe(version, method, code.name, elapsed)
        self.request_log.write(method, code.name, elapsed, request_id, version, error)


class Call:
    """One request, from arrival to answer: counted in flight, timed, logged and (span given) traced."""

    __slots__ = ("_method", "_runtime", "_span", "_started")

    def __init__(self, runtime: Runtime, method: str, span: ServerSpan | None) -> None:
        self._runtime = runtime
        self._method = method
        self._span = span
        self._started = time.perf_counter()
        runtime.metrics.in_flight.inc()

    def end(self, code: grpc.StatusCode, version: str, request_id: str, error: str,
            status: tuple[str, int]) -> None:
        """Count, log and trace the answer; status is the span's transport status attribute and its value."""
        runtime = self._runtime
        runtime.metrics.in_flight.dec()
        version = version or runtime.live_version()
        runtime.record(self._method, self._started, code, version, request_id, error)
        if self._span is not None:
            runtime.tracing.end_call(self._span, code, version, error, status)  # type: ignore[union-attr]


def failure(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The status and message a caller sees for an exception."""
    if isinstance(exc, ServingError):
        return exc.code, exc.message
    log.error("unexpected error: %s: %s", type(exc).__name__, exc, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"{type(exc).__name__}: {exc}"


def request_id(request: Any) -> str:
    """The caller's id of a request: kanri's request_id, the Open Inference Protocol's id."""
    return getattr(request, "request_id", "") or getattr(request, "id", "")


def grpc_span(runtime: Runtime, method: str, context: Context) -> ServerSpan | None:
    """The call's server span, continuing the caller's traceparent; None (and no cost) without tracing."""
    if runtime.tracing is None:
        return None
    return runtime.tracing.start_call(method, dict(context.invocation_metadata() or ()),
                                      {"rpc.system": "grpc", "rpc.method": method})


def grpc_status(code: grpc.StatusCode) -> tuple[str, int]:
    return "rpc.grpc.status_code", code.value[0]


async def refuse_undecodable(messages: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """A request stream that raises InvalidInput at the first message that did not parse."""
    async for message in messages:
        if isinstance(message, Undecodable):
            raise message.refuse()
        yield message


Handler = Callable[[Any, Any, Context], Awaitable[Any]]


def authorization(context: Context) -> str:
    """The call's authorization metadata, "" without one."""
    for key, value in context.invocation_metadata() or ():
        if key == "authorization" and isinstance(value, str):  # a value is bytes only under a "-bin" key
            return value
    return ""


def rpc(method: str, admin: bool = False, prediction: bool = False) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def handler(self: Any, request: Any, context: Context) -> Any:
            runtime: Runtime = self.runtime
            call = Call(runtime, method, grpc_span(runtime, method, context))
            code, error, version = grpc.StatusCode.OK, "", ""
            try:
                if admin:
                    runtime.authorize(context)
                if prediction:
                    runtime.admit(authorization(context))
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
                call.end(code, version, request_id(request), error, grpc_status(code))
            await context.abort(code, error)

        return handler

    return wrap
