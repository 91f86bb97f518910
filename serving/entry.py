"""The `kanri` command: the runtime's commands from the base install, everything else from the console.

A model container installs kanri alone (the runtime and the SDK); operators
install `kanri[console]`. `kanri serve` and `kanri startapp` never import the
console, so they start fast and work without its dependencies; any other
command loads the console, and without its dependencies says how to get them.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .cli import serve, startapp

RUNTIME_COMMANDS = {"serve": serve, "startapp": startapp}
CONSOLE_EXTRA = "pip install 'kanri[console]'"


def main() -> None:
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), "")
    if command in RUNTIME_COMMANDS:
        runtime()
        return
    try:
        from kanri.console.cli import main as console_main
    except ModuleNotFoundError as exc:
        if command:
            sys.exit(f"error: kanri {command} is part of the console, which needs packages this installation "
                     f"lacks ({exc.name}); install them with: {CONSOLE_EXTRA}")
        runtime()
        return
    console_main()


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             epilog=f"The console's commands (console, demo, app, model, service, switch, ...) need its "
                    f"dependencies: {CONSOLE_EXTRA}")
@click.version_option(__version__, prog_name="kanri")
def runtime() -> None:
    """kanri's serving runtime (the console is not installed)."""


for _command in RUNTIME_COMMANDS.values():
    runtime.add_command(_command)
