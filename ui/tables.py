"""Small tables as Markdown: narrow, they wrap on a 390 px phone (no sideways scrolling), need no dataframe
machinery, and show the data as text only (every cell is escaped)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st


def _escape(cell: object) -> str:
    """A cell as Markdown text: no markup from the data (|, *, _, backticks, HTML) reaches the renderer."""
    text = str(cell).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    for ch in "*_`[]<>#~$":
        text = text.replace(ch, "\\" + ch)
    return text


def markdown_table(rows: Sequence[Mapping[str, Any]], key: str, align: Sequence[str] = ()) -> None:
    """A small table (all rows shown) as Markdown: narrow, wraps on a phone, no pandas. `align`: per column
    'l' / 'r' (default right for numbers-as-text columns after the first)."""
    if not rows:
        return
    columns = list(rows[0])
    marks = [(align[i] if i < len(align) else ("l" if i == 0 else "r")) for i in range(len(columns))]
    lines = [
        "| " + " | ".join(_escape(c) for c in columns) + " |",
        "| " + " | ".join(":--" if m == "l" else "--:" for m in marks) + " |",
        *("| " + " | ".join(_escape(row[c]) for c in columns) + " |" for row in rows),
    ]
    with st.container(key=key):
        st.markdown("\n".join(lines))
