"""What fits in the terminal's width (console/tui/fit.py): names lose their middle, prose its last words, and
columns go least important first, so that nothing on an 80-column screen is cut mid-word."""

from __future__ import annotations

from rich.text import Text

from kanri.console.tui.fit import Spec, cut_words, fit_columns, fit_parts, fitted, shorten

POD = "digits-prod-b-50a2f155-zpwgl"
SPECS = (Spec("pod", "pod", kind="name", least=14), Spec("status", "status"), Spec("age", "age", rank=3),
         Spec("memory", "memory", "mem", rank=2), Spec("gpu", "gpu", rank=2), Spec("cpu", "cpu", rank=1),
         Spec("note", "note", rank=1, kind="text", least=10))
WIDEST = {"pod": len(POD), "status": 7, "age": 2, "memory": 5, "gpu": 0, "cpu": 4, "note": 30}


def placed(room: int) -> list[tuple[str, int, str]]:
    return [(p.spec.key, p.width, p.label) for p in fit_columns(SPECS, WIDEST, room)]


def test_a_name_keeps_both_ends_and_prose_its_first_whole_words() -> None:
    assert shorten(POD, 14) == "digits-…-zpwgl"
    assert shorten(POD, len(POD)) == POD
    assert cut_words("standardised pixels, stronger regularisation", 24) == "standardised pixels…"
    assert cut_words("logistic regression on raw pixels", 14) == "logistic…"
    assert cut_words("regularisation", 10) == "regul…tion"  # one word longer than the room: as a name
    styled = fitted(Text("Init:CrashLoopBackOff", style="red"), 8, "figure")
    assert styled.plain == "Init:CrashLoopBackOff"  # a figure is never cut
    assert fitted(Text(POD, style="bold"), 14, "name").style == "bold"


def test_with_room_every_column_shows_whole() -> None:
    assert placed(200) == [("pod", len(POD), "pod"), ("status", 7, "status"), ("age", 3, "age"),
                           ("memory", 6, "memory"), ("gpu", 3, "gpu"), ("cpu", 4, "cpu"), ("note", 30, "note")]


def test_short_of_room_an_empty_column_goes_first_then_labels_shorten_then_words_and_names() -> None:
    assert [key for key, _, _ in placed(90)] == ["pod", "status", "age", "memory", "cpu", "note"]
    assert placed(80) == [("pod", len(POD), "pod"), ("status", 7, "status"), ("age", 3, "age"),
                          ("memory", 6, "memory"), ("cpu", 4, "cpu"), ("note", 20, "note")]
    narrow = dict((key, (width, label)) for key, width, label in placed(60))
    assert narrow["note"][0] < 30 and narrow["pod"][0] < len(POD)  # cut before anything is hidden


def test_then_columns_go_by_rank_and_the_rest_get_back_what_room_is_left() -> None:
    assert [key for key, _, _ in placed(52)] == ["pod", "status", "memory", "cpu", "note"]
    assert [key for key, _, _ in placed(46)] == ["pod", "status", "cpu", "note"]
    assert [key for key, _, _ in placed(40)] == ["pod", "status", "cpu"]
    assert sum(width + 2 for _, width, _ in placed(40)) <= 40


def test_what_must_show_is_cut_as_far_as_allowed_when_nothing_else_is_left() -> None:
    assert placed(10) == [("pod", 14, "pod"), ("status", 7, "status")]  # wider than the room: the caller scrolls


def test_a_status_line_keeps_whole_parts_in_order_and_cuts_only_its_prose() -> None:
    line = fit_parts(["digits", "digits-prod-b · v2", "production: digits-prod 90% / digits-prod-b 10%"], 62,
                     prose="standardised pixels, stronger regularisation")
    assert line.plain == "digits   digits-prod-b · v2   standardised pixels, stronger…"
    assert fit_parts(["a"], 14, prose="x" * 40).plain == "a   xxxxx…xxxx"
    assert fit_parts(["a"], 8, prose="regularisation").plain == "a"  # under 8 cells of prose: left out
