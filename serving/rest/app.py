"""The HTTP transport put together: the routes and their OpenAPI document, on a server."""

from __future__ import annotations

import json

from ..rpc import Runtime
from . import openapi
from .messages import Response
from .routes import ROUTES, Exchange, Route, Router
from .server import HttpServer


def http_server(runtime: Runtime, max_body: int) -> HttpServer:
    async def serve_document(runtime: Runtime, exchange: Exchange) -> Response:
        return Response(200, document)

    routes = (*ROUTES, Route("GET", "/openapi.json", "OpenAPI", serve_document, "This document"))
    dp = runtime.dataplane
    document = json.dumps(openapi.document(routes, dp.identity.app, dp.input_type, dp.output_type,
                                           guarded=runtime.callers is not None)).encode()
    return HttpServer(Router(runtime, routes), max_body)
