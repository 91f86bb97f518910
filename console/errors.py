"""The errors the operations layer reports: each message says what failed and what to do."""

from __future__ import annotations


class KanriError(Exception):
    """Shown to the operator as one line; the CLI exits non-zero, the console shows it in place."""


class NotFound(KanriError):
    pass


class Invalid(KanriError):
    pass


class Conflict(KanriError):
    """Someone else changed what this operation read; nothing was written."""


class Unavailable(KanriError):
    """A database, cluster or telemetry source could not be reached."""
