"""A ticket's typed fields and tags, checked: the values every write path (intake, edit, import, the
query language's `field.NAME:` terms) accepts."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from helpdesk.config import FieldSpec, TicketType
from helpdesk.core import limits
from helpdesk.core.errors import InvalidInput


def ticket_type(desk, name: str | None) -> TicketType | None:
    if name is None or name == "":
        return None
    ttype = desk.config.type(name)
    if ttype is None:
        known = ", ".join(t.name for t in desk.config.types) or "none configured"
        raise InvalidInput(f"unknown type {limits.shown(name)} (types: {known})")
    return ttype


def coerce_field(ttype: TicketType, spec: FieldSpec, value: Any) -> Any:
    """A field value from text or JSON, checked against its kind; a bad value names the field."""
    if value is None or value == "":
        return None
    where = f"field '{spec.name}' of type '{ttype.name}'"
    kind = spec.kind
    try:
        if kind == "text":
            if isinstance(value, (dict, list)):
                raise ValueError
            limits.check_text(where, str(value), limits.FIELD_TEXT_MAX)
            return str(value)
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            number = int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
            if not -2**63 <= number < 2**63:  # the column is a 64-bit integer on both backends
                raise InvalidInput(f"{where} is out of range: {limits.shown(value)}")
            return number
        if kind == "number":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            return number
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "yes", "y", "1", "on"):
                return True
            if text in ("false", "no", "n", "0", "off"):
                return False
            raise ValueError
        if kind == "date":
            if isinstance(value, dt.date):
                return value
            return dt.date.fromisoformat(str(value).strip())
        if kind == "choice":
            text = str(value)
            if text not in spec.options:
                raise InvalidInput(f"{where}: {limits.shown(text)} is not one of {', '.join(spec.options)}")
            return text
    except (ValueError, TypeError, OverflowError):
        expected = {"int": "a whole number", "number": "a number", "bool": "true or false",
                    "date": "a date YYYY-MM-DD", "text": "text"}[kind]
        given = {dict: "an object", list: "a list"}.get(type(value)) or limits.shown(value)
        raise InvalidInput(f"{where} must be {expected}, not {given}") from None
    raise InvalidInput(f"{where} has unknown kind {kind}")


def check_fields(ttype: TicketType | None, values: dict[str, Any], *, creating: bool,
                 problems: dict[str, str] | None = None) -> dict[str, Any]:
    """The values checked and coerced to their kinds. A bad one raises InvalidInput, unless `problems` is
    given: then each bad field's message goes there under its name and the rest are still checked (a
    form shows every message beside its field)."""
    if not values and (ttype is None or not creating):
        return {}
    if ttype is None:
        raise InvalidInput(f"field {limits.shown(next(iter(values)))} needs a ticket type (--type)")
    clean = {}
    for name, value in values.items():
        try:
            spec = ttype.field(name)
            if spec is None:
                known = ", ".join(f.name for f in ttype.fields) or "none"
                raise InvalidInput(f"unknown field {limits.shown(name)} for type '{ttype.name}' (fields: {known})")
            clean[name] = coerce_field(ttype, spec, value)
        except InvalidInput as error:
            if problems is None:
                raise
            problems.setdefault(name, str(error))
    if creating:
        for spec in ttype.fields:
            if spec.required and clean.get(spec.name) is None and spec.name not in (problems or {}):
                message = f"field '{spec.name}' of type '{ttype.name}' is required"
                if problems is None:
                    raise InvalidInput(message)
                problems[spec.name] = message
    return clean


def normalise_tags(tags: Any) -> list[str]:
    """Tags from a list or a comma/space-separated string: lower-cased, each a safe name, no repeats,
    at most `limits.TAGS_PER_TICKET`."""
    if tags is None or tags == "":
        return []
    if isinstance(tags, str):
        tags = re.split(r"[,\s]+", tags)
    if not isinstance(tags, list):
        raise InvalidInput("tags must be a list or a comma-separated string")
    out: dict[str, None] = {}  # ordered, and a repeat costs nothing (a list lookup made 100,000 tags take 33 s)
    for tag in tags:
        if isinstance(tag, (dict, list)):
            raise InvalidInput("a tag must be text, not an object or a list")
        tag = str(tag).strip().lower()
        if tag:
            out[limits.check_name("tag", tag)] = None
            if len(out) > limits.TAGS_PER_TICKET:
                raise InvalidInput(f"more than {limits.TAGS_PER_TICKET} tags")
    return list(out)
