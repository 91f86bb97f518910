"""How commands print: aligned tables for people, --json for scripts."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import click

from kanri.console.ops.views import to_json

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table.")


def emit_json(data: Any) -> None:
    click.echo(json.dumps(to_json(data), indent=2, ensure_ascii=False))


def table(rows: Sequence[Any], columns: dict[str, Callable[[Any], Any]]) -> None:
    """Print rows under upper-case headings, each column as wide as its widest cell."""
    cells = [[_cell(get(row)) for get in columns.values()] for row in rows]
    headings = [name.upper() for name in columns]
    widths = [max(len(text) for text in column) for column in zip(headings, *cells, strict=False)]
    for line in [headings, *cells]:
        click.echo("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip())


def fields(view: Any, names: Sequence[str], shown: Mapping[str, str] | None = None) -> None:
    """One "name: value" line per field, for a single record; `shown` words some fields itself."""
    width = max(len(name) for name in names)
    for name in names:
        value = shown[name] if shown and name in shown else _cell(getattr(view, name))
        click.echo(f"{name.replace('_', ' '):<{width}}  {value}")


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value)
