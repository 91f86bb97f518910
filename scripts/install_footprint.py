"""What an installation of kanri weighs: the runtime alone (`pip install .`) and with the console
(`pip install '.[console]'`), each into a new virtual environment from this checkout.

Prints, per installation: the distributions installed, the size of site-packages, and the median
wall time (a new process each, N runs) of importing what `kanri serve` runs on, the start-up a
model container pays before loading its model, and of `kanri --help`, what every command pays.
Needs PyPI (or its mirror); about a minute with a warm pip cache.

    python scripts/install_footprint.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALLS = {"runtime": ".", "runtime and console": ".[console]"}


def site_packages(venv: Path) -> Path:
    where = "import sysconfig; print(sysconfig.get_path('purelib'))"
    return Path(subprocess.run([venv / "bin" / "python", "-c", where], capture_output=True, text=True,
                               check=True).stdout.strip())


def megabytes(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def median_seconds(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, requirement: str, folder: Path, runs: int) -> None:
    venv = folder / name.replace(" ", "-")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
                   cwd=ROOT, check=True)
    listed = subprocess.run([venv / "bin" / "pip", "list", "--format=freeze", "--exclude", "pip"],
                            capture_output=True, text=True, check=True).stdout.split()
    serve = [str(venv / "bin" / "python"), "-c", "import kanri.serving.entry, kanri.serving.cli, kanri.serving.server"]
    print(f"{name:22} {len(listed):3} distributions  {megabytes(site_packages(venv)):6.0f} MB  "
          f"kanri serve's imports {median_seconds(serve, runs):.2f} s  "
          f"kanri --help {median_seconds([str(venv / 'bin' / 'kanri'), '--help'], runs):.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="processes timed per command (the median is shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kanri-footprint-") as folder:
        for name, requirement in INSTALLS.items():
            measure(name, requirement, Path(folder), args.runs)


if __name__ == "__main__":
    main()
