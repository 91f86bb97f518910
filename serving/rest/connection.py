"""One HTTP/1.1 connection on the event loop, parsed by httptools (llhttp, node.js's parser).

Requests on a connection are answered one at a time, in order (pipelined ones
wait their turn, and reading pauses while too many wait). A body over the
server's limit is refused with 413 before it is read; "Expect: 100-continue"
is answered before the body comes; gzip and deflate request bodies are
inflated, within the limit. A refused request (413, a malformed one) is
answered, and the connection closed once the caller has had the answer. A
connection idle for IDLE_TIMEOUT_S is closed, and so is one whose caller
leaves: its request in progress is cancelled.
"""

from __future__ import annotations

import asyncio
import zlib
from collections import deque
from http import HTTPStatus
from typing import TYPE_CHECKING

import httptools

from .messages import Request, Response, error_response

if TYPE_CHECKING:
    from .server import HttpServer

IDLE_TIMEOUT_S = 75.0  # longer than the usual load balancer's 60 s, so the balancer closes first
MAX_WAITING = 32  # pipelined requests read ahead of the one being answered
LINGER_S = 2.0  # after a refusal, how long what the caller still sends is read and dropped
MAX_HEAD = 64 * 1024  # bytes of request line and headers
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
REASONS = {status.value: status.phrase.encode() for status in HTTPStatus}
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}


class HttpConnection(asyncio.Protocol):
    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._waiting: deque[tuple[Request | Response, bool]] = deque()  # each with whether to keep the connection
        self._answering: asyncio.Task[None] | None = None
        self._idle: asyncio.TimerHandle | None = None
        self._writable = asyncio.Event()
        self._writable.set()
        self._reading_paused = False  # too many requests wait
        self._finished = False  # no more requests are read: one was refused, or the caller asked to upgrade or left
        self._receiving = False
        self._admitted = True
        self._lingering = False
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0

    @property
    def busy(self) -> bool:
        """Whether a request begun before the server stopped is being received, waits, or is being answered."""
        return (self._receiving and self._admitted) or self._answering is not None

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._server.connections.add(self)
        self._arm_idle()

    def eof_received(self) -> bool:
        """The caller is done sending: answer what it sent, then close."""
        self._finished = True
        return self.busy

    def connection_lost(self, exc: Exception | None) -> None:
        self._server.connections.discard(self)
        self._transport = None
        self._waiting.clear()
        if self._idle is not None:
            self._idle.cancel()
        if self._answering is not None:
            self._answering.cancel()
        self._writable.set()

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:  # the request is whole; what follows it is another protocol
            self._finish_reading()
        except httptools.HttpParserError as exc:
            self._refuse(Refusal(400, f"malformed HTTP request: {exc}"))
        self._arm_idle()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # --- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._receiving = not self._finished
        self._admitted = self._server.accepting  # begun before the server stopped: answered, not refused
        self._url, self._headers, self._body, self._size = b"", {}, [], 0

    def on_url(self, url: bytes) -> None:
        if self._within_head(len(url)):
            self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._within_head(len(name) + len(value)):
            self._headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def _within_head(self, size: int) -> bool:
        """Count size against MAX_HEAD; refuse the request past it."""
        self._size += size
        if self._receiving and self._size > MAX_HEAD:
            self._refuse(Refusal(431, f"the request line and headers are over {MAX_HEAD} bytes"))
        return self._receiving

    def on_headers_complete(self) -> None:
        if not self._receiving:
            return
        self._size = 0
        length = int(self._headers.get("content-length", 0))
        if length > self._server.max_body:
            self._refuse(Refusal(413, _too_large(length, self._server.max_body)))
        elif (self._headers.get("expect", "").lower() == "100-continue" and self._answering is None
              and self._transport is not None):
            self._transport.write(CONTINUE)

    def on_body(self, body: bytes) -> None:
        if not self._receiving:
            return
        self._size += len(body)
        if self._size > self._server.max_body:
            self._refuse(Refusal(413, _too_large(self._size, self._server.max_body)))
        else:
            self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._receiving:
            return
        self._receiving = False
        keep_alive = self._parser.should_keep_alive() and self._parser.get_http_version() == "1.1"
        try:
            if not self._admitted:
                raise Refusal(503, "the server is shutting down; retry on another replica")
            request = Request(self._parser.get_method().decode("ascii"), self._path(), self._headers,
                              self._inflate(b"".join(self._body)))
        except Refusal as refusal:
            self._refuse(refusal)
        else:
            self._enqueue(request, keep_alive)

    # --- answering ----------------------------------------------------------------------------

    def _path(self) -> str:
        try:
            return httptools.parse_url(self._url).path.decode("latin-1")
        except httptools.HttpParserInvalidURLError:
            raise Refusal(400, f"malformed request target {self._url[:200]!r}") from None

    def _inflate(self, body: bytes) -> bytes:
        encoding = self._headers.get("content-encoding", "identity").lower()
        if encoding == "identity":
            return body
        if encoding not in WBITS:
            raise Refusal(415, f"cannot read Content-Encoding {encoding!r}: send gzip, deflate or identity")
        inflater = zlib.decompressobj(WBITS[encoding])
        try:
            inflated = inflater.decompress(body, self._server.max_body + 1)
        except zlib.error as exc:
            raise Refusal(400, f"cannot inflate the {encoding} body: {exc}") from None
        if len(inflated) > self._server.max_body:
            raise Refusal(413, _too_large(len(inflated), self._server.max_body, "inflated "))
        if not inflater.eof:
            raise Refusal(400, f"cannot inflate the {encoding} body: it ends early")
        return inflated

    def _refuse(self, refusal: Refusal) -> None:
        """Answer the refusal after the requests before it, then close: nothing more is read."""
        self._receiving = False
        self._finish_reading()
        self._enqueue(error_response(refusal.status, refusal.message), keep_alive=False)

    def _finish_reading(self) -> None:
        self._finished = True
        self._pause_reading()

    def _pause_reading(self) -> None:
        if self._transport is not None and not self._reading_paused:
            self._transport.pause_reading()
            self._reading_paused = True

    def _enqueue(self, item: Request | Response, keep_alive: bool) -> None:
        self._waiting.append((item, keep_alive))
        if self._answering is None:
            self._answering = asyncio.get_running_loop().create_task(self._answer_waiting())
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
        elif len(self._waiting) >= MAX_WAITING:
            self._pause_reading()

    async def _answer_waiting(self) -> None:
        try:
            while self._waiting and self._transport is not None:
                item, keep_alive = self._waiting.popleft()
                response = item if isinstance(item, Response) else await self._server.app(item)
                keep_alive = keep_alive and self._server.accepting and not (self._finished and not self._waiting)
                await self._write(response, keep_alive)
                if isinstance(item, Response):
                    self._linger()
                    return
                if not keep_alive:
                    self._close()
                    return
                if self._reading_paused and not self._finished and len(self._waiting) < MAX_WAITING // 2:
                    self._transport.resume_reading()
                    self._reading_paused = False
        finally:
            self._answering = None
        self._arm_idle()

    async def _write(self, response: Response, keep_alive: bool) -> None:
        if self._transport is None:
            return
        head = [b"HTTP/1.1 %d %s\r\ncontent-type: %s\r\ncontent-length: %d\r\n"
                % (response.status, REASONS.get(response.status, b""), response.content_type.encode(),
                   len(response.body))]
        head.extend(b"%s: %s\r\n" % (name.encode(), value.encode()) for name, value in response.headers)
        if not keep_alive:
            head.append(b"connection: close\r\n")
        head.append(b"\r\n")
        self._transport.write(b"".join(head) + response.body)
        await self._writable.wait()

    def _arm_idle(self) -> None:
        """Close after IDLE_TIMEOUT_S without a byte from the caller, unless a request is being answered."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._transport is not None and self._answering is None:
            self._idle = asyncio.get_running_loop().call_later(IDLE_TIMEOUT_S, self._close)

    def _linger(self) -> None:
        """Close once the caller has read the refusal: closing with its request unread would reset the
        connection, and the caller might lose the answer. So stop writing, drop what it still sends, and
        close when it does or after LINGER_S."""
        if self._transport is None:
            return
        self._lingering = True
        if self._transport.can_write_eof():
            self._transport.write_eof()
        if self._reading_paused:
            self._transport.resume_reading()
            self._reading_paused = False
        asyncio.get_running_loop().call_later(LINGER_S, self._close)

    def close_if_idle(self) -> None:
        if not self.busy:
            self._close()

    def _close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()


class Refusal(Exception):
    """A request answered by the connection itself, which then closes."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _too_large(size: int, limit: int, what: str = "") -> str:
    return (f"the {what}request body of {size} bytes is over this server's limit of {limit} bytes "
            "(kanri serve --max-message-mb)")
