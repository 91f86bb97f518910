"""The console application: a composition of screens over one ConsoleData. `kanri console` runs it."""

from __future__ import annotations

from textual.app import App
from textual.binding import Binding

from kanri.console.config import Settings
from kanri.console.tui.data import ConsoleData
from kanri.console.tui.fit import NARROW
from kanri.console.tui.palette import KanriCommands
from kanri.console.tui.screens.help import HelpScreen
from kanri.console.tui.screens.main import MainScreen


class KanriApp(App):
    CSS_PATH = "kanri.tcss"
    TITLE = "kanri"
    COMMANDS = App.COMMANDS | {KanriCommands}
    BINDINGS = [Binding("q", "quit", "Quit"), Binding("question_mark", "help", "Keys", key_display="?"),
                Binding(App.COMMAND_PALETTE_BINDING, "command_palette", "palette", show=False, priority=True,
                        tooltip="Palette: any action or app by name")]
    # Screens lay out tighter under 100 columns (-narrow) and under 30 lines (-short): 80×24 is both.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (NARROW, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]

    def __init__(self, data: ConsoleData, *, refresh_seconds: float = 2.0, traffic: object | None = None) -> None:
        super().__init__()
        self.data = data
        self.refresh_seconds = refresh_seconds
        self.traffic = traffic

    def on_mount(self) -> None:
        self.push_screen(MainScreen(self.data, self.refresh_seconds, self.traffic))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))


def run_console(settings: Settings, *, read_only: bool = False, traffic: object | None = None,
                refresh_seconds: float = 2.0) -> None:
    """Open the console on the configured registry, cluster and telemetry; returns when the operator quits."""
    data = ConsoleData(settings, read_only=read_only)
    try:
        KanriApp(data, refresh_seconds=refresh_seconds, traffic=traffic).run()
    finally:
        data.close()


if __name__ == "__main__":
    from kanri.console import config

    run_console(config.load())
