"""The one sanitiser: whatever a stranger wrote, its output holds no raw control, bidi or invisible
character, and JSON output still decodes to exactly what was stored."""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given, strategies as st

from helpdesk.core.sanitise import csv_cell, inert, is_inert, json_dumps, visible_form

# Any code point, surrogates included (undecodable bytes arrive as lone surrogates).
ANY_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF))
PAYLOADS = [
    "\x1b]0;owned\x07", "\x1b[2J", "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\",
    "\x1b]52;c;cm0gLXJmIH4=\x07", "\u009b31m", "\u202eevil", "zero\u200bwidth", "\u2066iso\u2069", "\x00nul",
    "\x7fdel", "[/]oops", "[link=http://evil.example]click[/link]",
]


def unsafe(ch: str, layout: bool) -> bool:
    code = ord(ch)
    if layout and ch in "\n\t":
        return False
    return (code < 0x20 or 0x7F <= code <= 0x9F or 0x200B <= code <= 0x200F or 0x202A <= code <= 0x202E
            or 0x2066 <= code <= 0x2069 or 0xD800 <= code <= 0xDFFF)


@given(ANY_TEXT)
def test_inert_leaves_no_raw_control_and_always_encodes(text):
    for layout in (True, False):
        shown = inert(text, layout=layout)
        assert not any(unsafe(ch, layout) for ch in shown)
        assert is_inert(shown, layout=layout)
        shown.encode("utf-8")  # never a UnicodeEncodeError


@given(ANY_TEXT)
def test_inert_changes_only_what_is_unsafe(text):
    safe = "".join(ch for ch in text if not unsafe(ch, True) and unicodedata.category(ch) != "Cf"
                   and ch not in "\u2028\u2029")
    assert inert(safe) == safe


@given(ANY_TEXT)
def test_json_round_trips_and_escapes_every_unsafe_character(text):
    out = json_dumps({"title": text, "tags": [text]})
    out.encode("utf-8")
    assert not any(unsafe(ch, False) or 0x2028 <= ord(ch) <= 0x202E for ch in out)
    assert json.loads(out) == {"title": text, "tags": [text]}


@given(ANY_TEXT)
def test_csv_cells_are_inert_and_never_formulas(text):
    cell = csv_cell(text)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert not any(unsafe(ch, True) for ch in cell)
    assert csv_cell(text, raw=True) == text


def test_known_payloads_become_visible():
    for payload in PAYLOADS:
        shown = inert(payload)
        assert "\x1b" not in shown and "\u009b" not in shown and "\u202e" not in shown
    assert inert("\x1b[2J") == "\u241b[2J"
    assert visible_form("\u202e") == "<U+202E>"
    assert inert("[/]oops") == "[/]oops"  # markup is not ours to strip: renderers never parse it
    assert inert("line one\nline two\ttab") == "line one\nline two\ttab"
    assert inert("line one\nline two", layout=False) == "line one\u240aline two"


def test_numbers_and_negative_numbers_are_not_formulas():
    assert csv_cell(-3) == -3
    assert csv_cell(True) is True
    assert csv_cell("=HYPERLINK(\"http://evil\")") == "'=HYPERLINK(\"http://evil\")"
    assert csv_cell("-1+1") == "'-1+1"
