"""The zh-TW catalog speaks the tutorial's vocabulary (docs/glossary.md) and Taiwan's IT usage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ui import i18n

GLOSSARY = Path(__file__).resolve().parent.parent / "docs" / "glossary.md"
# Keys whose English uses a glossary word in another sense (key -> glossary terms not required there).
NOT_THE_TERM: dict[str, set[str]] = {
    "charts.confusion.x": {"digit"},  # the tutorial's axis titles: 預測標籤 / 真實標籤
    "charts.confusion.y": {"digit"},
    "common.models.kind_other": {"training"},  # "Training run of …" reads "… 的訓練" in Chinese
    "evaluate.upload.help": {"run (a training run)"},  # files that would *run* code
    "inside.adv.eps": {"scale"},  # a 0–1 scale, not scaling
    "train.field.precision": {"precision"},  # fp32 / bf16, not the metric
}


def _tables(text: str) -> list[list[dict[str, str]]]:
    """Every Markdown table of the file as a list of rows {header: cell}."""
    tables, rows, header = [], [], None
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(header, cells, strict=True)))
        elif header is not None:
            tables.append(rows)
            rows, header = [], None
    return tables


def _alternatives(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(" / ") if part.strip()]


TERMS, FORBIDDEN = _tables(GLOSSARY.read_text(encoding="utf-8"))


def _texts(lang: str) -> dict[str, str]:
    """key -> the entry's text (plural forms joined)."""
    return {key: " ".join(v.values()) if isinstance(v, dict) else v for key, v in i18n.catalog(lang).items()}


def _words(text: str) -> str:
    """English prose only: {placeholders} and `code` are not words of the sentence."""
    return re.sub(r"\{[^{}]*\}|`[^`]*`", " ", text)


def _without_terms(text: str) -> str:
    """The text with the glossary's own zh-TW terms cut out (演算法 must not count as 算法)."""
    for term in sorted({alt for row in TERMS for alt in _alternatives(row["zh-TW"])}, key=len, reverse=True):
        text = text.replace(term, " ")
    return text


def test_the_glossary_parses_with_its_columns():
    assert len(TERMS) >= 60 and len(FORBIDDEN) >= 30
    assert set(TERMS[0]) == {"Term", "zh-TW", "English", "Avoid", "Where"}
    assert set(FORBIDDEN[0]) == {"Forbidden", "Use instead"}
    for row in TERMS:
        assert row["Term"] and row["zh-TW"] and row["English"], row
    seed = {
        "卷積",
        "卷積核",
        "池化",
        "激活函數",
        "準確率",
        "損失",
        "學習率",
        "批次",
        "訓練",
        "測試",
        "早停",
        "混淆矩陣",
    }
    assert seed <= {alt for row in TERMS for alt in _alternatives(row["zh-TW"])}


@pytest.mark.parametrize("row", TERMS, ids=lambda row: row["Term"])
def test_zh_tw_uses_the_glossary_spelling(row):
    """Where the English twin uses the term, the zh-TW text uses the glossary's spelling; never an Avoid form."""
    english, chinese = _texts("en"), _texts(i18n.ZH_TW)
    pattern = re.compile(r"\b(" + "|".join(re.escape(e) for e in _alternatives(row["English"])) + r")\b", re.I)
    wanted, avoid = _alternatives(row["zh-TW"]), _alternatives(row["Avoid"])
    wrong = []
    for key, text in chinese.items():
        if any(form in text for form in avoid):
            wrong.append(f"{key}: avoid {avoid} in {text!r}")
        if pattern.search(_words(english.get(key, ""))) and row["Term"] not in NOT_THE_TERM.get(key, set()):
            if not any(form in text for form in wanted):
                wrong.append(f"{key}: {english[key]!r} -> {text!r} lacks {wanted}")
    assert not wrong, "\n".join(wrong)


def test_zh_tw_has_no_mainland_forms():
    wrong = []
    for key, text in _texts(i18n.ZH_TW).items():
        rest = _without_terms(text)
        wrong += [
            f"{key}: {row['Forbidden']} (use {row['Use instead']})" for row in FORBIDDEN if row["Forbidden"] in rest
        ]
    assert not wrong, "\n".join(wrong)
