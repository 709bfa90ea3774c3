"""The desk's limits on names and sizes: one table, enforced by the domain on every path, the same on
SQLite and PostgreSQL (SQLite would store a 10 MB name; PostgreSQL refuses what its columns cannot hold).
The README's "Limits" section lists them.
"""

from __future__ import annotations

import re

from helpdesk.core.errors import InvalidInput

# Names people type and scripts match on: agent logins, tags, queue and type names. A safe character set,
# so a name never carries a control character, a space or markup into a table or a history line. ASCII
# only: a tag `vpn` with a Cyrillic `р` would look the same and match nothing.
LOGIN_MAX = 64
LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
RESERVED_LOGINS = ("me", "none")
NAME_MAX = 64  # tags (stored lower-cased) and queue names
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
# Type and field names become table and column names: lower-case identifiers.
IDENTIFIER_MAX = 48
IDENTIFIER_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")

TITLE_MAX = 500
PERSON_NAME_MAX = 200  # a customer's or an agent's display name
ORGANISATION_MAX = 200
EMAIL_MAX = 320
IDEMPOTENCY_KEY_MAX = 200
BODY_MAX = 1_000_000  # characters of one request, reply or note
FIELD_TEXT_MAX = 10_000  # characters of one text field of a ticket type
REASON_MAX = 2_000  # a --reason kept in the history
RULE_NAME_MAX = 95  # a rule acts as `rule:NAME` in the history (an actor holds 100 characters)
TAGS_PER_TICKET = 50
RATING_COMMENT_MAX = 4_000  # a comment given with a score (a mail reply's is cut to it, an agent's refused)
ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024  # one attached file (the size of the largest mail a mailbox takes)

# Input from outside: the query language (CLI, TUI filter bar, saved views, rules) and JSON documents.
QUERY_TERMS_MAX = 100  # terms and words of one query
QUERY_CHARS_MAX = 2_000
JSON_DEPTH_MAX = 32  # nesting of arrays and objects (a ticket needs 3)

_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def check_login(login: str) -> str:
    """An agent login: letters, digits and . _ @ + - (starting with a letter or digit), at most 64."""
    if login in RESERVED_LOGINS:
        raise InvalidInput(f"'{login}' is reserved and cannot be an agent login")
    if not LOGIN_RE.match(login):
        raise InvalidInput(
            f"agent login {login[:LOGIN_MAX]!r}{'...' if len(login) > LOGIN_MAX else ''} is not allowed: use "
            f"letters, digits and . _ @ + - (starting with a letter or digit), at most {LOGIN_MAX} characters")
    return login


def check_name(what: str, name: str) -> str:
    """A tag or queue name: letters, digits and . _ + - (starting with a letter or digit), at most 64."""
    if not NAME_RE.match(name):
        raise InvalidInput(
            f"{what} {shown(name)} is not allowed: use letters, digits and . _ + - (starting with a letter "
            f"or digit), at most {NAME_MAX} characters")
    return name


def check_length(what: str, value: str | None, maximum: int) -> None:
    """Refuse text longer than `maximum` characters, naming what it is."""
    if value is not None and len(value) > maximum:
        raise InvalidInput(f"the {what} is longer than {maximum:,} characters ({len(value):,})")


def check_text(what: str, value: str | None, maximum: int) -> None:
    """Text to store: at most `maximum` characters, no NUL (PostgreSQL cannot store it, so SQLite must
    not either) and no lone surrogate (a JSON `\\udc80` escape: not a character, it cannot be stored)."""
    if value is None:
        return
    check_length(what, value, maximum)
    bad = _BAD_TEXT.search(value)
    if bad:
        if bad.group() == "\x00":
            raise InvalidInput(f"the {what} contains a NUL character")
        raise InvalidInput(f"the {what} contains a lone surrogate \\u{ord(bad.group()):04x} (not valid Unicode)")


def shown(value: object, width: int = 40) -> str:
    """A value quoted for an error message, cut to `width` characters (a 10 MB name is not echoed)."""
    text = str(value)
    return repr(text[:width] + "...") if len(text) > width else repr(text)
