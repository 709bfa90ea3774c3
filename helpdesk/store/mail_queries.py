"""The SQL of the mail channel (intake, mailbox state, quarantine, outbox delivery), by name.

The mail intake runs ~20 statements per message, so its hot reads and inserts are plain SQL (see
`store.sql`); the rest are Peewee queries. Only `domain.inbound` and `domain.delivery` call these.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import peewee as pw

from helpdesk.store import sql
from helpdesk.store.models import (
    ConversationEntry, MailboxState, MailMessage, Outbox, QuarantinedMail, Ticket, UndeliverableAddress,
)

# ---------------------------------------------------------------- threading and deduplication

# Where a Message-ID is stored, in the order they are trusted: our own signed id of an existing ticket,
# a conversation entry, a fetched mail that made or joined a ticket, our outbox. One statement.
_TICKET_FOR_MESSAGE_ID = (
    'SELECT (SELECT "number" FROM "ticket" WHERE "number" = ?),'
    ' (SELECT "ticket_id" FROM "conversation_entry" WHERE "message_id" = ? LIMIT 1),'
    ' (SELECT "ticket_number" FROM "mail_message" WHERE "message_id" = ? AND "ticket_number" IS NOT NULL LIMIT 1),'
    ' (SELECT "ticket_id" FROM "outbox" WHERE "message_id" = ? LIMIT 1)')


def ticket_for_message_id(db: pw.Database, own_number: int | None, message_id: str) -> int | None:
    """The ticket a Message-ID belongs to: `own_number` (what our own signed id names) if that ticket
    exists, else the first place the id is stored."""
    own, entry, fetched, sent = sql.one(db, _TICKET_FOR_MESSAGE_ID, (own_number, message_id, message_id, message_id))
    if own is not None:
        return own
    if entry is not None:
        return entry
    if fetched is not None:
        return fetched
    return sent or None


def merged_into(db: pw.Database, number: int) -> int | None:
    row = sql.one(db, 'SELECT "merged_into_id" FROM "ticket" WHERE "number" = ?', (number,))
    return row[0] if row and row[0] else None


def ticket_exists(db: pw.Database, number: int) -> bool:
    return sql.one(db, 'SELECT 1 FROM "ticket" WHERE "number" = ?', (number,)) is not None


_TICKET_PEOPLE = (
    'SELECT (SELECT "c"."email" FROM "ticket" AS "t" JOIN "customer" AS "c" ON "c"."id" = "t"."customer_id"'
    ' WHERE "t"."number" = ?),'
    ' EXISTS(SELECT 1 FROM "ticket_contact" WHERE "ticket_id" = ? AND "email" = ?)')


def customer_or_contact(db: pw.Database, number: int, sender: str) -> bool:
    """Whether `sender` is the ticket's customer or one of its contacts."""
    customer, contact = sql.one(db, _TICKET_PEOPLE, (number, number, sender))
    return customer == sender or bool(contact)


def message_at(db: pw.Database, mailbox: str, folder: str, uidvalidity: int, uid: int) -> tuple | None:
    """(outcome, ticket, detail) of the message fetched from this place on the server, if any."""
    # Runs for every message: plain SQL, three columns.
    return sql.one(db, 'SELECT "outcome", "ticket_number", "detail" FROM "mail_message"'
                   ' WHERE "mailbox" = ? AND "folder" = ? AND "uidvalidity" = ? AND "uid" = ? LIMIT 1',
                   (mailbox, folder, uidvalidity, uid))


# The four ways a message can be known already, in one statement (a NULL Message-ID matches nothing).
_DUPLICATE = (
    'SELECT EXISTS(SELECT 1 FROM "conversation_entry" WHERE "message_id" = ?),'
    ' EXISTS(SELECT 1 FROM "mail_message" WHERE "message_id" = ? AND "outcome" <> ?),'
    ' EXISTS(SELECT 1 FROM "outbox" WHERE "message_id" = ?),'
    ' EXISTS(SELECT 1 FROM "mail_message" WHERE "sha256" = ? AND "outcome" <> ?)')


def known_copies(db: pw.Database, message_id: str | None, sha256: str) -> tuple[bool, bool, bool, bool]:
    """(stored as an entry, fetched before, our own outgoing mail, the same bytes fetched before); a
    quarantined fetch does not count."""
    stored, fetched, ours, same = sql.one(db, _DUPLICATE,
                                          (message_id, message_id, "quarantined", message_id, sha256, "quarantined"))
    return bool(stored), bool(fetched), bool(ours), bool(same)


def bytes_fetched(sha256: str) -> bool:
    return MailMessage.select().where(MailMessage.sha256 == sha256).exists()


def author_ids(db: pw.Database, email: str) -> tuple[int | None, int | None]:
    """(customer id, agent id) of an address; only the ids are needed, so one statement, no rows."""
    return sql.one(db, 'SELECT (SELECT "id" FROM "customer" WHERE "email" = ? LIMIT 1),'
                   ' (SELECT "id" FROM "agent" WHERE "email" = ? LIMIT 1)', (email, email))


# ---------------------------------------------------------------- intake writes


_RECORD_COLUMNS = ("mailbox", "folder", "uidvalidity", "uid", "message_id", "sha256", "outcome", "ticket_number",
                   "detail", "disposed", "created_at")


def insert_mail_message(db: pw.Database, mailbox: str, folder: str, uidvalidity: int, uid: int,
                        message_id: str | None, sha256: str, outcome: str, ticket: int | None, detail: str,
                        now: dt.datetime) -> int:
    """The mail_message row of a fetched message; returns its id."""
    return sql.insert(db, "mail_message", _RECORD_COLUMNS,
                      (mailbox, folder, uidvalidity, uid, message_id, sha256, outcome, ticket, detail, False, now),
                      returning="id")


def insert_quarantined(mailbox: str, record: int, sha256: str, size: int, error: str, now: dt.datetime) -> None:
    QuarantinedMail.create(mailbox=mailbox, message=record, sha256=sha256, size=size, error=error, created_at=now)


_ATTACHMENT_COLUMNS = ("ticket_id", "entry_id", "filename", "content_type", "size", "sha256", "created_at")


def insert_attachment(db: pw.Database, number: int, entry: int | None, filename: str, content_type: str,
                      size: int, sha256: str, now: dt.datetime) -> None:
    sql.insert(db, "attachment", _ATTACHMENT_COLUMNS, (number, entry, filename, content_type, size, sha256, now))


def add_contacts(db: pw.Database, number: int, emails: Sequence[str], role: str = "cc") -> None:
    """Contacts of a ticket; one already there is left as it is."""
    if not emails:
        return
    sql.execute(db, 'INSERT INTO "ticket_contact" ("ticket_id", "email", "role") VALUES '
                + ", ".join(["(?, ?, ?)"] * len(emails)) + " ON CONFLICT DO NOTHING",
                [p for a in emails for p in (number, a, role)])


_INBOUND_COLUMNS = ("ticket_id", "kind", "author_agent_id", "author_customer_id", "body", "full_body", "message_id",
                    "created_at")


def insert_inbound_entry(db: pw.Database, number: int, agent: int | None, customer: int | None, body: str,
                         full_body: str | None, message_id: str | None, now: dt.datetime) -> int:
    return sql.insert(db, "conversation_entry", _INBOUND_COLUMNS,
                      (number, "inbound", agent, customer, body, full_body, message_id, now), returning="id")


def insert_note(number: int, body: str, message_id: str | None, now: dt.datetime) -> int:
    return ConversationEntry.create(ticket=number, kind="note", body=body, message_id=message_id,
                                    created_at=now).id


def set_parent(number: int, parent: int) -> None:
    Ticket.update(parent=parent).where(Ticket.number == number).execute()


# ---------------------------------------------------------------- bounces


def outbox_recipient(message_ids: Sequence[str]) -> str | None:
    """The address our mail with one of these Message-IDs went to."""
    row = Outbox.select(Outbox.to_addr).where(Outbox.message_id.in_(list(message_ids))).tuples().first()
    return row[0] if row else None


def mark_undeliverable(address: str, until: dt.datetime, reason: str, now: dt.datetime) -> None:
    existing = UndeliverableAddress.get_or_none(UndeliverableAddress.email == address)
    if existing:
        UndeliverableAddress.update(until=until, bounces=UndeliverableAddress.bounces + 1, reason=reason,
                                    updated_at=now).where(UndeliverableAddress.id == existing.id).execute()
    else:
        UndeliverableAddress.create(email=address, until=until, reason=reason, updated_at=now)


def fail_outbox_by_message_id(message_ids: Sequence[str], error: str) -> None:
    Outbox.update(status="failed", last_error=error).where(Outbox.message_id.in_(list(message_ids))).execute()


# ---------------------------------------------------------------- quarantine


def quarantined(include_released: bool) -> list[QuarantinedMail]:
    query = QuarantinedMail.select().order_by(QuarantinedMail.id)
    if not include_released:
        query = query.where(QuarantinedMail.status == "held")
    return list(query)


def quarantined_mail(quarantine_id: int) -> QuarantinedMail | None:
    return QuarantinedMail.get_or_none(QuarantinedMail.id == quarantine_id)


def mail_message(record_id: int) -> MailMessage | None:
    return MailMessage.get_or_none(MailMessage.id == record_id)


def forget_record(quarantine_id: int, record_id: int) -> None:
    """Drop a quarantined mail's record, so the same message can be processed again."""
    QuarantinedMail.update(message=None).where(QuarantinedMail.id == quarantine_id).execute()
    MailMessage.delete().where(MailMessage.id == record_id).execute()


def release(quarantine_id: int, mailbox: str, folder: str, uidvalidity: int, uid: int, ticket: int | None) -> None:
    """The quarantined mail was processed: its new record is disposed of, the quarantine released."""
    record = MailMessage.get((MailMessage.mailbox == mailbox) & (MailMessage.folder == folder)
                             & (MailMessage.uidvalidity == uidvalidity) & (MailMessage.uid == uid))
    MailMessage.update(disposed=True).where(MailMessage.id == record.id).execute()
    QuarantinedMail.update(status="released", ticket=ticket, message=record.id).where(
        QuarantinedMail.id == quarantine_id).execute()


# ---------------------------------------------------------------- mailbox state


def mailbox_state(mailbox: str, folder: str) -> MailboxState | None:
    return MailboxState.get_or_none((MailboxState.mailbox == mailbox) & (MailboxState.folder == folder))


def create_mailbox_state(mailbox: str, folder: str, uidvalidity: int, now: dt.datetime) -> MailboxState:
    return MailboxState.create(mailbox=mailbox, folder=folder, uidvalidity=uidvalidity, last_uid=0, updated_at=now)


def reset_mailbox_state(state_id: int, uidvalidity: int, now: dt.datetime) -> None:
    MailboxState.update(uidvalidity=uidvalidity, last_uid=0, updated_at=now).where(
        MailboxState.id == state_id).execute()


def set_last_uid(mailbox: str, folder: str, last_uid: int, now: dt.datetime) -> None:
    MailboxState.update(last_uid=last_uid, updated_at=now).where(
        (MailboxState.mailbox == mailbox) & (MailboxState.folder == folder)).execute()


def undisposed(mailbox: str, folder: str, uidvalidity: int) -> list[tuple[int, int]]:
    """(record id, UID) of messages committed but not yet flagged or moved on the server."""
    return list(MailMessage.select(MailMessage.id, MailMessage.uid).where(
        (MailMessage.mailbox == mailbox) & (MailMessage.folder == folder)
        & (MailMessage.uidvalidity == uidvalidity) & (MailMessage.disposed == False)).tuples())  # noqa: E712


def mark_disposed(record_ids: Sequence[int]) -> None:
    if record_ids:
        MailMessage.update(disposed=True).where(MailMessage.id.in_(list(record_ids))).execute()


def mark_uids_disposed(mailbox: str, folder: str, uidvalidity: int, uids: Sequence[int]) -> None:
    """The records of these UIDs, by their unique (mailbox, folder, UIDVALIDITY, UID)."""
    if uids:
        MailMessage.update(disposed=True).where(
            (MailMessage.mailbox == mailbox) & (MailMessage.folder == folder)
            & (MailMessage.uidvalidity == uidvalidity) & MailMessage.uid.in_(list(uids))).execute()


def known_mailboxes() -> set[str]:
    return {r[0] for r in MailboxState.select(MailboxState.mailbox).distinct().tuples()}


def mailbox_states(mailbox: str) -> list[MailboxState]:
    return list(MailboxState.select().where(MailboxState.mailbox == mailbox))


def outcome_counts(mailbox: str) -> dict[str, int]:
    return dict(MailMessage.select(MailMessage.outcome, pw.fn.COUNT(MailMessage.id))
                .where(MailMessage.mailbox == mailbox).group_by(MailMessage.outcome).tuples())


# ---------------------------------------------------------------- outbox delivery


def due_outbox(now: dt.datetime, limit: int) -> list[Outbox]:
    """Queued and due, or left "sending" by a sender whose lease is over."""
    return list(Outbox.select().where(Outbox.status.in_(("queued", "sending")) & (Outbox.next_attempt_at <= now))
                .order_by(Outbox.id).limit(limit))


def claim_outbox(row: Outbox, changes: dict) -> bool:
    """Apply `changes` if the row is still as it was read (status and attempts); whether it was."""
    return bool(Outbox.update(**changes).where(
        (Outbox.id == row.id) & (Outbox.status == row.status) & (Outbox.attempts == row.attempts)).execute())


def outbox_row(outbox_id: int) -> Outbox:
    return Outbox.get_by_id(outbox_id)


def outbox_failed(outbox_id: int, count_attempt: bool, error: str) -> None:
    Outbox.update(status="failed", attempts=Outbox.attempts + (1 if count_attempt else 0), last_error=error).where(
        Outbox.id == outbox_id).execute()


def outbox_retry_at(outbox_id: int, attempts: int, error: str, at: dt.datetime) -> None:
    Outbox.update(status="queued", attempts=attempts, last_error=error, next_attempt_at=at).where(
        Outbox.id == outbox_id).execute()


def outbox_sent(outbox_id: int, now: dt.datetime, last_error: str | None) -> None:
    Outbox.update(status="sent", sent_at=now, last_error=last_error).where(Outbox.id == outbox_id).execute()


# ---------------------------------------------------------------- advisory locks (mail.locks)


def try_advisory_lock(db: pw.Database, key: int) -> bool:
    return bool(db.execute_sql("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0])


def advisory_unlock(db: pw.Database, key: int) -> None:
    db.execute_sql("SELECT pg_advisory_unlock(%s)", (key,))
