"""What fits in the terminal's width: names shortened in the middle, text cut between words, and columns
abbreviated or hidden least important first, so that nothing on screen is cut mid-word at 80×24.

Operators know a replica by both ends of its name (`digits-prod-b-…-zpwgl`), so a name loses its middle;
prose loses its last words; a figure is never cut: its column is hidden whole instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.text import Text

ELLIPSIS = "…"
NARROW = 100  # columns under which every screen lays out tighter (80×24 is the size to fit)
Kind = Literal["figure", "name", "text"]


def shorten(name: str, width: int) -> str:
    """`digits-prod-b-50a2f155-zpwgl` → `digits-pr…55-zpwgl`: both ends kept, the middle given up."""
    if len(name) <= width:
        return name
    if width <= 1:
        return ELLIPSIS[:width]
    head = width // 2
    tail = width - 1 - head
    return name[:head] + ELLIPSIS + (name[-tail:] if tail else "")


def cut_words(text: str, width: int) -> str:
    """Text cut after the last whole word that fits, with …; a first word too long is shortened as a name."""
    if cell_len(text) <= width:
        return text
    kept = text[:max(width - 1, 0)]
    space = kept.rfind(" ")
    if space <= 0:
        return shorten(text.split(" ", 1)[0], width)
    return kept[:space].rstrip(" ,;:-") + ELLIPSIS


def fitted(value: Text | str, width: int, kind: Kind) -> Text | str:
    """A cell's value made to fit `width` the way its kind allows (a figure is returned as it is)."""
    plain = value.plain if isinstance(value, Text) else value
    if kind == "figure" or cell_len(plain) <= width:
        return value
    short = shorten(plain, width) if kind == "name" else cut_words(plain, width)
    return Text(short, style=value.style) if isinstance(value, Text) else short


def fit_parts(parts: Iterable[Text | str], width: int, prose: Text | str = "", separator: str = "   ") -> Text:
    """A one-line status from parts in order of importance: each part that still fits is kept whole, the
    others left out; `prose` comes last, cut between words to the room left (left out below 8 cells)."""
    line = Text()
    for part in parts:
        text = part if isinstance(part, Text) else Text(part)
        gap = len(separator) if line else 0
        if text.plain and line.cell_len + gap + text.cell_len <= width:
            line.append(separator if gap else "")
            line.append_text(text)
    room = width - line.cell_len - (len(separator) if line else 0)
    if prose and room >= min(8, cell_len(str(prose))):
        line.append(separator if line else "")
        line.append_text(fitted(prose if isinstance(prose, Text) else Text(prose), room, "text"))
    return line


@dataclass(frozen=True)
class Spec:
    """One column: `rank` 0 is always shown, and the highest rank is hidden first; `short` is the label used
    when room is short; a name or text column may be cut down to `least` cells."""

    key: str
    label: str
    short: str = ""
    rank: int = 0
    kind: Kind = "figure"
    least: int = 8


@dataclass(frozen=True)
class Placed:
    spec: Spec
    width: int  # content cells, padding excluded
    label: str


def fit_columns(specs: Sequence[Spec], widest: Mapping[str, int], room: int, padding: int = 2) -> list[Placed]:
    """The columns to show, in order, with their widths: within `room` cells if at all possible.

    `widest` is each column's widest value. Least lost first: empty columns, short labels, then prose cut and
    names shortened, then columns hidden by rank, each time trying the first two again.
    When even the always-shown columns do not fit, they are returned cut as far as allowed, and the caller
    scrolls.
    """
    hide_order = sorted((s for s in specs if s.rank > 0), reverse=True,
                        key=lambda s: (widest.get(s.key, 0) == 0, s.rank, specs.index(s)))
    empty = sum(widest.get(s.key, 0) == 0 for s in hide_order)
    stages = ((False, False, False), (True, False, False), (True, True, True))
    for hidden in range(len(hide_order) + 1):
        shown = [s for s in specs if s not in hide_order[:hidden]]
        for stage in stages if hidden >= empty else stages[:1]:  # empty columns go before anything is cut
            if _total(shown, widest, *stage, padding) <= room:
                return _grow(shown, widest, stage, room, padding)
    shown = [s for s in specs if s.rank == 0]
    return _grow(shown, widest, (True, True, True), room, padding)


def _width(spec: Spec, widest: Mapping[str, int], short_label: bool, cut_text: bool, cut_names: bool) -> Placed:
    label = spec.short if short_label and spec.short else spec.label
    values = widest.get(spec.key, 0)
    if (spec.kind == "text" and cut_text) or (spec.kind == "name" and cut_names):
        values = min(values, spec.least)
    return Placed(spec, max(values, cell_len(label)), label)


def _total(shown: Sequence[Spec], widest: Mapping[str, int], short_label: bool, cut_text: bool, cut_names: bool,
           padding: int) -> int:
    return sum(_width(s, widest, short_label, cut_text, cut_names).width + padding for s in shown)


def _grow(shown: Sequence[Spec], widest: Mapping[str, int], stage: tuple[bool, bool, bool], room: int,
          padding: int) -> list[Placed]:
    """From the stage that fits, give what room is left back: full labels, then the cut columns' cells, most
    important first."""
    placed = [_width(s, widest, *stage) for s in shown]
    spare = room - sum(p.width + padding for p in placed)
    by_importance = sorted(range(len(placed)), key=lambda i: (placed[i].spec.rank, i))
    for i in by_importance:
        full = _width(placed[i].spec, widest, False, stage[1], stage[2])
        if full.label != placed[i].label and full.width - placed[i].width <= spare:
            spare -= full.width - placed[i].width
            placed[i] = full
    for i in by_importance:
        p = placed[i]
        grown = min(widest.get(p.spec.key, 0), p.width + max(spare, 0))
        if grown > p.width:
            spare -= grown - p.width
            placed[i] = Placed(p.spec, grown, p.label)
    return placed
