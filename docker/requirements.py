"""Prints kanri's requirements for a set of extras, one a line, from pyproject.toml alone.

The images install these in a layer of their own before any source is copied, so an edit to the sources
does not reinstall them; and an extra that pyproject.toml does not declare is an error here, where pip
would only warn and install without it.

Run: python requirements.py PYPROJECT EXTRAS   (EXTRAS: comma-separated, may be empty)
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path


def requirements(pyproject: Path, extras: list[str]) -> list[str]:
    """The base dependencies and those of `extras`, following the project's references to its own extras."""
    project = tomllib.loads(pyproject.read_text())["project"]
    optional = project.get("optional-dependencies", {})
    itself = re.compile(rf"{re.escape(project['name'])}\[([^\]]+)\]", re.IGNORECASE)
    found, pending, seen = list(project["dependencies"]), list(extras), set()
    while pending:
        extra = pending.pop(0)
        if extra in seen:
            continue
        if extra not in optional:
            raise SystemExit(f"{pyproject} declares no extra {extra!r}; it has: {', '.join(sorted(optional))}")
        seen.add(extra)
        for requirement in optional[extra]:
            if reference := itself.fullmatch(requirement.replace(" ", "")):
                pending += reference.group(1).split(",")
            else:
                found.append(requirement)
    return found


if __name__ == "__main__":
    print("\n".join(requirements(Path(sys.argv[1]), [e.strip() for e in sys.argv[2].split(",") if e.strip()])))
