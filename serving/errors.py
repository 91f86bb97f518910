"""One error family for the runtime; each error carries its gRPC status code.

Each transport maps a ServingError to its status in exactly one place: gRPC
in serving.rpc, HTTP in serving.rest.routes (from the gRPC code, by
google.rpc's mapping). Anything else that escapes a predictor is reported as
INTERNAL (HTTP 500) with its message.
"""

from __future__ import annotations

import os

import grpc


class ServingError(Exception):
    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str, code: grpc.StatusCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InvalidInput(ServingError, ValueError):
    """Raise it from a predictor to answer INVALID_ARGUMENT with your message."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class ModelNotReady(ServingError):
    code = grpc.StatusCode.UNAVAILABLE


class ModelNotFound(ServingError):
    code = grpc.StatusCode.NOT_FOUND


class ModelLoadError(ServingError):
    """The artifact exists but could not be verified or loaded."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class PredictorFailed(ServingError):
    code = grpc.StatusCode.INTERNAL


class Unauthenticated(ServingError):
    code = grpc.StatusCode.UNAUTHENTICATED


def cannot_listen(exc: OSError, host: str, port: int, what: str, option: str) -> OSError:
    """One wording for a port that cannot be had, whichever check found it (what: "" or " for HTTP")."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return OSError(f"cannot listen{what} on {host}:{port}: {reason}; pick another {option}")
