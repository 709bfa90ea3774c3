"""Text and JSON from outside (stdin, import files): strict UTF-8 and JSON within the desk's limits.

Bad input is an `InvalidInput` naming where it is ("stdin line 3: not valid UTF-8 at byte 17"), never
a `UnicodeDecodeError` or a `RecursionError`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from helpdesk.core.errors import InvalidInput
from helpdesk.core.limits import JSON_DEPTH_MAX

_BOM = "\ufeff"
_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def decode_utf8(data: bytes, source: str) -> str:
    """`data` as UTF-8 (a leading byte order mark is not content), or an error naming the line and the
    byte within it: `source` says where the bytes came from ("stdin", a file name)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InvalidInput(f"{source} line {line}: not valid UTF-8 at byte {column} "
                           f"(0x{data[exc.start]:02x}): save it as UTF-8") from None
    return text[1:] if text.startswith(_BOM) else text


def load_json(text: str) -> Any:
    """One JSON document, nested at most `JSON_DEPTH_MAX` deep (Python's parser recurses: 100,000
    brackets would end in a RecursionError). Raises `json.JSONDecodeError` for bad JSON, as
    `json.loads` does, and `InvalidInput` for a document nested too deeply."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise InvalidInput(f"JSON nested deeper than {JSON_DEPTH_MAX} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # a number of more than 4,300 digits: Python refuses to convert it
        raise InvalidInput("JSON holds a number too long to read") from None
    if isinstance(value, (list, dict)) and _depth_over(text, JSON_DEPTH_MAX):
        raise InvalidInput(f"JSON nested deeper than {JSON_DEPTH_MAX} levels")
    return value


def _depth_over(text: str, limit: int) -> bool:
    """Whether valid JSON nests deeper than `limit`: strings blanked, only brackets kept, then the
    innermost pairs removed once per level (each pass runs in C; ordinary records take three)."""
    if text.count("[") + text.count("{") <= limit:  # the usual record: too few brackets to matter
        return False
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    for _ in range(limit):
        if not brackets:
            return False
        brackets = _INNERMOST.sub("", brackets)
    return bool(brackets)
