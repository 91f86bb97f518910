"""The symbols and styles the console uses for state: a shape for every colour, so NO_COLOR loses nothing."""

from __future__ import annotations

from rich.text import Text

from kanri.console.ops.overview import DEGRADED, FAILING, HEALTHY, IDLE
from kanri.console.slo.status import SloStatus

HEALTH = {HEALTHY: ("●", "green"), DEGRADED: ("◐", "yellow"), FAILING: ("✖", "red"), IDLE: ("○", "dim")}
RUNS = "●"
ROLLING = "⟳"
SCALED_TO_ZERO = "↓0"  # an autoscaler's choice with no calls to serve: idle, not broken


def health(state: str) -> Text:
    symbol, style = HEALTH[state]
    return Text(symbol, style=style)


def level_style(level: str) -> str:
    return {"production": "bold red", "staging": "yellow", "development": "cyan"}.get(level, "")


SLO_STYLE = {"critical": "bold red", "warning": "yellow", "ok": "green", "unknown": "dim"}
SLO_MARK = {"critical": "✖", "warning": "▲", "ok": "✓", "unknown": "·"}


def slo(status: SloStatus | None) -> Text:
    """`✓ 97% ×0.3`: budget left and burn rate, or `no slo`."""
    if status is None:
        return Text("no slo", style="dim")
    text = f"{SLO_MARK[status.state]} "
    text += "—" if status.budget_left is None else f"{status.budget_left:.0%}"
    if status.burn_rate is not None:
        text += f" ×{status.burn_rate:.1f}"
    return Text(text, style=SLO_STYLE[status.state])
