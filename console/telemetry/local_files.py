"""LogSource for the embedded cluster: the replicas' captured output in {logs_dir}/{app}/{service}/{pod}.log.

The cursor remembers, per file, its inode, the offset read up to (always at a
line end, so a half-written line waits for its end) and the bytes just before
it. A file that appears later is read from its start; a file truncated in place
(shorter, or those bytes changed) is read again from its start; a file
rotated away (renamed, a new one created) is first read to its end under its
new name ({pod}.log.1, ...) when it is still beside the new one.
A search reads at most `scan_bytes` from the end of each file.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from kanri.console.telemetry.bounded import BoundedCalls
from kanri.console.telemetry.loglines import Origin, matches, parse_line
from kanri.console.telemetry.types import LogLine, LogPage, LogQuery, TelemetryUnavailable

TAIL_BYTES = 64


@dataclass(frozen=True)
class FilePosition:
    inode: int
    offset: int
    tail: bytes  # the bytes before offset: they change when the file is truncated and written again


@dataclass(frozen=True)
class FileCursor:
    files: dict[str, FilePosition]


class LocalFileLogs:
    def __init__(self, logs_dir: str | os.PathLike[str], *, timeout: float = 2.0, scan_bytes: int = 16 << 20,
                 read_bytes: int = 8 << 20) -> None:
        self.logs_dir = Path(logs_dir)
        self.scan_bytes = scan_bytes
        self.read_bytes = read_bytes  # per file and poll; the rest comes with the next poll (`more`)
        self._calls = BoundedCalls(f"log files in {self.logs_dir}", timeout)

    def search(self, query: LogQuery) -> LogPage | TelemetryUnavailable:
        return self._calls.run(lambda: self._search(query))

    def poll(self, query: LogQuery, cursor: object) -> LogPage | TelemetryUnavailable:
        if not isinstance(cursor, FileCursor):
            return TelemetryUnavailable(f"not a cursor of LocalFileLogs: {cursor!r}")
        return self._calls.run(lambda: self._poll(query, cursor))

    def close(self) -> None:
        self._calls.close()

    def _files(self, query: LogQuery) -> list[Path]:
        parts = [glob.escape(p) if p is not None else "*" for p in (query.app, query.service, query.pod)]
        return sorted(Path(p) for p in glob.glob(str(self.logs_dir / parts[0] / parts[1] / f"{parts[2]}.log")))

    def _search(self, query: LogQuery) -> LogPage:
        lines: list[LogLine] = []
        positions: dict[str, FilePosition] = {}
        for path in self._files(query):
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                start = max(0, stat.st_size - self.scan_bytes)
                f.seek(start)
                data = f.read(stat.st_size - start)
            if start > 0:  # the scan began inside a line
                data = data[data.find(b"\n") + 1:]
            complete = data[:data.rfind(b"\n") + 1]
            end = stat.st_size - len(data) + len(complete)
            positions[str(path)] = FilePosition(stat.st_ino, end, complete[-TAIL_BYTES:])
            lines += _lines(path, complete, stat.st_mtime, query)
        return LogPage(tuple(_by_time(lines)[-query.limit:]), FileCursor(positions))

    def _poll(self, query: LogQuery, cursor: FileCursor) -> LogPage:
        lines: list[LogLine] = []
        positions: dict[str, FilePosition] = {}
        more = False
        for path in self._files(query):
            key = str(path)
            with open(path, "rb") as f:
                stat = os.fstat(f.fileno())
                known = cursor.files.get(key)
                offset = 0
                if known is not None and known.inode != stat.st_ino:
                    lines += self._rest_of_rotated(path, known, query)
                elif known is not None and _unchanged_before(f, known):
                    offset = known.offset
                f.seek(offset)
                data = f.read(self.read_bytes)
            complete = data[:data.rfind(b"\n") + 1]
            more = more or offset + len(data) < stat.st_size
            tail = (known.tail if known and offset else b"") + complete
            positions[key] = FilePosition(stat.st_ino, offset + len(complete), tail[-TAIL_BYTES:])
            lines += _lines(path, complete, stat.st_mtime, query)
        return LogPage(tuple(_by_time(lines)), FileCursor(positions), more)

    def _rest_of_rotated(self, path: Path, known: FilePosition, query: LogQuery) -> list[LogLine]:
        """What was not yet read of a file rotated away, when it still lies beside its successor."""
        for sibling in path.parent.glob(glob.escape(path.name) + ".*"):
            with open(sibling, "rb") as f:
                stat = os.fstat(f.fileno())
                if stat.st_ino == known.inode:
                    f.seek(known.offset)
                    return _lines(path, f.read(), stat.st_mtime, query)
        return []


def _unchanged_before(f: BinaryIO, known: FilePosition) -> bool:
    """Whether the file still holds, just before the offset, the bytes that were read there."""
    f.seek(known.offset - len(known.tail))
    return f.read(len(known.tail)) == known.tail


def _lines(path: Path, data: bytes, mtime: float, query: LogQuery) -> list[LogLine]:
    """The matching lines of one file's bytes; a non-JSON line takes the time of the line before it."""
    origin = Origin(app=path.parent.parent.name, service=path.parent.name, pod=path.stem)
    when = datetime.fromtimestamp(mtime, UTC)
    lines = []
    for text in data.decode("utf-8", errors="replace").splitlines():
        if not text.strip():
            continue
        line = parse_line(text, origin, when)
        when = line.timestamp
        if line.level != "raw":
            origin = Origin(origin.app, origin.service, origin.pod, line.service_level)
        if matches(line, query):
            lines.append(line)
    return lines


def _by_time(lines: list[LogLine]) -> list[LogLine]:
    """Lines of all files in time order; lines of one file keep their order (the sort is stable)."""
    return sorted(lines, key=lambda line: line.timestamp)
