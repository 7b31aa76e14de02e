"""Tables: small ones as Markdown, big or interactive ones through st.dataframe with pandas loaded safely.

Why: st.dataframe converts through pandas, and pandas is 67 MB of the server's memory (measured: import alone),
more than a tenth of the smallest hosts' 690 MB. The pages everyone opens (Home, Train before a run, Evaluate,
Draw) show small fixed tables, drawn as Markdown; pandas loads only where a page needs st.dataframe (the class
board, a finished run's epoch table). Two script threads importing pandas for the first time at once crashed
with "partially initialized module 'pandas'" (seen under load), so that first import happens under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

_pandas_lock = threading.Lock()


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


def dataframe(data: Any, **kwargs: Any) -> Any:
    """st.dataframe, with pandas imported first under a lock (see above)."""
    with _pandas_lock:
        import pandas  # noqa: F401
    return st.dataframe(data, **kwargs)
