"""What the mail intake reads and writes: incoming mail becomes tickets, replies, notes and records.

The mail channel (helpdesk.mail.intake) decides what a fetched message is; every read and write it
needs is a function here, so the mail package holds no SQL and no models. `mail` arguments are parsed
messages (helpdesk.mail.parse.ParsedMail: message_id, sha256, subject, from_addr, from_name, to, cc,
text, reply_text, attachments, bounced_message_ids, ...). The caller holds the transaction.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

import peewee as pw

from helpdesk.core.addresses import is_address
from helpdesk.domain import attachments, audit, automation, lifecycle, outbox, sla, tickets
from helpdesk.store import mail_queries as q
from helpdesk.store import notify, search
from helpdesk.store.models import Ticket

log = logging.getLogger("helpdesk.mail")

UNDELIVERABLE_FOR = dt.timedelta(days=7)
# What the database refuses in a value (too long, out of range, a constraint): the message's fault.
# A lost connection (OperationalError) is not among them.
REFUSED_BY_DATABASE = (pw.DataError, pw.IntegrityError)


@dataclass(frozen=True)
class Source:
    """Where a message came from: the unique (mailbox, folder, UIDVALIDITY, UID) of the server."""

    mailbox: str
    folder: str
    uidvalidity: int
    uid: int


# ---------------------------------------------------------------- reads


def ticket_for_message_id(desk, message_id: str) -> int | None:
    """The ticket a stored (or our own signed) Message-ID belongs to."""
    return q.ticket_for_message_id(desk.db, outbox.ticket_from_message_id(message_id, desk), message_id)


def follow_merges(desk, number: int) -> int:
    """The ticket a merged ticket lives on in (itself if not merged)."""
    seen = set()
    while number not in seen:
        seen.add(number)
        merged = q.merged_into(desk.db, number)
        if not merged:
            return number
        number = merged
    return number


def ticket_exists(desk, number: int) -> bool:
    return q.ticket_exists(desk.db, number)


def may_write_by_tag(desk, number: int, sender: str) -> bool:
    """Whether a subject tag `[#N]` from `sender` may add to ticket N: its customer or a known contact."""
    return q.customer_or_contact(desk.db, number, sender)


def known_source(desk, src: Source) -> tuple[str, int | None, str] | None:
    """(outcome, ticket, detail) of the message already processed from this place on the server."""
    row = q.message_at(desk.db, src.mailbox, src.folder, src.uidvalidity, src.uid)
    return (row[0], row[1], row[2]) if row is not None else None


def duplicate_reason(desk, message_id: str | None, sha256: str) -> str | None:
    """Why this message is known already (None: it is new)."""
    mid = message_id or None
    stored, fetched, ours, same_bytes = q.known_copies(desk.db, mid, sha256)
    if mid:
        if stored:
            return f"Message-ID {message_id} already stored"
        if fetched:
            return f"Message-ID {message_id} already fetched"
        if ours:
            return "our own outgoing mail"
    if same_bytes:
        return "the same bytes were already fetched"
    return None


def bytes_fetched(desk, sha256: str) -> bool:
    """Whether these bytes were fetched before (under any UID, whatever became of them)."""
    return q.bytes_fetched(sha256)


def ticket(desk, number: int) -> Ticket:
    return Ticket.get_by_id(number)


# ---------------------------------------------------------------- writes


def record(desk, src: Source, message_id: str | None, sha256: str, outcome: str, number: int | None,
           detail: str) -> int:
    """The record of a fetched message and its outcome (what makes it never processed twice); its id."""
    return q.insert_mail_message(desk.db, src.mailbox, src.folder, src.uidvalidity, src.uid, message_id, sha256,
                                 outcome, number, detail[:2000], desk.now())


def quarantine(desk, src: Source, sha256: str, size: int, error: str) -> None:
    """Hold a message that cannot be processed (its bytes already stored under `sha256`)."""
    record_id = record(desk, src, None, sha256, "quarantined", None, error)
    q.insert_quarantined(src.mailbox, record_id, sha256, size, error, desk.now())


def store_attachment(desk, number: int, entry: int | None, filename: str, content_type: str, data: bytes) -> None:
    """An attachment of a mail, on its ticket (and its conversation entry)."""
    digest = attachments.store_bytes(data)
    q.insert_attachment(desk.db, number, entry, filename, content_type[:200], len(data), digest, desk.now())


def _store_attachments(desk, number: int, entry: int | None, mail) -> None:
    for att in mail.attachments:
        store_attachment(desk, number, entry, att.filename, att.content_type, att.data)


def link_follow_up(desk, number: int, parent: int) -> None:
    """Ticket `number` continues the closed ticket `parent`."""
    q.set_parent(number, parent)
    audit.record(desk, number, "follow_up_of", parent=parent)


def add_contacts(desk, number: int, addresses: list[str]) -> None:
    """People on a ticket's thread (CC), who may then write to it by its subject tag."""
    q.add_contacts(desk.db, number, addresses)


def open_ticket(desk, mail, *, queue: str | None, our_addresses: set[str], parent: int | None = None) -> int:
    """A new ticket from a customer's mail, with its CCs as contacts, its attachments and an
    acknowledgement queued; `parent`: it follows up that closed ticket. Its number."""
    key = f"mail:{mail.message_id or mail.sha256}"
    if len(key) > 200:  # the idempotency key's limit: a long (but valid) Message-ID must not be refused
        key = "mail:" + hashlib.sha256(mail.message_id.encode()).hexdigest()
    inp = tickets.TicketInput(
        title=(mail.subject or "(no subject)")[:500], body=mail.text, customer=mail.from_addr,
        customer_name=mail.from_name[:200], key=key, queue=queue, channel="email")
    result = tickets.intake_many(desk, [inp])[0]
    number = result.number
    if not result.created:
        return number
    if parent:
        link_follow_up(desk, number, parent)
    contacts = [a for a in dict.fromkeys(mail.cc + mail.to)
                if a not in our_addresses and a != mail.from_addr and is_address(a)]
    add_contacts(desk, number, contacts)
    _store_attachments(desk, number, None, mail)
    # Created in this transaction: the title is the one just stored (no need to read the row back).
    outbox.queue_acknowledgement(desk, Ticket(number=number, title=inp.title), mail, new_ticket=True)
    return number


def add_inbound(desk, ticket: Ticket, mail) -> int:
    """A customer's mail on their ticket: a conversation entry (the whole mail kept with it), its
    attachments, the ticket back to work if it waited on them, the SLA's next update, rules. Its id."""
    customer, agent = q.author_ids(desk.db, mail.from_addr)
    if customer is not None:
        agent = None
    # What the customer wrote is shown; the whole mail is kept with it (`ticket show --full`), so a
    # quote cut in the wrong place hides text but never loses it.
    body = mail.reply_text if mail.text else "(empty message)"
    entry_id = q.insert_inbound_entry(desk.db, ticket.number, agent, customer, body, mail.text or None,
                                      mail.message_id, desk.now())
    _store_attachments(desk, ticket.number, entry_id, mail)
    audit.record(desk, ticket.number, "customer_replied", entry=entry_id, sender=mail.from_addr,
                 message_id=mail.message_id)
    if ticket.status in ("pending", "resolved"):
        lifecycle.customer_answered(desk, ticket)
        sla.start_next_update(desk, ticket.number)
    else:
        tickets.write(desk, ticket, None)
        sla.start_next_update(desk, ticket.number, ticket)  # the row just written: priority, type, status
    automation.emit(desk, "customer_replied", ticket.number)
    search.reindex_tickets([ticket.number])
    return entry_id


def record_auto_reply(desk, number: int, reason: str, message_id: str | None) -> None:
    """An automated mail (auto-reply, list mail) on a ticket: noted in its history, never answered."""
    audit.record(desk, number, "automated_mail_ignored", reason=reason, message_id=message_id)


def bounced_ticket(desk, mail) -> int | None:
    """The ticket whose mail bounced (by the bounced Message-IDs), if it is ours."""
    for mid in mail.bounced_message_ids:
        number = ticket_for_message_id(desk, mid)
        if number is not None:
            return number
    return None


def record_bounce(desk, number: int, mail, max_address: int) -> list[str]:
    """A bounce of our mail on ticket `number`: its recipients are undeliverable for a while, the
    outbox rows failed, a note on the ticket. Returns the failed addresses."""
    failed = [a for a in mail.bounced_recipients if len(a) <= max_address]
    if not failed:
        recipient = q.outbox_recipient(mail.bounced_message_ids)
        failed = [recipient] if recipient else []
    until = desk.now() + UNDELIVERABLE_FOR
    for addr in failed:
        q.mark_undeliverable(addr, until, mail.subject[:500], desk.now())
    q.fail_outbox_by_message_id(mail.bounced_message_ids, f"bounced: {mail.subject[:300]}")
    body = (f"Delivery failed for {', '.join(failed) or 'the customer'}: {mail.subject}\n\n"
            + (mail.text[:4000] if mail.text else ""))
    entry = q.insert_note(number, body.strip(), mail.message_id, desk.now())
    audit.record(desk, number, "mail_bounced", recipients=failed, entry=entry)
    return failed


def announce(desk, numbers) -> None:
    """After the commit: tell listeners (the TUI) which tickets the mail changed. The intake commits
    message by message outside any unit of work, so it announces its own changes."""
    numbers = [n for n in numbers if n is not None]
    if not numbers or desk.db.in_transaction():
        return  # nothing changed, or not committed yet: whoever holds the transaction announces
    try:
        notify.publish(desk, numbers)
    except Exception as exc:  # a listener missing one refresh must not stop the intake
        log.warning("change notification for tickets %s not sent: %s", numbers, exc)


# ---------------------------------------------------------------- quarantine


def quarantined(desk, *, include_released: bool = False) -> list:
    return q.quarantined(include_released)


def quarantined_mail(desk, quarantine_id: int):
    return q.quarantined_mail(quarantine_id)


def record_of(desk, record_id: int):
    return q.mail_message(record_id)


def forget_record(desk, quarantine_id: int, record_id: int) -> None:
    q.forget_record(quarantine_id, record_id)


def release(desk, quarantine_id: int, src: Source, number: int | None, outcome: str) -> None:
    """A quarantined mail was processed after all: released, with its outcome in the ticket's history."""
    q.release(quarantine_id, src.mailbox, src.folder, src.uidvalidity, src.uid, number)
    audit.record(desk, number, "quarantine_released", quarantine=quarantine_id, outcome=outcome)


# ---------------------------------------------------------------- mailbox state (the fetcher's)


def mailbox_position(desk, mailbox: str, folder: str, uidvalidity: int) -> tuple[int, bool]:
    """(the last UID fetched, whether the folder was renumbered): a changed UIDVALIDITY starts again."""
    state = q.mailbox_state(mailbox, folder)
    if state is None:
        q.create_mailbox_state(mailbox, folder, uidvalidity, desk.now())
        return 0, False
    if state.uidvalidity != uidvalidity:
        q.reset_mailbox_state(state.id, uidvalidity, desk.now())
        return 0, True
    return state.last_uid, False


def undisposed(desk, mailbox: str, folder: str, uidvalidity: int) -> list[tuple[int, int]]:
    """(record id, UID) of messages committed but not yet flagged or moved on the server."""
    return q.undisposed(mailbox, folder, uidvalidity)


def mark_disposed(desk, record_ids: list[int]) -> None:
    q.mark_disposed(record_ids)


def batch_done(desk, mailbox: str, folder: str, uidvalidity: int, uids: list[int], last_uid: int) -> None:
    """A batch was flagged or moved on the server: its records are disposed of, the watermark moves."""
    with desk.db.atomic():
        q.mark_uids_disposed(mailbox, folder, uidvalidity, uids)
        q.set_last_uid(mailbox, folder, last_uid, desk.now())


def intake_status(desk, names: list[str], outcomes: tuple[str, ...]) -> list[dict]:
    """Per mailbox (configured ones first): where intake stands and how every fetched message ended."""
    out = []
    known = q.known_mailboxes()
    for name in names + sorted(known - set(names)):
        states = q.mailbox_states(name)
        counts = q.outcome_counts(name)
        per_outcome = {k: counts.get(k, 0) for k in outcomes}
        out.append({
            "mailbox": name,
            "configured": name in names,
            "folders": [{"folder": s.folder, "uidvalidity": s.uidvalidity, "last_uid": s.last_uid,
                         "updated_at": s.updated_at.isoformat() + "Z"} for s in states],
            "last_uid": max((s.last_uid for s in states), default=0),
            "fetched": sum(per_outcome.values()),
            "outcomes": per_outcome,
        })
    return out
