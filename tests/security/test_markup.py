"""Everything a visitor typed is text: names stay literal in chart legends, titles and hover labels (Plotly renders
a subset of HTML), and CSV cells never become spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json

from simplecnn.figures import room
from simplecnn.training.events import RunStatus
from simplecnn.workshop.board import BoardRow, board_csv

LINK = '<a href="https://example.com/">CLICK</a>'
HUGE = '<span style="font-size:200px">BIG</span>'


def _texts(figure) -> str:
    spec = figure if isinstance(figure, dict) else figure.to_plotly_json()
    return json.dumps(spec)


def test_names_stay_literal_text_in_every_room_chart():
    curves = ({"x": [0.1, 0.2], "loss": [1.0, 0.5]}, {"epoch": [1], "test_accuracy": [0.9]})
    figures = [
        room.overlay([(LINK, *curves), (HUGE, *curves)]),
        room.probe_curve({"x": [0.1], "p": [[0.1] * 10]}),
        room.per_digit_pair([0.9] * 10, [0.8] * 10, (LINK, HUGE)),
        room.live_probe({"x": [0.1], "p": [[0.1] * 10]}),
    ]
    for figure in figures:
        text = _texts(figure)
        assert "<a " not in text and "<span" not in text, text[:300]
    overlay = room.overlay([(LINK, *curves)])
    assert overlay.data[0].name.startswith("&lt;a href=")  # Plotly decodes the entities: shown as typed


def test_hover_labels_carry_no_visitor_text_as_a_template():
    figure = room.per_digit_pair([0.9] * 10, [0.8] * 10, ("%{y} <b>x</b>", "B"))
    assert all("%{fullData.name}" in trace.hovertemplate and "<b>" not in trace.hovertemplate for trace in figure.data)


def test_csv_cells_never_become_formulas():
    names = ["x;=cmd|' /C calc'!A0", '=HYPERLINK("http://evil")', "+1", "-1+2", "@SUM(A1)", " =1", "Ana"]
    rows = [BoardRow(f"run-{i}", n, "quick", RunStatus.QUEUED, 1, 0.0, None, 0.0, 1, 100) for i, n in enumerate(names)]
    text = board_csv(rows)
    cells = [row["participant"] for row in csv.DictReader(io.StringIO(text))]
    assert cells[-1] == "Ana" and all(c.startswith("'") for c in cells[1:-1])
    assert "\"x;=cmd|' /C calc'!A0\"" in text  # quoted: a ';'-separated spreadsheet keeps it one text cell
    for line in text.splitlines()[1:]:
        assert line.split(",")[1].startswith('"'), line
