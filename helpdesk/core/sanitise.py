"""The one sanitiser: text from outside (mail, names, filenames, model output) is stored as it came and
made inert here, at every output.

- `inert` is for people (tables, `show`, history, notices, errors, logs, the TUI): every control
  character, escape sequence introducer and bidi / invisible formatting character becomes a visible
  form, so a terminal never obeys it and a reader sees that it is there.
- `json_dumps` is for `--json` / `--nl`: valid JSON whose C0, C1, bidi and invisible characters are
  `\\uXXXX` escapes (a viewer that prints the JSON stays safe too).
- `csv_cell` is for `--csv` and `export`: control characters made visible and spreadsheet formulas
  defused (OWASP: a cell starting with `=`, `+`, `-`, `@`, tab or CR gets a leading `'`).
- `InertLogFormatter` is `inert` for log lines.

Nothing here imports rich or the store: every layer may use it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Invisible formatting and bidi controls beyond C0/C1: zero-width characters and marks, embeddings and
# overrides, isolates, line/paragraph separators (terminals treat them as breaks), word joiner and
# invisible operators, the BOM / zero-width no-break space, the Arabic letter mark, interlinear
# annotation controls and the Mongolian vowel separator.
_FORMAT_RANGES = "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\u061c\u180e\ufff9-\ufffb"
# Lone surrogates (from undecodable bytes: surrogateescape) cannot be encoded for any output.
_SURROGATES = "\ud800-\udfff"

# What `inert` rewrites: all of C0 but newline and tab, DEL, all of C1, the format characters, surrogates.
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f{_FORMAT_RANGES}{_SURROGATES}]")
_UNSAFE_KEEP_LAYOUT = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f{_FORMAT_RANGES}{_SURROGATES}]")
# What JSON output escapes on top of what json.dumps escapes itself (C0, quote, backslash).
_JSON_UNSAFE = re.compile(f"[\x7f-\x9f{_FORMAT_RANGES}{_SURROGATES}]")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def visible_form(char: str) -> str:
    """How one unsafe character is shown: C0 and DEL as their control pictures (ESC as '␛'), the rest
    as <U+XXXX>."""
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"<U+{code:04X}>"


def _visible(match: re.Match) -> str:
    return visible_form(match.group(0))


def inert(text: Any, *, layout: bool = True) -> str:
    """`text` made safe for a terminal or a log line. With `layout`, newline and tab stay (multi-line
    bodies); without it they become visible too (one-line cells, errors, notices)."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    pattern = _UNSAFE_KEEP_LAYOUT if layout else _UNSAFE
    return pattern.sub(_visible, text)


def is_inert(text: str, *, layout: bool = True) -> bool:
    """True when `text` holds nothing `inert` would rewrite."""
    pattern = _UNSAFE_KEEP_LAYOUT if layout else _UNSAFE
    return pattern.search(text) is None


def _json_escape(match: re.Match) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def json_dumps(value: Any, *, indent: int | None = None, **kwargs: Any) -> str:
    """JSON text with every control, bidi and invisible character escaped as \\uXXXX (json.dumps does
    C0 only when it keeps non-ASCII text readable). Lone surrogates become escapes too, so writing the
    result never fails."""
    import json  # lazy: the TUI's launch loads this module for its sanitiser and writes no JSON

    text = json.dumps(value, ensure_ascii=False, indent=indent, **kwargs)
    # Outside strings JSON is pure ASCII, so every such character sits inside a string literal, where
    # its escape means the same character.
    return _JSON_UNSAFE.sub(_json_escape, text)


def csv_cell(value: Any, *, raw: bool = False) -> Any:
    """A CSV cell: made visible and formula-proof unless `raw`. Numbers and booleans pass unchanged
    (a negative number is not a formula)."""
    if raw or not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        value = "'" + value
    # Newlines and tabs inside a quoted cell are data, kept; every other control is made visible.
    return inert(value, layout=True)


class InertLogFormatter(logging.Formatter):
    """Log lines (the daemon's) with every message made inert: a mail subject quoted in a log message
    can neither drive the terminal tailing the log nor forge a log line of its own (its newlines are
    shown, not obeyed). Tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return inert(super().formatMessage(record), layout=False)

    def formatException(self, ei) -> str:
        return inert(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return inert(super().formatStack(stack_info))
