"""The fault-injection table: every case of tests/test_faults.py run once, one line each (Markdown).

Run from the repository root: `.venv/bin/python -m bench.faults`.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

from tests.support.faults import FAULTS, LocalCluster, Outcome, run_cluster_fault, run_serve_fault

HEADER = ("| process killed | signal | calls failed (of) | back after (s) | orphans | ports left | sync |\n"
          "|---|---|---|---|---|---|---|")


def row(outcome: Outcome) -> str:
    fault = outcome.fault
    back = (f"down: {fault.down_by_design}" if fault.down_by_design
            else "not back" if outcome.recovery_seconds is None else f"{outcome.recovery_seconds:.2f}")
    sync = {None: "n/a", True: "agrees", False: "drift"}[outcome.consistent]
    return (f"| {fault.target} | {fault.signal.name} | {outcome.failed} ({outcome.calls}) | {back} | "
            f"{len(outcome.orphans)} | {len(outcome.ports)} | {sync} |")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="kanri-faults-") as folder:
        tmp = Path(folder)
        models = {}
        for version, text in (("v1", "one"), ("v2", "two")):
            models[version] = tmp / f"echo-{version}.txt"
            models[version].write_text(text)
        print(HEADER)
        cluster = LocalCluster(tmp / "cluster", models)
        try:
            for n, fault in enumerate(FAULTS):
                serve_tmp = tmp / f"serve-{n}"
                serve_tmp.mkdir()
                outcome = (run_cluster_fault(cluster, fault) if fault.on_cluster
                           else run_serve_fault(serve_tmp, models["v1"], fault))
                print(row(outcome), flush=True)
                for note in outcome.notes + outcome.orphans:
                    print(f"  {note}", file=sys.stderr)
        finally:
            with contextlib.suppress(Exception):
                left = cluster.close()
                print(f"left after kanri local down: {len(left)} processes", file=sys.stderr)


if __name__ == "__main__":
    main()
