"""The app's two languages, Traditional Chinese as used in Taiwan (zh-TW) and English: `t("area.key", **values)`.

Strings live in `ui/locales/<lang>/<area>.toml`, one file per page or area, so that people adding strings rarely
touch the same file; a key is `<area>.<name>` (the file's stem, then the TOML path). Values are `str.format`
templates; a table with `one`/`other` is a plural (chosen by the `count` value). docs/i18n.md has the rules,
docs/glossary.md the vocabulary.

Which language a page speaks (`resolve()`): `?lang=` in the URL (a workshop link carries it), else this session's
choice (the sidebar switch), else the participant's remembered choice, else the room's default set by the host,
else the browser's language (`st.context.locale`: zh-* → zh-TW), else English. The choice is kept in the URL and
in the participant, so a reload, a page move or the same link on a phone keeps it.

A key missing in a catalog falls back to English at run time (logged once); with SIMPLECNN_I18N_STRICT=1 (set by
the tests) it raises instead, so a missing string fails a test rather than showing English.
"""

from __future__ import annotations

import enum
import functools
import logging
import string
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from simplecnn import settings

log = logging.getLogger("simplecnn.i18n")

ZH_TW, EN = "zh-TW", "en"
LANGUAGES = (ZH_TW, EN)
FALLBACK = EN
LANG_PARAM = "lang"  # the URL's query parameter
LANG_KEY = "ui_lang"  # session_state: the language of this run (also the sidebar switch's key)
CHOSEN_KEY = "ui_lang_chosen"  # session_state: an explicit choice (URL or switch) made in this session
LOCALIZED_KEY = "ui_lang_localized"  # session_state: keys of select widgets with translated labels
LOCALES = Path(__file__).with_name("locales")
STRICT_ENV = settings.I18N_STRICT.name
PLURAL_FORMS = frozenset({"one", "other"})

Entry = str | dict[str, str]  # a template, or a plural {"one": ..., "other": ...}


class MissingString(KeyError):
    """A key that a catalog lacks (raised only in strict mode, i.e. in the tests)."""


# ---- catalogs (stdlib only) -------------------------------------------------------------------------------------
def _is_plural(value: object) -> bool:
    return isinstance(value, dict) and "other" in value and set(value) <= PLURAL_FORMS


def _flatten(prefix: str, table: Mapping[str, Any], out: dict[str, Entry]) -> None:
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if _is_plural(value):
            out[key] = {form: str(text) for form, text in value.items()}
        elif isinstance(value, dict):
            _flatten(key, value, out)
        elif isinstance(value, str):
            out[key] = value
        else:
            raise TypeError(f"{key}: catalog values are strings or plural tables, not {type(value).__name__}")


@functools.cache
def catalog(lang: str) -> dict[str, Entry]:
    """Every key of one language: `<area>.<toml path>` → template (read once per process)."""
    entries: dict[str, Entry] = {}
    for path in sorted((LOCALES / lang).glob("*.toml")):
        with path.open("rb") as file:
            _flatten(path.stem, tomllib.load(file), entries)
    return entries


def placeholders(entry: Entry) -> set[str]:
    """The `{name}` fields a template uses (all plural forms together)."""
    texts = entry.values() if isinstance(entry, dict) else [entry]
    return {
        field.split(".")[0].split("[")[0]
        for text in texts
        for _, field, _, _ in string.Formatter().parse(text)
        if field
    }


def _strict() -> bool:
    return settings.i18n_strict()


@functools.cache
def _warn_missing(lang: str, key: str) -> None:  # cached: logged once per key
    log.warning("i18n: %s has no %r; showing the English text", lang, key)


def _entry(lang: str, key: str) -> Entry:
    entry = catalog(lang).get(key)
    if entry is not None:
        return entry
    if _strict():
        raise MissingString(f"{lang} catalog has no {key!r}")
    _warn_missing(lang, key)
    return catalog(FALLBACK).get(key) or key


def template(lang: str, key: str) -> str:
    """The raw template of `key` (not formatted): for texts whose placeholders a figure function fills."""
    entry = _entry(lang, key)
    return entry["other"] if isinstance(entry, dict) else entry


def translate(lang: str, key: str, /, **values: Any) -> str:
    """The text of `key` in `lang`, formatted with `values` (a plural entry picks its form by `count`)."""
    entry = _entry(lang, key)
    if isinstance(entry, dict):
        entry = entry["one"] if values.get("count") == 1 and "one" in entry else entry["other"]
    return entry.format(**values)


# ---- which language ---------------------------------------------------------------------------------------------
def normalize(code: object) -> str | None:
    """'zh-TW', 'zh_tw', 'zh-Hant', 'zh' → 'zh-TW'; 'en', 'en-US' → 'en'; anything else → None."""
    if not isinstance(code, str):
        return None
    base = code.strip().replace("_", "-").lower().split("-")[0]
    return ZH_TW if base == "zh" else EN if base == "en" else None


def from_locale(locale: str | None) -> str:
    """The browser's language: any Chinese → zh-TW, anything else → English."""
    return ZH_TW if normalize(locale) == ZH_TW else EN


def resolve(
    url: object = None,
    chosen: object = None,
    remembered: object = None,
    room_default: object = None,
    locale: str | None = None,
) -> str:
    """The first valid of: the URL's ?lang=, this session's choice, the participant's, the room's; else the
    browser's language."""
    for candidate in (url, chosen, remembered, room_default):
        lang = normalize(candidate)
        if lang is not None:
            return lang
    return from_locale(locale)


# ---- Streamlit glue ---------------------------------------------------------------------------------------------
def language() -> str:
    """The language of this script run (English outside one, e.g. in a library test)."""
    try:
        value = st.session_state.get(LANG_KEY)
    except Exception:  # noqa: BLE001 - no Streamlit session (bare import, a worker thread): English
        return FALLBACK
    return value if value in LANGUAGES else FALLBACK


def t(key: str, /, **values: Any) -> str:
    """The visitor's text for `key`: `t("train.start")`, `t("train.queued", position=3)`."""
    return translate(language(), key, **values)


def raw(key: str) -> str:
    """The visitor's template for `key`, unformatted (see `template`)."""
    return template(language(), key)


def status_text(status: Any) -> str:
    """A RunStatus (or any enum of the library's run states) in the visitor's words: `status.<value>`."""
    return t(f"status.{status.value}")


def coded_text(code: Any, params: Mapping[str, Any] | None = None, **overrides: Any) -> str:
    """A library code (an enum whose value is a key under `errors.`) with its params in the visitor's words;
    `overrides` replace params the caller can say better (a status, a list of presets)."""
    key = code.value if isinstance(code, enum.Enum) else code
    if not isinstance(key, str) or f"errors.{key}" not in catalog(FALLBACK):
        return t("errors.unexpected")
    return t(f"errors.{key}", **{**(params or {}), **overrides})


def error_text(exc: BaseException, **overrides: Any) -> str:
    """A library error in the visitor's words (its typed `code` and `params`); an error without a code gets the
    catalog's generic sentence, and its English message goes to the log."""
    code = getattr(exc, "code", None)
    if not isinstance(code, enum.Enum):
        log.warning("i18n: no code for %s: %s", type(exc).__name__, exc)
    return coded_text(code, getattr(exc, "params", None), **overrides)


def cancel_text(run: Any) -> str:
    """Why a run was cancelled (its CancelReason), in the visitor's words."""
    reason = getattr(run, "cancel_reason", None)
    name = reason.name.lower() if isinstance(reason, enum.Enum) else "requested"
    return t(f"status.cancel.{name}")


def failure_text(run: Any) -> str:
    """Why a run failed (its typed failure code), in the visitor's words."""
    return coded_text(getattr(run, "failure", None), getattr(run, "failure_params", None))


def choices(options: Iterable[Any], label: Callable[[Any], str]) -> Callable[[Any], str]:
    """A widget's format_func with its labels made now, in this run's language (a format_func that called t()
    later, e.g. in a test harness, would answer in another language); unknown values show as they are."""
    labels = {option: label(option) for option in options}
    return lambda option: labels.get(option, str(option))


def localized(key: str) -> str:
    """The key of a selectbox/multiselect whose option labels are translated: switching language keeps its
    value (Streamlit would otherwise read the old language's label back as a value)."""
    keys = st.session_state.setdefault(LOCALIZED_KEY, set())
    keys.add(key)
    return key


def _keep_localized_values() -> None:
    for key in st.session_state.get(LOCALIZED_KEY, set()):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]  # pinned: the next run ignores the stale label


def setup(remembered: str | None = None, room_default: str | None = None) -> str:
    """Once per script run, before anything visible (studio.py): decide the language, keep it in the URL."""
    url = normalize(st.query_params.get(LANG_PARAM))
    if url is not None:
        st.session_state[CHOSEN_KEY] = url
    chosen = st.session_state.get(CHOSEN_KEY)
    lang = resolve(url, chosen, remembered, room_default, st.context.locale)
    st.session_state[LANG_KEY] = lang
    if chosen is not None and st.query_params.get(LANG_PARAM) != lang:
        st.query_params[LANG_PARAM] = lang  # a page move dropped the query string: put the choice back
    return lang


def link_suffix() -> str:
    """`&lang=…` for a link this app builds, when the visitor chose a language (a new tab keeps it)."""
    chosen = st.session_state.get(CHOSEN_KEY)
    return f"&{LANG_PARAM}={chosen}" if chosen in LANGUAGES else ""


def language_switch(on_choose: Callable[[str], None] | None = None) -> None:
    """The sidebar's language control (on every page). `on_choose(lang)` remembers a choice elsewhere."""

    def _chosen() -> None:
        lang = st.session_state[LANG_KEY]
        st.session_state[CHOSEN_KEY] = lang
        _keep_localized_values()
        st.query_params[LANG_PARAM] = lang
        if on_choose is not None:
            on_choose(lang)

    st.segmented_control(
        t("common.language.label"),
        LANGUAGES,
        key=LANG_KEY,
        required=True,
        format_func=choices(LANGUAGES, lambda code: t(f"common.language.{code}")),
        on_change=_chosen,
    )
