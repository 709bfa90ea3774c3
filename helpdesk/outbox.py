"""The outbox: mail to customers, written in the same transaction as the change that causes it.

The mail channel delivers it later (`helpdesk mail send`, the daemon). Our Message-IDs are
self-verifying: they carry the ticket number and a keyed hash, so a reply that references one can be
threaded to its ticket without trusting the subject line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from helpdesk.store.models import ConversationEntry, Customer, Outbox, Setting, Ticket


def desk_secret() -> bytes:
    row = Setting.get_or_none(Setting.key == "message_id_secret")
    if row is None:
        Setting.insert(key="message_id_secret", value=secrets.token_hex(16)).on_conflict_ignore().execute()
        row = Setting.get(Setting.key == "message_id_secret")
    return row.value.encode()


def mail_domain(desk) -> str:
    for mailbox in desk.config.mailboxes:
        if "@" in mailbox.address:
            return mailbox.address.rsplit("@", 1)[1]
    return "helpdesk.invalid"


def make_message_id(desk, ticket_number: int) -> str:
    nonce = secrets.token_hex(6)
    sig = hmac.new(desk_secret(), f"{ticket_number}.{nonce}".encode(), hashlib.sha256).hexdigest()[:12]
    return f"<hd.{ticket_number}.{nonce}.{sig}@{mail_domain(desk)}>"


def ticket_from_message_id(message_id: str) -> int | None:
    """The ticket number an untampered Message-ID of ours names, else None."""
    text = message_id.strip().strip("<>")
    local = text.split("@", 1)[0]
    parts = local.split(".")
    if len(parts) != 4 or parts[0] != "hd" or not parts[1].isdigit():
        return None
    expected = hmac.new(desk_secret(), f"{parts[1]}.{parts[2]}".encode(), hashlib.sha256).hexdigest()[:12]
    return int(parts[1]) if hmac.compare_digest(expected, parts[3]) else None


def subject_for(ticket: Ticket) -> str:
    return f"[#{ticket.number}] {ticket.title}"


def _thread_headers(ticket_number: int) -> tuple[str | None, str]:
    ids = [m for (m,) in ConversationEntry.select(ConversationEntry.message_id)
           .where((ConversationEntry.ticket == ticket_number) & ConversationEntry.message_id.is_null(False))
           .order_by(ConversationEntry.id).tuples()]
    refs = ids[-10:]
    return (refs[-1] if refs else None), " ".join(refs)


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
