"""An HTTP request as the connection hands it over, and the response it writes back."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

JSON = "application/json"


@dataclass(slots=True)
class Request:
    verb: str
    path: str  # as sent: percent-encoded, without the query
    headers: dict[str, str]  # names in lower case
    body: bytes


@dataclass(slots=True)
class Response:
    status: int
    body: bytes
    content_type: str = JSON
    headers: tuple[tuple[str, str], ...] = ()


def json_response(status: int, document: dict[str, Any]) -> Response:
    """A document the server built itself, free of NaN (see serving.rest.bodies.dump for answers)."""
    return Response(status, json.dumps(document, separators=(",", ":")).encode())


def error_response(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> Response:
    """The protocol's error form: {"error": "..."}."""
    return Response(status, json.dumps({"error": message}, separators=(",", ":")).encode(), JSON, headers)
