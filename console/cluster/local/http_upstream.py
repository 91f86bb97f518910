"""HTTP/1.1 from the router to one replica: a request out as bytes, its answer back whole, connections pooled.

Answers are read with httptools (as serving.rest reads requests), whatever
their framing (Content-Length or chunked). A connection goes back to the pool
when the replica keeps it alive, and is not reused after IDLE_SECONDS, shorter
than `kanri serve`'s own idle timeout, so the router never sends on a
connection the replica is closing.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httptools

READ_SIZE = 256 * 1024
IDLE_SECONDS = 60.0
MAX_IDLE = 64


class NoAnswer(Exception):
    """The replica gave no part of an answer: it refused the connection, or closed it before answering."""


class BrokenAnswer(Exception):
    """The replica's answer was cut off or malformed."""


@dataclass(slots=True)
class Answer:
    status: int
    headers: list[tuple[str, str]]  # names in lower case
    body: bytes


class _Reading:
    """httptools' callbacks, gathering one answer."""

    __slots__ = ("body", "complete", "headers")

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.body: list[bytes] = []
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1").lower(), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


@dataclass(slots=True)
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float = 0.0

    def usable(self, now: float) -> bool:
        return not (self.reader.at_eof() or self.writer.is_closing()) and now - self.idle_since < IDLE_SECONDS


async def _read(connection: _Connection) -> bytes:
    """The next bytes of the answer (after sending what is still buffered); b"" when the connection ended."""
    try:
        await connection.writer.drain()
        return await connection.reader.read(READ_SIZE)
    except ConnectionError:
        return b""


class HttpUpstream:
    """The pooled connections to one replica's HTTP port ("host:port")."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._host, _, port = address.rpartition(":")
        self._port = int(port)
        self._idle: list[_Connection] = []
        self._closed = False

    async def exchange(self, request: bytes) -> Answer:
        """Send a whole request (head and body) and read the whole answer."""
        connection = self._take_idle() or await self._connect()
        reading = _Reading()
        parser = httptools.HttpResponseParser(reading)
        try:
            connection.writer.write(request)
            received = 0
            while not reading.complete:
                data = await _read(connection)
                if not data:
                    if received:
                        raise BrokenAnswer(f"replica {self.address} closed the connection in the middle of its answer")
                    raise NoAnswer(f"replica {self.address} closed the connection without answering")
                received += len(data)
                try:
                    parser.feed_data(data)
                except httptools.HttpParserError as exc:
                    raise BrokenAnswer(f"replica {self.address} answered malformed HTTP: {exc}") from None
        finally:
            self._give_back(connection, reading.complete and parser.should_keep_alive())
        return Answer(parser.get_status_code(), reading.headers, b"".join(reading.body))

    async def _connect(self) -> _Connection:
        try:
            return _Connection(*await asyncio.open_connection(self._host, self._port))
        except OSError as exc:
            raise NoAnswer(f"replica {self.address} refused the connection ({exc.strerror or exc})") from None

    def _take_idle(self) -> _Connection | None:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if connection.usable(now):
                return connection
            connection.writer.close()
        return None

    def _give_back(self, connection: _Connection, keep: bool) -> None:
        if keep and not self._closed and len(self._idle) < MAX_IDLE:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.writer.close()

    async def close(self) -> None:
        """Close the idle connections now, and those in use when their answer is read."""
        self._closed = True
        for connection in self._idle:
            connection.writer.close()
        self._idle.clear()
