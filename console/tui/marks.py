"""The symbols and styles the console uses for state: a shape for every colour, so NO_COLOR loses nothing."""

from __future__ import annotations

from rich.text import Text

from console.ops.overview import DEGRADED, FAILING, HEALTHY, IDLE

HEALTH = {HEALTHY: ("●", "green"), DEGRADED: ("◐", "yellow"), FAILING: ("✖", "red"), IDLE: ("○", "dim")}
RUNS = "●"
ROLLING = "⟳"


def health(state: str) -> Text:
    symbol, style = HEALTH[state]
    return Text(symbol, style=style)


def level_style(level: str) -> str:
    return {"production": "bold red", "staging": "yellow", "development": "cyan"}.get(level, "")
