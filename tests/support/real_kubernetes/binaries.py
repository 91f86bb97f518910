"""The real kube-apiserver and kube-controller-manager, built once from Debian's source (build.sh) and cached.

The first build takes minutes (about 5 on two cores); later sessions find the
binaries and start at once. A lock keeps parallel sessions from building twice.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path

from tests.support.prometheus import debian_binary

CACHE = Path(os.environ.get("KANRI_KUBE_CACHE", Path.home() / ".cache" / "kanri-tests" / "kubernetes-1.20.2"))
BUILD = Path(__file__).with_name("build.sh")
KUBE = ("kube-apiserver", "kube-controller-manager")


def kube_binary(name: str) -> Path:
    """A binary of KUBE, built by build.sh first when the cache lacks it (it prints its progress on stderr)."""
    path = CACHE / "bin" / name
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with (CACHE / ".build.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                _build()
    return path


def etcd_binary() -> str:
    return debian_binary("etcd", "etcd-server")


def _build() -> None:
    print(f"building {', '.join(KUBE)} v1.20.2 once into {CACHE} (minutes)", file=sys.stderr)
    build = subprocess.Popen(["bash", str(BUILD)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             env={**os.environ, "KANRI_KUBE_CACHE": str(CACHE)})
    lines = []
    for line in build.stdout:
        print(line, end="", file=sys.stderr)
        lines.append(line)
    if build.wait() != 0:
        raise RuntimeError(f"{BUILD} failed with {build.returncode}:\n{''.join(lines[-40:])}")
