"""`python -m serving.probe PORT`: exit 0 when the runtime on PORT says SERVING over gRPC health checking.

For Kubernetes before 1.24, which has no gRPC probes: the exec probe Kubernetes
runs instead. It asks the same grpc.health.v1 service the gRPC probe asks, so
readiness means the same thing on every cluster version.
"""

from __future__ import annotations

import sys

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT_SECONDS = 1.0


def probe(port: int) -> int:
    """0 when SERVING; 1 with the reason on stderr otherwise."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            answer = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            print(f"gRPC health check on port {port}: {exc.code().name} {exc.details()}", file=sys.stderr)
            return 1
    if answer.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"gRPC health check on port {port}: {health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or not sys.argv[1].isdigit():
        sys.exit("usage: python -m serving.probe PORT")
    sys.exit(probe(int(sys.argv[1])))
