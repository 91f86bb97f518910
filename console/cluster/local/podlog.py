"""Reading a replica's log for the reason it is not ready: its last error, else its last words."""

from __future__ import annotations

import json
from pathlib import Path

TAIL_BYTES = 16384


def _lines_since(path: Path, offset: int) -> list[str]:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            f.seek(max(offset, size - TAIL_BYTES))
            return f.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return []


def last_error(path: Path, offset: int) -> str:
    """The message of the last error-level JSON line written after offset, or ""."""
    for line in reversed(_lines_since(path, offset)):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
            return str(entry.get("message", ""))
    return ""


def tail(path: Path, offset: int, lines: int = 3) -> str:
    """The last lines written after offset, messages only where they are JSON, joined by " | "."""
    found = []
    for line in _lines_since(path, offset)[-lines:]:
        try:
            entry = json.loads(line)
            found.append(str(entry.get("message", line)) if isinstance(entry, dict) else line)
        except ValueError:
            found.append(line)
    return " | ".join(found)
