"""A router process: two (or settings.routers_per_level) per (application, level), on the level's stable gRPC and
HTTP ports, shared with SO_REUSEPORT.

Both sides (grpc_proxy.py, http_proxy.py) route by one Routing: the table
file the supervisor replaces, polled here, with one balancer for all calls.

Run as `python -m kanri.console.cluster.local.router --table FILE --port PORT [--http-port PORT] [--instance N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

import grpc

from kanri.serving.config import ServerSettings
from kanri.serving.rest.server import HttpServer

from .grpc_proxy import UNLIMITED, GrpcProxy
from .http_proxy import HttpProxy
from .routing import Routing

log = logging.getLogger("kanri.router")

HOST = "127.0.0.1"
MAX_BODY = ServerSettings.max_message_mb * 1024 * 1024
"""The replicas' own limit (`kanri serve`'s default --max-message-mb): what they would take, the router takes."""
STOP_SECONDS = 5.0
HOLDING_POLL_SECONDS = 0.02
"""How often the table is read while calls are held: they go on as soon as a replica is in it."""


async def watch(routing: Routing, poll_seconds: float) -> None:
    """Follow the table, and publish the calls counted for the supervisor's autoscaler."""
    while True:
        routing.refresh()
        routing.publish()
        await asyncio.sleep(HOLDING_POLL_SECONDS if routing.holding else poll_seconds)


async def run(table_path: Path, instance: int, port: int, http_port: int, poll_seconds: float) -> None:
    routing = Routing(table_path, instance)
    routing.refresh()
    # The level's other routers listen on the same ports (SO_REUSEPORT); a port held by anything else is refused.
    server = grpc.aio.server(options=[*UNLIMITED, ("grpc.so_reuseport", 1)])
    server.add_generic_rpc_handlers((GrpcProxy(routing),))
    if server.add_insecure_port(f"{HOST}:{port}") == 0:
        raise SystemExit(f"router cannot listen on {HOST}:{port}: the port is taken")
    http = HttpServer(HttpProxy(routing), MAX_BODY) if http_port else None
    if http is not None:
        try:
            await http.start(HOST, http_port, reuse_port=True)
        except OSError as exc:
            raise SystemExit(f"router cannot listen for HTTP on {HOST}:{http_port}: {exc.strerror or exc}") from None
    await server.start()
    log.info("routing gRPC on %s:%d%s", HOST, port, f" and HTTP on {HOST}:{http_port}" if http else "")
    watcher = asyncio.ensure_future(watch(routing, poll_seconds))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    await stop.wait()
    watcher.cancel()
    await asyncio.gather(server.stop(STOP_SECONDS), *([http.stop(STOP_SECONDS)] if http else []))
    log.info("stopped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http-port", type=int, default=0, help="0: no HTTP")
    parser.add_argument("--app", required=True)
    parser.add_argument("--level", required=True)
    parser.add_argument("--instance", type=int, default=0, help="which of the level's routers this is")
    parser.add_argument("--poll-seconds", type=float, default=0.1)
    args = parser.parse_args()
    from kanri.serving import logs

    logs.configure(args.app, "router", args.level, "info")
    asyncio.run(run(args.table, args.instance, args.port, args.http_port, args.poll_seconds))


if __name__ == "__main__":
    main()
