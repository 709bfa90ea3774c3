"""The syntax of the query language (the CLI, the TUI filter bar, saved views, automation rules):
terms and words, checked without a database. `domain.query` turns a parsed query into SQL.

Space-separated terms, all of which must hold: `status:open priority:P0,P1 assignee:me tag:vpn
created:<7d field.serial_number:SN-1 "quoted phrase" words`. A term that is not understood is an
error naming it, never silently ignored. A query holds at most `limits.QUERY_TERMS_MAX` terms and
`limits.QUERY_CHARS_MAX` characters.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from helpdesk.core.clock import FixedClock
from helpdesk.core.errors import QueryError
from helpdesk.core.limits import QUERY_CHARS_MAX, QUERY_TERMS_MAX, shown
from helpdesk.core.vocabulary import PRIORITIES, STATES

TOKEN_RE = re.compile(r'\s*(?:(?P<key>[A-Za-z_][\w.]*):(?:"(?P<qval>[^"]*)"|(?P<val>\S*))|"(?P<phrase>[^"]*)"|(?P<word>\S+))')
AGE_RE = re.compile(r"^(?P<op>[<>])(?P<n>\d+)(?P<unit>[mhdw])$")
DATE_RE = re.compile(r"^(?P<op>[<>])(?P<date>\d{4}-\d{2}-\d{2})$")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
KEYS = ("status", "priority", "assignee", "type", "customer", "org", "queue", "tag", "created", "updated",
        "in_status", "sla", "number")
TIME_KEYS = ("created", "updated", "in_status")  # in_status: how long the ticket has been in its status
SLA_STATES = {"breached": "breached", "at-risk": "at_risk", "at_risk": "at_risk", "ok": None}


@dataclass
class Term:
    key: str
    value: str
    text: str  # as typed, for error messages


@dataclass
class Query:
    terms: list[Term] = field(default_factory=list)
    words: list[str] = field(default_factory=list)  # full-text words and phrases


def parse(text: str | None) -> Query:
    query = Query()
    text = (text or "").strip()
    if len(text) > QUERY_CHARS_MAX:
        raise QueryError(f"query: longer than {QUERY_CHARS_MAX:,} characters ({len(text):,})")
    pos = 0
    while pos < len(text):
        if len(query.terms) + len(query.words) == QUERY_TERMS_MAX:
            raise QueryError(f"query: more than {QUERY_TERMS_MAX} terms")
        match = TOKEN_RE.match(text, pos)
        if match is None or match.end() == pos:
            raise QueryError(f"query: cannot read '{text[pos:].strip()}' (an unclosed quote?)")
        pos = match.end()
        if match.group("key"):
            key = match.group("key").lower()
            value = match.group("qval") if match.group("qval") is not None else match.group("val")
            term_text = match.group(0).strip()
            if match.group("qval") is None and '"' in value:
                raise QueryError(f"query: cannot read '{term_text}' (an unclosed quote?)")
            if key not in KEYS and not key.startswith("field."):
                raise QueryError(f"query: unknown term {shown(term_text)} (terms: {', '.join(KEYS)}, field.NAME)")
            if value == "":
                raise QueryError(f"query: term '{term_text}' needs a value")
            query.terms.append(Term(key, value, term_text))
        elif match.group("phrase") is not None:
            if match.group("phrase").strip():
                query.words.append(match.group("phrase").strip())
        elif match.group("word"):
            word = match.group("word")
            if '"' in word:
                raise QueryError(f"query: cannot read '{word}' (an unclosed quote?)")
            query.words.append(word)
    return query


def values(term: Term) -> list[str]:
    found = [v.strip() for v in term.value.split(",") if v.strip()]
    if not found:
        raise QueryError(f"query: term '{term.text}' needs a value")
    return found


def time_bound(term: Term, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A time term as (op, moment): the column must be `>` or `<` (or `>=`) the moment.
    `created:<7d` = created less than 7 days ago (newer than the cutoff)."""
    age = AGE_RE.match(term.value)
    if age:
        try:
            cutoff = now - dt.timedelta(**{UNITS[age.group("unit")]: int(age.group("n"))})
        except OverflowError:
            raise QueryError(f"query: '{term.text}' reaches too far back") from None
        return (">" if age.group("op") == "<" else "<"), cutoff
    date = DATE_RE.match(term.value)
    if date:
        try:
            day = dt.datetime.fromisoformat(date.group("date"))
        except ValueError:
            raise QueryError(f"query: '{term.text}' is not a real date") from None
        return ("<", day) if date.group("op") == "<" else (">=", day + dt.timedelta(days=1))
    raise QueryError(f"query: '{term.text}' must look like {term.key}:<7d, {term.key}:>2h or "
                     f"{term.key}:>2026-01-31")


def check_static(query: Query) -> None:
    """Check what can be checked without a database (rules are validated at start)."""
    for term in query.terms:
        if term.key in TIME_KEYS:
            time_bound(term, FixedClock().now())
        elif term.key == "status":
            for v in values(term):
                if v.lower() != "open" and v.lower() not in STATES:
                    raise QueryError(f"query: unknown status '{v}' in '{term.text}'")
        elif term.key == "priority":
            for v in values(term):
                if v.upper() not in PRIORITIES:
                    raise QueryError(f"query: unknown priority '{v}' in '{term.text}' (P0..P3)")
        elif term.key == "sla":
            for v in values(term):
                if v.lower() not in SLA_STATES:
                    raise QueryError(f"query: unknown SLA state '{v}' in '{term.text}' (breached, at-risk, ok)")
