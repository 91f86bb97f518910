"""The documentation: the mkdocs site builds in strict mode (a broken link between pages fails), and every
relative link in the README leads to a file that exists."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                           cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "kubernetes" / "index.html").exists()


def test_the_readmes_links_lead_somewhere() -> None:
    for readme in (ROOT / "README.md", ROOT / "bench" / "README.md"):
        targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", readme.read_text())
        missing = [t for t in targets if "://" not in t and not (readme.parent / t).exists()]
        assert missing == [], f"{readme.relative_to(ROOT)} links to files that do not exist: {missing}"
