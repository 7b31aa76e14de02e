"""README's Configuration table is the operator's list of settings: it must name exactly the variables
simplecnn.settings reads, once each, each with a default and a meaning."""

from __future__ import annotations

import re
from pathlib import Path

from simplecnn import settings

README = Path(__file__).resolve().parent.parent / "README.md"
ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|([^|]*)\|([^|]*)\|\s*$")


def configuration_rows(text: str) -> list[tuple[str, str, str]]:
    """(name, default, meaning) of each row of the table under the '## Configuration' heading."""
    section = text.split("\n## Configuration\n", 1)
    assert len(section) == 2, "README.md has no '## Configuration' section"
    body = section[1].split("\n## ", 1)[0]
    return [(m[1], m[2].strip(), m[3].strip()) for line in body.splitlines() if (m := ROW.match(line))]


def test_readme_lists_exactly_the_variables_settings_reads():
    names = [name for name, _, _ in configuration_rows(README.read_text(encoding="utf-8"))]
    expected = [v.name for v in settings.VARIABLES]
    assert len(names) == len(set(names)), f"listed twice: {sorted({n for n in names if names.count(n) > 1})}"
    assert set(names) == set(expected), (
        f"missing from README: {sorted(set(expected) - set(names))}; not in settings.VARIABLES: "
        f"{sorted(set(names) - set(expected))}"
    )


def test_every_row_has_a_default_and_a_meaning():
    rows = configuration_rows(README.read_text(encoding="utf-8"))
    assert rows
    assert all(default and meaning for _, default, meaning in rows), [r for r in rows if not (r[1] and r[2])]


def test_the_parser_sees_a_missing_or_extra_row():
    table = "intro\n## Configuration\n| variable | default | meaning |\n|---|---|---|\n| `A` | `1` | one |\n"
    assert configuration_rows(table + "| `B` | (unset) | two |\n## Next\n| `C` | x | y |\n") == [
        ("A", "`1`", "one"),
        ("B", "(unset)", "two"),
    ]
