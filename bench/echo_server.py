"""Bare grpc.aio server that echoes the request bytes: the Python gRPC ceiling.

It serves any unary method (the benchmark calls
``/kanri.serving.v1.PredictionService/Predict``) without (de)serialising
anything, so its throughput is what one grpc.aio process can do on this
machine before any model or protobuf work.

    python bench/echo_server.py --port 50051
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import grpc


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    """Return the request bytes unchanged."""
    return request


class EchoHandler(grpc.GenericRpcHandler):
    """Answer every unary method with :func:`_echo`, bytes in, bytes out."""

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return grpc.unary_unary_rpc_method_handler(_echo)


async def serve(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers((EchoHandler(),))
    if server.add_insecure_port(f"{host}:{port}") == 0:
        raise SystemExit(f"echo_server: cannot bind {host}:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"echo_server: listening on {host}:{port}", flush=True)
    await stop.wait()
    await server.stop(grace=0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
