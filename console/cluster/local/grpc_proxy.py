"""The router's gRPC side: any method proxied as raw bytes to a replica the shared Routing picks.

Calls go on with the caller's metadata and deadline, without decoding, and
answers come back with the replica's metadata plus `x-kanri-service`. Unary
calls that a replica may not have run (UNAVAILABLE: it just went away;
CANCELLED: it was stopping, see serving.client.RETRY_CODES) are tried once
more on another replica. A call for a dormant service waits in Routing.acquire
while it wakes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2  # noqa: F401  (registers the health service's descriptors)

from kanri.serving._pb import open_inference_pb2, serving_pb2  # noqa: F401  (register kanri's descriptors)
from kanri.serving.client import RETRY_CODES

from .router_table import RouterTable
from .routing import SERVICE_HEADER, NoReplica, Routing

UNLIMITED = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
HOP_HEADERS = ("user-agent",)


def is_unary(method: str) -> bool:
    """Whether a known method ("/pkg.Service/Method") is unary-unary; unknown ones are proxied as streams."""
    try:
        found = descriptor_pool.Default().FindMethodByName(method.lstrip("/").replace("/", "."))
    except KeyError:
        return False
    return not (found.client_streaming or found.server_streaming)


class Upstream:
    """One channel per replica, reused by every call, with its method callables cached."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.aio.insecure_channel(address, options=UNLIMITED)
        self._unary: dict[str, grpc.aio.UnaryUnaryMultiCallable] = {}
        self._stream: dict[str, grpc.aio.StreamStreamMultiCallable] = {}

    def unary(self, method: str) -> grpc.aio.UnaryUnaryMultiCallable:
        if (found := self._unary.get(method)) is None:
            found = self._unary[method] = self.channel.unary_unary(method)
        return found

    def stream(self, method: str) -> grpc.aio.StreamStreamMultiCallable:
        if (found := self._stream.get(method)) is None:
            found = self._stream[method] = self.channel.stream_stream(method)
        return found

    async def close(self) -> None:
        await self.channel.close()


def grpc_replicas(table: RouterTable) -> set[str]:
    return {address for addresses in table.backends.values() for address in addresses}


class GrpcProxy(grpc.GenericRpcHandler):
    def __init__(self, routing: Routing) -> None:
        self.routing = routing
        self.upstreams = routing.upstreams(Upstream, grpc_replicas)
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method
        if (handler := self._handlers.get(method)) is None:
            handler = self._handlers[method] = (
                grpc.unary_unary_rpc_method_handler(self._unary_handler(method)) if is_unary(method)
                else grpc.stream_stream_rpc_method_handler(self._stream_handler(method)))
        return handler

    def _unary_handler(self, method: str) -> Callable[[bytes, grpc.aio.ServicerContext], Any]:
        async def forward(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            metadata = forwarded_metadata(context)
            pinned = pinned_service(metadata)
            tried: list[str] = []
            while True:
                service, address = await self._acquire(context, pinned, tried)
                try:
                    call = self.upstreams.get(address).unary(method)(request, metadata=metadata,
                                                                     timeout=context.time_remaining())
                    try:
                        response = await call
                    except grpc.aio.AioRpcError as exc:
                        if exc.code() in RETRY_CODES and not tried:
                            tried.append(address)
                            continue
                        await context.abort(exc.code(), exc.details() or "", tuple(exc.trailing_metadata() or ()))
                    await context.send_initial_metadata((*(await call.initial_metadata()),
                                                         (SERVICE_HEADER, service)))
                    context.set_trailing_metadata(tuple(await call.trailing_metadata()))
                finally:
                    self.routing.release(service)
                if pinned is None:
                    self.routing.mirror(lambda shadow: self.upstreams.get(shadow).unary(method)(
                        request, metadata=metadata))
                return response

        return forward

    def _stream_handler(self, method: str) -> Callable[[AsyncIterator[bytes], grpc.aio.ServicerContext], Any]:
        async def forward(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            metadata = forwarded_metadata(context)
            service, address = await self._acquire(context, pinned_service(metadata), [])
            call = self.upstreams.get(address).stream(method)(requests, metadata=metadata,
                                                              timeout=context.time_remaining())
            try:
                await context.send_initial_metadata((*(await call.initial_metadata()), (SERVICE_HEADER, service)))
                async for response in call:
                    yield response
                context.set_trailing_metadata(tuple(await call.trailing_metadata()))
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "", tuple(exc.trailing_metadata() or ()))
            finally:
                self.routing.release(service)

        return forward

    async def _acquire(self, context: grpc.aio.ServicerContext, pinned: str | None,
                       exclude: list[str]) -> tuple[str, str]:
        try:
            return await self.routing.acquire(pinned, exclude, context.time_remaining())
        except NoReplica as exc:
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
            raise  # not reached: abort raises


def forwarded_metadata(context: grpc.aio.ServicerContext) -> tuple:
    return tuple((m.key, m.value) for m in context.invocation_metadata() or () if m.key not in HOP_HEADERS)


def pinned_service(metadata: tuple) -> str | None:
    return next((value for key, value in metadata if key == SERVICE_HEADER), None)
