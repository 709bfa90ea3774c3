"""The desk's limits on names and sizes: one table, enforced by the domain on every path, the same on
SQLite and PostgreSQL (SQLite would store a 10 MB name; PostgreSQL refuses what its columns cannot hold).
The README's "Limits" section lists them.
"""

from __future__ import annotations

import re

from helpdesk.errors import InvalidInput

# Names people type and scripts match on: agent logins, tags, queue and type names. A safe character set,
# so a name never carries a control character, a space or markup into a table or a history line.
LOGIN_MAX = 64
LOGIN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
RESERVED_LOGINS = ("me", "none")
TAG_MAX = 64
TITLE_MAX = 500
CUSTOMER_NAME_MAX = 200
ORGANISATION_MAX = 200
EMAIL_MAX = 320
IDEMPOTENCY_KEY_MAX = 200
BODY_MAX = 1_000_000  # characters of one request, reply or note (mail bodies beyond it are kept as files)
FIELD_TEXT_MAX = 10_000  # characters of one text field of a ticket type
TAGS_PER_TICKET = 50
ATTACHMENT_MAX_BYTES = 25 * 1024 * 1024  # one attached file (the size of the largest mail a mailbox takes)


def check_login(login: str) -> str:
    """An agent login: letters, digits and . _ @ + - (starting with a letter or digit), at most 64."""
    if login in RESERVED_LOGINS:
        raise InvalidInput(f"'{login}' is reserved and cannot be an agent login")
    if not LOGIN_RE.match(login):
        raise InvalidInput(
            f"agent login {login[:LOGIN_MAX]!r}{'...' if len(login) > LOGIN_MAX else ''} is not allowed: use "
            f"letters, digits and . _ @ + - (starting with a letter or digit), at most {LOGIN_MAX} characters")
    return login


def check_length(what: str, value: str | None, maximum: int) -> None:
    """Refuse text longer than `maximum` characters, naming what it is."""
    if value is not None and len(value) > maximum:
        raise InvalidInput(f"the {what} is longer than {maximum:,} characters ({len(value):,})")
