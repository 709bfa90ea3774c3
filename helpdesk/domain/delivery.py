"""The outbox's delivery bookkeeping: which mail is due, who is sending it, what became of it.

The SMTP conversation is helpdesk.mail.send's; every state change here is its own short transaction,
committed before (the claim) or after (sent, retry, failed) the conversation, never around it.

A temporary failure is retried with exponential backoff; a permanent one (5xx, or too many attempts)
marks the mail failed and leaves a note on the ticket, so an agent sees the customer did not get it.
"""

from __future__ import annotations

import datetime as dt

from helpdesk.domain import audit
from helpdesk.store import mail_queries as q
from helpdesk.store.models import Outbox

MAX_ATTEMPTS = 8
BASE_BACKOFF = dt.timedelta(minutes=1)
MAX_BACKOFF = dt.timedelta(hours=6)
# How long a row marked "sending" belongs to the sender that marked it. Far longer than one SMTP
# conversation can take (a few timeouts of SMTP_TIMEOUT), so only a sender that died leaves one behind.
SENDING_LEASE = dt.timedelta(minutes=10)


def due(desk, limit: int = 500) -> list[Outbox]:
    """Mail to try now: queued and due, or left "sending" by a sender that stopped (its lease is over)."""
    return q.due_outbox(desk.now(), limit)


def claim(desk, row: Outbox) -> Outbox | None:
    """Mark the row as being sent, and commit, before it goes out: a sender killed during the SMTP
    conversation leaves it "sending", and it is tried again once SENDING_LEASE is over (the customer may
    then get it twice, with the same Message-ID; never not at all). Counts the attempt. None: someone
    else changed the row since it was read."""
    interrupted = row.status == "sending"
    changes = {"status": "sending", "attempts": Outbox.attempts + 1, "next_attempt_at": desk.now() + SENDING_LEASE}
    if interrupted:
        changes["last_error"] = ("the sender stopped while delivering it (killed?): sent again with the same "
                                 "Message-ID, so the customer may get it twice")
    with desk.db.atomic():
        claimed = q.claim_outbox(row, changes)
    if not claimed:
        return None
    return q.outbox_row(row.id)


def _permanent(desk, row: Outbox, error: str, *, claimed: bool) -> None:
    q.outbox_failed(row.id, not claimed, error[:2000])
    if row.ticket_id:
        q.insert_note(row.ticket_id, f"Mail to {row.to_addr} could not be delivered: {error}\n"
                                     f"Subject: {row.subject}", None, desk.now())
        audit.record(desk, row.ticket_id, "mail_failed", outbox=row.id, to=row.to_addr, error=error[:500])


def _retry_later(desk, row: Outbox, error: str, *, claimed: bool) -> bool:
    attempts = row.attempts if claimed else row.attempts + 1
    if attempts >= MAX_ATTEMPTS:
        _permanent(desk, row, f"gave up after {attempts} attempts: {error}", claimed=claimed)
        return False
    delay = min(BASE_BACKOFF * (2 ** (attempts - 1)), MAX_BACKOFF)
    q.outbox_retry_at(row.id, attempts, error[:2000], desk.now() + delay)
    return True


def failed(desk, row: Outbox, error: str, *, claimed: bool = True) -> None:
    """The mail failed for good: marked failed, with a note and an audit event on its ticket. `claimed`:
    this attempt was counted when the row was claimed."""
    with desk.db.atomic():
        _permanent(desk, row, error, claimed=claimed)


def retry_later(desk, row: Outbox, error: str, *, claimed: bool = True) -> bool:
    """A temporary failure: queued again after a backoff (True), or failed for good after MAX_ATTEMPTS."""
    with desk.db.atomic():
        return _retry_later(desk, row, error, claimed=claimed)


def all_retry_later(desk, rows: list[Outbox], error: str) -> None:
    """None of these could be tried (the server is unreachable): each counts an attempt and waits."""
    with desk.db.atomic():
        for row in rows:
            _retry_later(desk, row, error, claimed=False)


def sent(desk, row: Outbox, *, keep_note: bool) -> None:
    """Delivered. `keep_note`: an interrupted earlier attempt's note stays (the customer may have it twice)."""
    with desk.db.atomic():
        q.outbox_sent(row.id, desk.now(), row.last_error if keep_note else None)
