"""Stand-ins for the base images the Dockerfiles name, made without a registry, once per data root.

debian-rootfs.sh debootstraps a minbase bookworm, imported as localhost/debian:bookworm and tagged
debian:bookworm-slim; python-standin.Dockerfile adds Debian's Python 3.11 on top, tagged
python:3.11-slim-bookworm. Neither builder pulls an image it finds locally, so the project's Dockerfiles
build unmodified. Each image carries a label with the hash of its recipe: a changed recipe rebuilds them.
Debootstrap, installed when missing, takes most of the minute or two this costs.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support.docker_engine.engine import DockerEngine, DockerError
from tests.support.prometheus import debian_binary

HERE = Path(__file__).parent
ROOTFS = HERE / "debian-rootfs.sh"
PYTHON_RECIPE = HERE / "python-standin.Dockerfile"
DEBIAN = "localhost/debian:bookworm"
PYTHON = "localhost/python:3.11-slim-bookworm"
ALIASES = {DEBIAN: ["debian:bookworm-slim"], PYTHON: ["python:3.11-slim-bookworm"]}
LABEL = "io.kanri.test.recipe"
# The extra certificate authorities the host trusts: HTTPS from here may pass a proxy that signs with its own.
HOST_CAS = Path("/usr/local/share/ca-certificates")


def recipe() -> str:
    return hashlib.sha256(ROOTFS.read_bytes() + PYTHON_RECIPE.read_bytes()).hexdigest()[:16]


def ensure_base_images(engine: DockerEngine) -> None:
    """Make the stand-ins unless the data root holds them from this recipe already."""
    names = [name for image, aliases in ALIASES.items() for name in (image, *aliases)]
    if all(engine.image_label(name, LABEL) == recipe() for name in names):
        return
    print("making the base images with debootstrap, once (a minute or two)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="kanri-base-") as work:
        _import_debian(engine, Path(work))
        _build_python(engine, Path(work) / "python")
    for image, aliases in ALIASES.items():
        for alias in aliases:
            engine.docker("tag", image, alias)


def _import_debian(engine: DockerEngine, work: Path) -> None:
    debian_binary("debootstrap", "debootstrap")
    rootfs, tar = work / "rootfs", work / "rootfs.tar"
    for step in (["sh", str(ROOTFS), str(rootfs)], ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(tar), "."]):
        done = subprocess.run(step, capture_output=True, text=True, timeout=1200)
        if done.returncode != 0:
            raise DockerError(f"{' '.join(step)} failed with {done.returncode}:\n{(done.stdout + done.stderr)[-4000:]}")
    engine.docker("import", "--change", 'CMD ["bash"]', "--change", f"LABEL {LABEL}={recipe()}", str(tar), DEBIAN,
                  timeout=300)


def _build_python(engine: DockerEngine, context: Path) -> None:
    (context / "ca").mkdir(parents=True)
    for certificate in HOST_CAS.glob("*.crt"):
        shutil.copy(certificate, context / "ca")
    engine.build(context, PYTHON, PYTHON_RECIPE, labels={LABEL: recipe()}, timeout=900)

