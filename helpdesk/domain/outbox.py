"""The outbox: mail to customers, written in the same transaction as the change that causes it.

The mail channel delivers it later (`helpdesk mail send`, the daemon). Our Message-IDs are
self-verifying: they carry the ticket number and a keyed hash, so a reply that references one can be
threaded to its ticket without trusting the subject line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from helpdesk.core.errors import InvalidInput, NotFound
from helpdesk.core.views import iso
from helpdesk.domain import audit
from helpdesk.store import cache, queries, sql
from helpdesk.store.db import database
from helpdesk.store.models import ConversationEntry, Customer, Outbox, Setting, Ticket

# Two auto-responders answering each other must not loop: at most this many automatic mails to one
# address per window.
AUTO_MAIL_CAP = 3
MESSAGE_ID_SECRET = "message_id_secret"  # its key in the database's cache (`store.cache`)
AUTO_MAIL_WINDOW = dt.timedelta(hours=1)


def desk_secret(desk=None) -> bytes:
    """The key of our Message-IDs. Made once per database (`desk.prepare` makes it when the desk opens)
    and cached for the database: it is needed for every Message-ID made or checked."""
    cached = cache.for_database(desk.db).get(MESSAGE_ID_SECRET) if desk is not None else None
    if cached is not None:
        return cached
    row = Setting.select(Setting.value).where(Setting.key == "message_id_secret").tuples().first()
    if row is None:
        # Made inside the caller's transaction, which may still roll back: not cached.
        Setting.insert(key="message_id_secret", value=secrets.token_hex(16)).on_conflict_ignore().execute()
        row = Setting.select(Setting.value).where(Setting.key == "message_id_secret").tuples().get()
        return row[0].encode()
    secret = row[0].encode()
    if desk is not None:
        cache.for_database(desk.db).put(MESSAGE_ID_SECRET, secret)
    return secret


def mail_domain(desk) -> str:
    for mailbox in desk.config.mailboxes:
        if "@" in mailbox.address:
            return mailbox.address.rsplit("@", 1)[1]
    return "helpdesk.invalid"


def make_message_id(desk, ticket_number: int) -> str:
    nonce = secrets.token_hex(6)
    sig = hmac.new(desk_secret(desk), f"{ticket_number}.{nonce}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"<hd.{ticket_number}.{nonce}.{sig}@{mail_domain(desk)}>"


def ticket_from_message_id(message_id: str, desk=None) -> int | None:
    """The ticket number an untampered Message-ID of ours names, else None."""
    text = message_id.strip().strip("<>")
    local = text.split("@", 1)[0]
    parts = local.split(".")
    if len(parts) != 4 or parts[0] != "hd" or not parts[1].isdigit():
        return None
    expected = hmac.new(desk_secret(desk), f"{parts[1]}.{parts[2]}".encode(), hashlib.sha256).hexdigest()[:12]
    # 0: a mail on no ticket (an agent's digest).
    return (int(parts[1]) or None) if hmac.compare_digest(expected, parts[3]) else None


def subject_for(ticket: Ticket) -> str:
    # One line (a title may hold line breaks, a header may not); Outbox.subject holds 500 characters.
    return f"[#{ticket.number}] {' '.join(ticket.title.split())}"[:500]


def _thread_headers(ticket_number: int) -> tuple[str | None, str]:
    """In-Reply-To and References for mail on a ticket: the customer's first mail, then the latest."""
    first, ids = queries.thread_message_ids(database.obj, ticket_number)
    refs = list(dict.fromkeys(first + ids))
    return (refs[-1] if refs else None), " ".join(refs)


def undeliverable(desk, address: str) -> bool:
    until = queries.undeliverable_until(desk.db, address.lower())
    return until is not None and until > desk.now()


def auto_mail_allowed(desk, address: str) -> str | None:
    """None if an automatic mail may go to this address now, else why not."""
    address = address.lower()
    now = desk.now()
    until, recent = queries.auto_mail_state(desk.db, address, now - AUTO_MAIL_WINDOW)
    if until is not None and until > now:
        return "the address bounced recently"
    if recent >= AUTO_MAIL_CAP:
        return f"{recent} automatic mails to this address in the last hour"
    return None


_OUTBOX_COLUMNS = ("ticket_id", "entry_id", "kind", "to_addr", "subject", "body", "message_id", "in_reply_to",
                   "references", "auto", "status", "attempts", "next_attempt_at", "last_error", "created_at",
                   "sent_at")


def queue_automatic(desk, ticket: Ticket, kind: str, to_addr: str, subject: str, body: str,
                    in_reply_to: str | None = None, *, new_ticket: bool = False) -> int | None:
    """Queue an automatic mail (acknowledgement, notification), rate-capped per recipient.

    `new_ticket`: the ticket was created in this transaction, so no mail of it is stored yet and its
    thread headers are known without reading (unless a `created` rule may have written to it)."""
    why_not = auto_mail_allowed(desk, to_addr)
    if why_not:
        audit.record(desk, ticket.number, "auto_mail_suppressed", kind=kind, to=to_addr, reason=why_not)
        return None
    if new_ticket and not _created_rules(desk):
        thread_reply_to, references = None, ""
    else:
        thread_reply_to, references = _thread_headers(ticket.number)
    in_reply_to = in_reply_to or thread_reply_to
    if in_reply_to and in_reply_to not in references.split():
        references = (references + " " + in_reply_to).strip()
    return _insert_automatic(desk, ticket.number, kind, to_addr, subject, body, in_reply_to, references)


def queue_digest(desk, to_addr: str, subject: str, body: str) -> int | None:
    """Queue an automatic notification about several tickets (an agent's SLA digest): on no ticket's
    thread, rate-capped like any automatic mail (a refusal is the caller's to record)."""
    if auto_mail_allowed(desk, to_addr):
        return None
    return _insert_automatic(desk, None, "notification", to_addr, subject, body, None, "")


def _insert_automatic(desk, number: int | None, kind: str, to_addr: str, subject: str, body: str,
                      in_reply_to: str | None, references: str) -> int:
    now = desk.now()
    return sql.insert(desk.db, "outbox", _OUTBOX_COLUMNS,
                      (number, None, kind, to_addr.lower(), subject, body, make_message_id(desk, number or 0),
                       in_reply_to, references, True, "queued", 0, now, None, now, None), returning="id")


def _created_rules(desk) -> bool:
    return any(rule.on == "created" for rule in desk.config.automation.rules)


def queue_acknowledgement(desk, ticket: Ticket, mail, *, new_ticket: bool = False) -> int | None:
    """Tell the customer their mail became ticket #N (the number in the subject tag for replies)."""
    body = (f"Hello{' ' + mail.from_name if mail.from_name else ''},\n\n"
            f"we received your request and opened ticket #{ticket.number}: {ticket.title}\n"
            "Reply to this mail to add to it; keep the ticket number in the subject.\n\n"
            f"{desk.config.desk_name}")
    return queue_automatic(desk, ticket, "ack", mail.from_addr, subject_for(ticket), body,
                           in_reply_to=mail.message_id, new_ticket=new_ticket)


def state(row: Outbox) -> str:
    """queued (never tried), retrying (tried, waiting for its next attempt), sending, sent or failed."""
    if row.status == "queued" and row.attempts:
        return "retrying"
    return row.status


def describe(row: Outbox) -> dict:
    """One outbox row for people and scripts: its state, and why it is not delivered yet."""
    return {"id": row.id, "state": state(row), "ticket": row.ticket_id, "kind": row.kind, "to": row.to_addr,
            "subject": row.subject, "attempts": row.attempts,
            # queued/retrying: when it is tried next; sending: when the sender's claim on it runs out
            "next_attempt_at": iso(row.next_attempt_at) if row.status in ("queued", "sending") else None,
            "last_error": row.last_error, "message_id": row.message_id, "created_at": iso(row.created_at),
            "sent_at": iso(row.sent_at)}


def pending(desk, *, include_sent: bool = False) -> list[dict]:
    """The outbox, oldest first: mail not delivered yet and mail that failed, with why (sent mail too
    with `include_sent`)."""
    query = Outbox.select().order_by(Outbox.id)
    if not include_sent:
        query = query.where(Outbox.status != "sent")
    return [describe(row) for row in query]


def requeue(desk, outbox_id: int) -> dict:
    """Queue a failed mail again (the address was fixed, the server is back): tried at the next send,
    with a fresh set of attempts and the same Message-ID."""
    with desk.db.atomic():
        row = Outbox.get_or_none(Outbox.id == outbox_id)
        if row is None:
            raise NotFound(f"outbox mail {outbox_id} not found")
        if row.status != "failed":
            raise InvalidInput(f"outbox mail {outbox_id} is {state(row)}, not failed: nothing to retry")
        Outbox.update(status="queued", attempts=0, next_attempt_at=desk.now()).where(Outbox.id == row.id).execute()
        if row.ticket_id:
            audit.record(desk, row.ticket_id, "mail_requeued", outbox=row.id, to=row.to_addr,
                         error=(row.last_error or "")[:500])
    return describe(Outbox.get_by_id(outbox_id))


def queue_reply(desk, ticket: Ticket, entry: ConversationEntry) -> int | None:
    """Queue an agent's public reply to the ticket's customer; returns the outbox id, or None."""
    if ticket.customer_id is None:
        return None
    customer = Customer.get_by_id(ticket.customer_id)
    in_reply_to, references = _thread_headers(ticket.number)
    message_id = make_message_id(desk, ticket.number)
    ConversationEntry.update(message_id=message_id).where(ConversationEntry.id == entry.id).execute()
    row = Outbox.create(ticket=ticket.number, entry=entry.id, kind="reply", to_addr=customer.email,
                        subject=subject_for(ticket), body=entry.body, message_id=message_id,
                        in_reply_to=in_reply_to, references=references, created_at=desk.now(),
                        next_attempt_at=desk.now())
    return row.id
