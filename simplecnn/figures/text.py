"""Visitor-typed text (a participant's name) as literal text in a Plotly figure.

Plotly renders a subset of HTML in trace names, titles, annotations and hover labels (<a href>, <span style>,
<b>, <br>…) and decodes HTML entities: escaping & < > makes any name show as exactly what was typed.
"""

from __future__ import annotations

import html


def plain(text: object) -> str:
    """`text` as Plotly shows it literally: '<a href="…">CLICK</a>' stays those characters, never a link."""
    return html.escape(str(text), quote=False)
