"""The router's HTTP side: requests proxied to a replica's HTTP port, chosen as the gRPC side chooses.

serving.rest's connection handling takes the requests (keep-alive,
pipelining, 100-continue, size limit, drain); this app forwards each, body as
bytes, to a replica the shared Routing picks, over pooled connections, and
answers with the replica's answer plus `x-kanri-service`. A prediction (or a
GET) whose replica gave no answer at all (refused the connection, closed it
unanswered) is tried once more on another replica; other requests are not, as
they may not be safe to repeat. Without a replica the answer is 503, with
an answer cut off 502, each saying why.
"""

from __future__ import annotations

import re

from kanri.serving.rest.messages import Request, Response, error_response

from .http_upstream import Answer, BrokenAnswer, HttpUpstream, NoAnswer
from .router_table import RouterTable
from .routing import SERVICE_HEADER, NoReplica, Routing

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                        "upgrade"})
NOT_FORWARDED = HOP_BY_HOP | {"content-length", "content-encoding", "expect"}
"""Besides the hop-by-hop headers: the body goes on inflated (the connection inflated it) with a length of its
own, and a 100-continue was answered here."""
NOT_RETURNED = HOP_BY_HOP | {"content-length", "content-type"}
"""The connection writes the length and the type itself."""
IDEMPOTENT = re.compile(r"/v2/models/[^/]+(/versions/[^/]+)?/infer|/kanri/v1/predict")
"""The predictions: the same request twice gives the same answer and changes nothing."""


def safe_to_retry(request: Request) -> bool:
    return request.verb in ("GET", "HEAD", "OPTIONS") or (request.verb == "POST"
                                                          and IDEMPOTENT.fullmatch(request.path) is not None)


def forwarded(request: Request) -> bytes:
    """The request as the replica gets it: the same verb, path, headers and body, framed by Content-Length.
    Not the query string, which serving.rest does not hand over (no kanri path takes one)."""
    named = {name.strip() for name in request.headers.get("connection", "").lower().split(",")}
    head = [f"{request.verb} {request.path} HTTP/1.1\r\n"]
    head.extend(f"{name}: {value}\r\n" for name, value in request.headers.items()
                if name not in NOT_FORWARDED and name not in named)
    head.append(f"content-length: {len(request.body)}\r\n\r\n")
    return "".join(head).encode("latin-1") + request.body


def answered(answer: Answer, service: str) -> Response:
    """The replica's answer as the caller gets it, marked with the service that gave it."""
    content_type = next((value for name, value in answer.headers if name == "content-type"),
                        "application/octet-stream")
    headers = tuple((name, value) for name, value in answer.headers if name not in NOT_RETURNED)
    return Response(answer.status, answer.body, content_type, (*headers, (SERVICE_HEADER, service)))


def http_replicas(table: RouterTable) -> set[str]:
    return set(table.http.values())


class HttpProxy:
    """The app a serving.rest HttpServer runs on the router's HTTP port."""

    def __init__(self, routing: Routing) -> None:
        self.routing = routing
        self.upstreams = routing.upstreams(HttpUpstream, http_replicas)

    async def __call__(self, request: Request) -> Response:
        pinned = request.headers.get(SERVICE_HEADER)
        message = forwarded(request)
        try:
            taken: tuple[str, str] | None = await self.routing.acquire(pinned)
            service, replica = taken
            try:
                answer = await self._exchange(replica, message)
            except NoAnswer as failure:
                if not safe_to_retry(request):
                    raise
                self.routing.release(service)
                taken = None
                service, replica = taken = await self._another(pinned, replica, failure)
                answer = await self._exchange(replica, message)
            finally:
                if taken is not None:
                    self.routing.release(service)
        except NoReplica as exc:
            return error_response(503, str(exc))
        except (NoAnswer, BrokenAnswer) as exc:
            return error_response(502, str(exc))
        if pinned is None:
            self.routing.mirror(lambda shadow: self._exchange(shadow, message))
        return answered(answer, service)

    async def _another(self, pinned: str | None, failed: str, failure: NoAnswer) -> tuple[str, str]:
        try:
            return await self.routing.acquire(pinned, [failed])
        except NoReplica as exc:
            raise NoAnswer(f"{failure}, and {exc}") from None

    async def _exchange(self, replica: str, message: bytes) -> Answer:
        """replica: its gRPC address, which names it in the table."""
        if (address := self.routing.table.http.get(replica)) is None:
            raise NoAnswer(f"replica {replica} serves no HTTP (it started before its router did)")
        return await self.upstreams.get(address).exchange(message)
