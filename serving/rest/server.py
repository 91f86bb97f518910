"""The HTTP listener: connections on the server's event loop, and their drain.

With --workers N every worker listens on the port (SO_REUSEPORT), as on the
gRPC port. Stopping answers 503 to new requests, closes idle connections, and
lets requests in progress finish within the grace period.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable

from .connection import HttpConnection
from .messages import Request, Response

App = Callable[[Request], Awaitable[Response]]
POLL_S = 0.05


class HttpServer:
    def __init__(self, app: App, max_body: int) -> None:
        self.app = app
        self.max_body = max_body
        self.accepting = True
        self.connections: set[HttpConnection] = set()
        self._listener: asyncio.Server | None = None

    async def start(self, host: str, port: int, reuse_port: bool, tls: ssl.SSLContext | None = None) -> int:
        """Listen; returns the port (the one the system chose, for port 0)."""
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(lambda: HttpConnection(self), host, port, reuse_port=reuse_port,
                                                  ssl=tls, backlog=1024)
        bound: int = self._listener.sockets[0].getsockname()[1]
        return bound

    async def stop(self, grace_s: float) -> None:
        """503 to new requests; requests in progress have grace_s to finish; then every connection closes."""
        self.accepting = False
        for connection in list(self.connections):
            connection.close_if_idle()
        deadline = time.monotonic() + grace_s
        while any(c.busy for c in self.connections) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
        if self._listener is not None:
            self._listener.close()
        for connection in list(self.connections):
            connection.abort()
        if self._listener is not None:
            await self._listener.wait_closed()
