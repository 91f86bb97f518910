"""`kanri demo`: digits trained, registered and served at three levels with live traffic, then the console."""

from __future__ import annotations

import time

import click

from kanri.console.commands.output import emit_json, json_option
from kanri.console.demo.artifacts import held_out_images
from kanri.console.demo.plan import APP, LEVELS, demo_home, demo_settings
from kanri.console.demo.provision import provision
from kanri.console.demo.teardown import tear_down
from kanri.console.demo.traffic import Traffic
from kanri.console.wiring import open_context


def _progress(line: str) -> None:
    click.echo(line, err=True)


@click.command("demo")
@click.option("--down", is_flag=True, help="Stop every demo service and delete the demo's home.")
@click.option("--no-console", is_flag=True,
              help="Set up, send traffic for --traffic-seconds, print what it saw and exit (for scripts).")
@click.option("--traffic-seconds", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="With --no-console: how long to send traffic.")
@click.option("--rate", default=20.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Requests per second, spread over the three levels.")
@json_option
def demo(down: bool, no_console: bool, traffic_seconds: float, rate: float, as_json: bool) -> None:
    """Train two digits models, serve them at development, staging and production, send traffic, open the console.

    The demo lives in its own home ($XDG_DATA_HOME/kanri-demo), apart from your registry and
    services. Running it again reuses what exists; --down removes it all.
    """
    home = demo_home()
    if down:
        removed = tear_down(home)
        click.echo("\n".join(removed) if removed else f"no demo to remove (nothing at {home})")
        return
    settings = demo_settings(home)
    ctx = open_context(settings)
    try:
        provision(ctx, home, _progress)
        routes = {level: ctx.backend.address(APP, level) for level in LEVELS}
    finally:
        ctx.registry.close()
    traffic = Traffic(APP, routes, held_out_images(home), rate=rate).start()
    _progress(f"sending {rate:g} requests/s of held-out digits to {', '.join(LEVELS)}")
    try:
        if no_console:
            time.sleep(traffic_seconds)
        else:
            from kanri.console.tui.app import run_console  # Textual loads only when the console opens

            run_console(settings, traffic=traffic)
    finally:
        traffic.stop()
    if as_json:
        emit_json({"home": str(home), "rate": rate, "levels": traffic.stats()})
        return
    _print_traffic(traffic)
    click.echo("the demo keeps running: `kanri demo` opens its console again with traffic, "
               f"`KANRI_HOME={home} kanri console` without; `kanri demo --down` removes it")


def _print_traffic(traffic: Traffic) -> None:
    """The summary line, then per level what answered, by model version, and the last error if any."""
    click.echo(traffic.summary())
    for level, stats in traffic.stats().items():
        versions = ", ".join(f"v{version}: {count}" for version, count in sorted(stats.versions.items()))
        click.echo(f"  {level}: {stats.ok} ok, {stats.failed} failed" + (f" ({versions})" if versions else "")
                   + (f"; last error: {stats.last_error}" if stats.last_error else ""))
