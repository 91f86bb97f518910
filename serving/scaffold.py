"""`kanri startapp NAME`: write a new predictor app that trains, serves and tests.

The templates are package data (serving/templates/app/*.tmpl, string.Template
with $name and $class_name), so this works from an installed wheel too.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from string import Template

# A DNS label: the app name ends up in service names and metric labels.
_APP_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?")

# Names the generated predictor.py binds besides the class; keep in step with
# predictor.py.tmpl. None/True/False are the capitalised keywords.
_TAKEN = frozenset({"PredictInterface", "PredictResult", "None", "True", "False"})


def app_class_name(name: str) -> str:
    """movie-review -> MovieReview; raises ValueError unless name is a valid app name."""
    if not _APP_NAME.fullmatch(name):
        raise ValueError(
            f"invalid app name {name!r}: use 1-63 lowercase letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen (e.g. 'sentiment')"
        )
    class_name = "".join(part.capitalize() for part in name.split("-"))
    if class_name in _TAKEN:
        raise ValueError(f"invalid app name {name!r}: its class name {class_name} is reserved")
    return class_name


def startapp(name: str, directory: Path) -> Path:
    """Create directory/NAME/ from the app templates and return its path."""
    values = {"name": name, "class_name": app_class_name(name)}
    templates = resources.files("kanri.serving") / "templates" / "app"
    files = {
        t.name.removesuffix(".tmpl"): Template(t.read_text(encoding="utf-8")).substitute(values)
        for t in templates.iterdir()
        if t.name.endswith(".tmpl")
    }
    app_dir = Path(directory) / name
    try:
        app_dir.mkdir(parents=True)
    except FileExistsError:
        raise FileExistsError(f"{app_dir} already exists; remove it or choose another app name") from None
    for filename, text in sorted(files.items()):
        (app_dir / filename).write_text(text, encoding="utf-8")
    return app_dir
