"""The state a command works with, opened once per invocation and only when needed."""

from __future__ import annotations

from collections.abc import Callable
from functools import update_wrapper
from typing import Any

import click

from kanri.console import config
from kanri.console.ops.context import Context
from kanri.console.wiring import open_context


class State:
    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file
        self._settings: config.Settings | None = None
        self._context: Context | None = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            self._settings = config.load(self.config_file)
        return self._settings

    @property
    def context(self) -> Context:
        if self._context is None:
            self._context = open_context(self.settings)
        return self._context

    def close(self) -> None:
        if self._context is not None:
            self._context.registry.close()


def pass_context(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the operations context as its first argument."""

    @click.pass_context
    def run(click_context: click.Context, *args: Any, **kwargs: Any) -> Any:
        return command(click_context.find_object(State).context, *args, **kwargs)

    return update_wrapper(run, command)
