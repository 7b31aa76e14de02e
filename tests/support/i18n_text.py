"""What a visitor reads on a page, and which of it is English: shared by the zh-TW AppTests and browser tests."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

from google.protobuf.json_format import MessageToDict

# Proper nouns and code names that stay as they are in both languages (compared in lower case).
ALLOWED = {
    "simplecnn", "studio", "mnist", "pytorch", "adam", "relu", "softmax", "dropout", "steplr", "ray", "cpu", "gpu",
    "cuda", "mps", "apple", "png", "jpeg", "jpg", "csv", "pth", "conv", "logit", "logits", "state_dict", "state",
    "dict", "bf16", "lenet", "keras", "nan", "idx", "rgb", "rgba", "onecycle", "one", "cycle", "gamma",
    "onnx", "json",
}  # fmt: skip
WORD = re.compile(r"[A-Za-z]{3,}")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Keys of an element's protobuf (as a dict) whose strings a visitor reads.
TEXT_FIELDS = {"body", "label", "help", "placeholder", "options", "caption", "text", "title", "formattedValue"}
TEXT_FIELDS |= {"value", "delta", "defaultValue", "pageName", "tabs"}
SKIP = {
    "labelVisibility",
    "css",
    "html",
    "iconImage",
    "icon",
    "url",
    "args",
    "formId",
    "id",
    "key",
    "pageScriptHash",
    "urlPath",
}


def _strings(value: Any, key: str = "") -> Iterator[str]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name not in SKIP:
                yield from _strings(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item, key)
    elif isinstance(value, str) and key in TEXT_FIELDS:
        yield value


def _figure_strings(spec: str) -> Iterator[str]:
    """Titles, axis titles, legend names, hover templates and annotations of a Plotly figure."""
    figure = json.loads(spec)
    layout = figure.get("layout", {})
    for part in layout.values():
        if isinstance(part, dict) and isinstance(part.get("title"), dict | str):
            title = part["title"]
            yield title.get("text", "") if isinstance(title, dict) else title
    for note in layout.get("annotations", []):
        yield str(note.get("text", ""))
    for trace in figure.get("data", []):
        yield str(trace.get("name", ""))
        yield re.sub(r"%\{[^}]*\}|<[^>]*>", " ", str(trace.get("hovertemplate", "")))


def _column_labels(config: str) -> Iterator[str]:
    for column in json.loads(config or "{}").values():
        if isinstance(column, dict):
            yield str(column.get("label") or "")
            yield str(column.get("help") or "")


def _element_strings(element: Any) -> Iterator[str]:
    proto = getattr(element, "proto", None)
    if proto is None or type(proto).__name__ == "Html":  # page CSS and scripts, not text
        return
    data = MessageToDict(proto)
    if "spec" in data and "plotly" in type(proto).__name__.lower():
        yield from _figure_strings(data.pop("spec"))
    if "columns" in data and isinstance(data["columns"], str):
        yield from _column_labels(data.pop("columns"))
    yield from _strings(data)


def _walk(block: Any) -> Iterator[Any]:
    yield block
    for child in getattr(block, "children", {}).values():
        yield from _walk(child)


def visible_text(at: Any) -> str:
    """Every string of the page's main area and sidebar that a visitor can read (AppTest)."""
    texts: list[str] = []
    for root in (at.main, at.sidebar):
        for node in _walk(root):
            texts.extend(_element_strings(node))
    return "\n".join(text for text in texts if text)


def without_names(text: str) -> str:
    """The text without participants' names: people's own words, in whatever language they chose."""
    from ui import participant, resources

    names = {*participant.room().names().values(), *(run.owner_name for run in resources.scheduler().runs())}
    for name in sorted(filter(None, names), key=len, reverse=True):
        text = text.replace(name, " ").replace(html.escape(name, quote=False), " ")  # charts: escaped (figures.text)
    return text


def english_words(text: str) -> list[str]:
    """Latin words of 3+ letters outside the allow-list (URLs and markdown code spans removed)."""
    text = re.sub(r"https?://\S+|:material/\w+:|`[^`]*`", " ", text)
    return [word for word in WORD.findall(text) if word.lower() not in ALLOWED]


def has_cjk(text: str) -> bool:
    return bool(CJK.search(text))
