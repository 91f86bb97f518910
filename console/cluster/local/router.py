"""The router process: a gRPC proxy on one stable port per (application, level).

It forwards any method as raw bytes (no decoding), with the caller's metadata
and deadline, to a replica chosen by the Balancer, and answers with the
replica's metadata plus `x-kanri-service` (which service answered). Unary
calls that a replica refuses with UNAVAILABLE (it just went away) are tried
once more on another replica. The routing table is a file the supervisor
replaces; the router swaps its balancer when the file changes, so calls in
flight finish where they started and a weight change drops nothing.

Run as `python -m console.cluster.local.router --table FILE --port PORT`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2  # noqa: F401  (registers the health service's descriptors)

from serving._pb import open_inference_pb2, serving_pb2  # noqa: F401  (register kanri's descriptors)

from .balancer import Balancer
from .files import write_json
from .router_table import RouterTable, applied_path, table_identity

log = logging.getLogger("kanri.router")

UNLIMITED = [("grpc.max_receive_message_length", -1), ("grpc.max_send_message_length", -1)]
CLOSE_AFTER_SECONDS = 60.0
"""A replica that left the table keeps its channel this long, for the calls still running on it."""
MIRRORS_IN_FLIGHT = 64
"""Mirrored calls beyond this many at once are dropped rather than queued: shadows must not slow the route."""
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


class Router(grpc.GenericRpcHandler):
    def __init__(self, table_path: Path) -> None:
        self.table_path = table_path
        self.balancer = Balancer(RouterTable())
        self._seen: list[int] | None = None
        self._upstreams: dict[str, Upstream] = {}
        self._handlers: dict[str, grpc.RpcMethodHandler] = {}
        self._mirrors: set[asyncio.Task] = set()

    def refresh(self) -> None:
        """Load the table again if the supervisor replaced its file since the last look."""
        try:
            identity = table_identity(self.table_path)
            if identity != self._seen:
                self._update(RouterTable.load(self.table_path))
                self._seen = identity
                write_json(applied_path(self.table_path), identity)
        except (OSError, ValueError) as exc:
            log.warning("cannot read routing table %s: %s", self.table_path, exc)

    def _update(self, table: RouterTable) -> None:
        """Swap the balancer; channels of replicas that left close later, after their calls finished."""
        self.balancer = Balancer(table)
        live = {a for addresses in table.backends.values() for a in addresses}
        for address in [a for a in self._upstreams if a not in live]:
            upstream = self._upstreams.pop(address)
            asyncio.get_running_loop().call_later(
                CLOSE_AFTER_SECONDS, lambda u=upstream: asyncio.ensure_future(u.channel.close()))

    def upstream(self, address: str) -> Upstream:
        if (found := self._upstreams.get(address)) is None:
            found = self._upstreams[address] = Upstream(address)
        return found

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
            tried: list[str] = []
            while True:
                service, address = await self._pick(context, tried)
                call = self.upstream(address).unary(method)(request, metadata=metadata,
                                                            timeout=context.time_remaining())
                try:
                    response = await call
                except grpc.aio.AioRpcError as exc:
                    if exc.code() == grpc.StatusCode.UNAVAILABLE and not tried:
                        tried.append(address)
                        continue
                    await context.abort(exc.code(), exc.details() or "", tuple(exc.trailing_metadata() or ()))
                await context.send_initial_metadata((*(await call.initial_metadata()), ("x-kanri-service", service)))
                context.set_trailing_metadata(tuple(await call.trailing_metadata()))
                self._mirror(method, request, metadata)
                return response

        return forward

    def _stream_handler(self, method: str) -> Callable[[AsyncIterator[bytes], grpc.aio.ServicerContext], Any]:
        async def forward(requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            service, address = await self._pick(context, [])
            call = self.upstream(address).stream(method)(requests, metadata=forwarded_metadata(context),
                                                         timeout=context.time_remaining())
            try:
                await context.send_initial_metadata((*(await call.initial_metadata()), ("x-kanri-service", service)))
                async for response in call:
                    yield response
                context.set_trailing_metadata(tuple(await call.trailing_metadata()))
            except grpc.aio.AioRpcError as exc:
                await context.abort(exc.code(), exc.details() or "", tuple(exc.trailing_metadata() or ()))

        return forward

    async def _pick(self, context: grpc.aio.ServicerContext, exclude: list[str]) -> tuple[str, str]:
        if (choice := self.balancer.pick(exclude)) is None:
            self.refresh()  # the first replica may have become ready since the last poll
            choice = self.balancer.pick(exclude)
        if choice is None:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "no ready replica behind this route")
        return choice  # type: ignore[return-value]

    def _mirror(self, method: str, request: bytes, metadata: tuple) -> None:
        """Copy a share of unary calls to the shadow service; its answers and failures are dropped."""
        table = self.balancer.table
        if not table.mirror or random.uniform(0, 100) >= table.mirror_percent:
            return
        if len(self._mirrors) >= MIRRORS_IN_FLIGHT:
            return
        if (address := self.balancer.replica(table.mirror)) is None:
            return
        task = asyncio.ensure_future(self._shadow_call(self.upstream(address).unary(method), request, metadata))
        self._mirrors.add(task)
        task.add_done_callback(self._mirrors.discard)

    @staticmethod
    async def _shadow_call(call: grpc.aio.UnaryUnaryMultiCallable, request: bytes, metadata: tuple) -> None:
        try:
            await call(request, metadata=metadata, timeout=30.0)
        except grpc.aio.AioRpcError as exc:
            log.debug("mirrored call failed: %s", exc.code().name)


def forwarded_metadata(context: grpc.aio.ServicerContext) -> tuple:
    return tuple((m.key, m.value) for m in context.invocation_metadata() or () if m.key not in HOP_HEADERS)


async def watch(router: Router, poll_seconds: float) -> None:
    while True:
        router.refresh()
        await asyncio.sleep(poll_seconds)


async def run(table_path: Path, port: int, poll_seconds: float) -> None:
    router = Router(table_path)
    router.refresh()
    server = grpc.aio.server(options=[*UNLIMITED, ("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((router,))
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"router cannot listen on 127.0.0.1:{port}: the port is taken")
    await server.start()
    log.info("routing on 127.0.0.1:%d", port)
    watcher = asyncio.ensure_future(watch(router, poll_seconds))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    watcher.cancel()
    await server.stop(5.0)
    log.info("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app", required=True)
    parser.add_argument("--level", required=True)
    parser.add_argument("--poll-seconds", type=float, default=0.1)
    args = parser.parse_args()
    from serving import logs

    logs.configure(args.app, "router", args.level, "info")
    asyncio.run(run(args.table, args.port, args.poll_seconds))


if __name__ == "__main__":
    main()
