"""The `kanri` command line."""

from __future__ import annotations

import click

from serving import __version__
from serving.cli import serve, startapp


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kanri")
def main() -> None:
    """kanri operates machine-learning model services."""


main.add_command(serve)
main.add_command(startapp)
