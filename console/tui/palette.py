"""The command palette's kanri commands: every action of the main screen and every application by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class KanriCommands(Provider):
    def _commands(self) -> list[tuple[str, str, object]]:
        from kanri.console.tui.screens.main import MainScreen
        from kanri.console.tui.widgets.app_list import AppList

        screen = next((s for s in self.app.screen_stack if isinstance(s, MainScreen)), None)
        if screen is None:
            return []
        commands: list[tuple[str, str, object]] = []
        for binding in screen.BINDINGS:
            if binding.description and screen.check_action(binding.action, ()):
                commands.append((binding.description, f"key {binding.key_display or binding.key}",
                                 partial(screen.run_action, binding.action)))
        for app in screen.query_one(AppList).apps:
            commands.append((f"Open application {app.name}", app.health, partial(screen.select_app, app.name)))
        return commands

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
