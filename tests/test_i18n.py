"""The two catalogs (ui/locales) agree, and the language a page speaks is chosen as docs/i18n.md says."""

from __future__ import annotations

import re

import pytest

from ui import i18n

EN, ZH = i18n.catalog(i18n.EN), i18n.catalog(i18n.ZH_TW)
FULL_WIDTH_AFTER_CJK = re.compile(r"[\u3400-\u9fff][,:;?!()]|[,:;?!(][\u3400-\u9fff]")


def _texts(entry: i18n.Entry) -> list[str]:
    return list(entry.values()) if isinstance(entry, dict) else [entry]


def test_both_catalogs_have_the_same_keys():
    assert len(EN) > 300
    assert sorted(set(EN) - set(ZH)) == [], "keys missing in zh-TW"
    assert sorted(set(ZH) - set(EN)) == [], "keys missing in en"


def test_both_languages_use_the_same_placeholders():
    differ = {key: (i18n.placeholders(EN[key]), i18n.placeholders(ZH[key])) for key in EN if key in ZH}
    assert not {key: pair for key, pair in differ.items() if pair[0] != pair[1]}


def test_every_template_formats_with_its_own_placeholders():
    for key, entry in EN.items():
        values = {name: 1 for name in i18n.placeholders(entry)}
        for lang in i18n.LANGUAGES:
            for count in (1, 2):
                assert isinstance(i18n.translate(lang, key, **{**values, "count": count}), str), key


def test_plurals_pick_their_form_by_count():
    assert i18n.translate(i18n.EN, "common.epochs.count", count=1) == "1 epoch"
    assert i18n.translate(i18n.EN, "common.epochs.count", count=15) == "15 epochs"
    assert i18n.translate(i18n.ZH_TW, "common.epochs.count", count=15) == "15 輪"


def test_zh_tw_is_chinese_with_full_width_punctuation():
    english_only = [
        key for key, entry in ZH.items() if _texts(entry) == _texts(EN[key]) and re.search("[a-z]{3}", str(entry))
    ]
    assert len(english_only) <= 10, f"zh-TW strings left in English: {english_only}"
    half_width = [key for key, entry in ZH.items() for text in _texts(entry) if FULL_WIDTH_AFTER_CJK.search(text)]
    assert not half_width, f"ASCII punctuation in Chinese text (use ，：；？！（）): {half_width}"


def test_missing_key_raises_in_tests_and_falls_back_to_english_otherwise(monkeypatch):
    with pytest.raises(i18n.MissingString):
        i18n.translate(i18n.ZH_TW, "common.no_such_key")
    monkeypatch.setenv(i18n.STRICT_ENV, "0")
    assert i18n.translate(i18n.ZH_TW, "common.nav.home") == "首頁"
    monkeypatch.delitem(i18n.catalog(i18n.ZH_TW), "common.nav.home")
    assert i18n.translate(i18n.ZH_TW, "common.nav.home") == "Home"  # English, logged once
    assert i18n.translate(i18n.EN, "common.nowhere") == "common.nowhere"


@pytest.mark.parametrize(
    "code,expected",
    [("zh-TW", "zh-TW"), ("zh_tw", "zh-TW"), ("zh-Hant-TW", "zh-TW"), ("zh", "zh-TW"), ("ZH-CN", "zh-TW"),
     ("en", "en"), ("en-US", "en"), ("fr", None), ("", None), (None, None), (["zh-TW"], None)],
)  # fmt: skip
def test_normalize_language_codes(code, expected):
    assert i18n.normalize(code) == expected


@pytest.mark.parametrize(
    "url,chosen,remembered,room,locale,expected",
    [
        ("zh-TW", "en", "en", "en", "en-US", "zh-TW"),  # the link wins
        ("xx", "zh-TW", None, None, "en-US", "zh-TW"),  # an unknown ?lang= is ignored
        (None, "en", "zh-TW", "zh-TW", "zh-TW", "en"),  # then this session's switch
        (None, None, "zh-TW", "en", "en-US", "zh-TW"),  # then the participant's choice
        (None, None, None, "zh-TW", "en-US", "zh-TW"),  # then the room's default
        (None, None, None, "", "zh-HK", "zh-TW"),  # then the browser: any Chinese
        (None, None, None, None, "de-DE", "en"),  # anything else: English
        (None, None, None, None, None, "en"),
    ],
)
def test_resolve_picks_the_first_valid_choice(url, chosen, remembered, room, locale, expected):
    assert i18n.resolve(url, chosen, remembered, room, locale) == expected
