"""`kanri serve --http-port` processes for tests, and plain HTTP calls to them (the standard library's client)."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kanri.console.cluster.local.processes import free_port
from tests.support.servers import ServeProcess, start_serve


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str:
        """The message of an error answer, which is {"error": "..."} and nothing else."""
        document = self.json()
        assert set(document) == {"error"} and document["error"], document
        return document["error"]


@dataclass(frozen=True)
class HttpServe:
    process: ServeProcess
    http_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def call(self, verb: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             timeout: float = 30.0) -> Answer:
        """One request on a connection of its own; a body that is not bytes is sent as JSON."""
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        connection = http.client.HTTPConnection("127.0.0.1", self.http_port, timeout=timeout)
        try:
            connection.request(verb, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            connection.close()

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Answer:
        return self.call("POST", path, body, headers)


def start_http_serve(tmp: Path, predictor: str, model: str | None = None, *extra: str,
                     env: dict[str, str] | None = None, wait: bool = True) -> HttpServe:
    port = free_port()
    return HttpServe(start_serve(tmp, predictor, model, "--http-port", str(port), *extra, env=env, wait=wait), port)


def infer_body(datatype: str, shape: list[int], data: list[Any], **extra: Any) -> dict[str, Any]:
    """An inference request of one input tensor named "input"."""
    return {"inputs": [{"name": "input", "datatype": datatype, "shape": shape, "data": data}], **extra}
