"""One fetched message -> exactly one outcome, written in one transaction with its record.

Threading, in this order: a Message-ID already stored is a duplicate; In-Reply-To/References naming a
stored Message-ID (ours are self-verifying) adds to that ticket; a subject tag `[#N]` adds to ticket N
only when the sender is its customer or a known CC; anything else is a new ticket. Automated mail and
bounces never create tickets and are never answered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import peewee as pw

from helpdesk.domain import attachments, audit, lifecycle, outbox, sla, tickets
from helpdesk.core.addresses import is_address
from helpdesk.config import MailboxSpec
from helpdesk.core.limits import EMAIL_MAX as MAX_ADDRESS
from helpdesk.mail.parse import ParsedMail, ParseError, parse
from helpdesk.store import sql
from helpdesk.store.db import database
from helpdesk.store.models import (
    ConversationEntry, MailMessage, Outbox, QuarantinedMail, Ticket, UndeliverableAddress,
)

SUBJECT_TAG_RE = re.compile(r"\[#(\d{1,10})\]")
UNDELIVERABLE_FOR = dt.timedelta(days=7)
OUTCOMES = ("new_ticket", "reply", "duplicate", "automated", "bounce", "quarantined")


@dataclass
class Source:
    """Where a message came from: the unique (mailbox, folder, UIDVALIDITY, UID) of the server."""

    mailbox: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass
class Outcome:
    outcome: str
    ticket: int | None = None
    detail: str = ""
    already: bool = False  # this source was processed before (a crash between commit and flag)


# Where a Message-ID is stored, in the order they are trusted: our own signed id of an existing ticket,
# a conversation entry, a fetched mail that made or joined a ticket, our outbox. One statement.
_TICKET_FOR_MESSAGE_ID = (
    'SELECT (SELECT "number" FROM "ticket" WHERE "number" = ?),'
    ' (SELECT "ticket_id" FROM "conversation_entry" WHERE "message_id" = ? LIMIT 1),'
    ' (SELECT "ticket_number" FROM "mail_message" WHERE "message_id" = ? AND "ticket_number" IS NOT NULL LIMIT 1),'
    ' (SELECT "ticket_id" FROM "outbox" WHERE "message_id" = ? LIMIT 1)')


def ticket_for_message_id(message_id: str, desk=None) -> int | None:
    """The ticket a stored (or our own signed) Message-ID belongs to."""
    number = outbox.ticket_from_message_id(message_id, desk)
    own, entry, fetched, sent = sql.one(database.obj, _TICKET_FOR_MESSAGE_ID,
                                        (number, message_id, message_id, message_id))
    if own is not None:
        return own
    if entry is not None:
        return entry
    if fetched is not None:
        return fetched
    return sent or None


def _follow_merges(number: int) -> int:
    seen = set()
    db = database.obj
    while number not in seen:
        seen.add(number)
        merged = sql.one(db, 'SELECT "merged_into_id" FROM "ticket" WHERE "number" = ?', (number,))
        if not merged or not merged[0]:
            return number
        number = merged[0]
    return number


def _ticket_exists(number: int) -> bool:
    return sql.one(database.obj, 'SELECT 1 FROM "ticket" WHERE "number" = ?', (number,)) is not None


def _may_write_by_tag(number: int, sender: str) -> bool:
    customer, contact = sql.one(database.obj, (
        'SELECT (SELECT "c"."email" FROM "ticket" AS "t" JOIN "customer" AS "c" ON "c"."id" = "t"."customer_id"'
        ' WHERE "t"."number" = ?),'
        ' EXISTS(SELECT 1 FROM "ticket_contact" WHERE "ticket_id" = ? AND "email" = ?)'), (number, number, sender))
    return customer == sender or bool(contact)


def thread(desk, mail: ParsedMail) -> tuple[int | None, str]:
    """(ticket, how) this mail belongs to, or (None, reason) for a new ticket."""
    for mid in mail.thread_ids:
        number = ticket_for_message_id(mid, desk)
        if number is not None:
            return _follow_merges(number), f"references {mid}"
    for match in SUBJECT_TAG_RE.finditer(mail.subject):
        number = int(match.group(1))
        if _ticket_exists(number):
            if _may_write_by_tag(number, mail.from_addr):
                return _follow_merges(number), f"subject tag #{number} from its customer"
            return None, f"subject tag #{number} from a stranger ({mail.from_addr}): new ticket"
    return None, "no thread"


def our_addresses(desk) -> set[str]:
    return {m.address.lower() for m in desk.config.mailboxes}


_RECORD_COLUMNS = ("mailbox", "folder", "uidvalidity", "uid", "message_id", "sha256", "outcome", "ticket_number",
                   "detail", "disposed", "created_at")


def _record(desk, src: Source, mail: ParsedMail | None, sha: str, outcome: str, ticket: int | None,
            detail: str) -> int:
    """The mail_message row of a fetched message; returns its id."""
    return sql.insert(desk.db, "mail_message", _RECORD_COLUMNS,
                      (src.mailbox, src.folder, src.uidvalidity, src.uid, mail.message_id if mail else None, sha,
                       outcome, ticket, detail[:2000], False, desk.now()), returning="id")


def quarantine(desk, src: Source, raw: bytes, error: str) -> Outcome:
    sha = attachments.store_bytes(raw)  # kept whole, before the row that names it
    with desk.db.atomic():
        existing = _existing(src)
        if existing:
            return existing
        if MailMessage.select().where(MailMessage.sha256 == sha).exists():
            # The same bytes under another UID (a UIDVALIDITY rescan, a second delivery): held or
            # released already, so they are not quarantined (or made a ticket) twice.
            why = "the same bytes were already fetched (quarantined before)"
            _record(desk, src, None, sha, "duplicate", None, why)
            return Outcome("duplicate", None, why)
        record = _record(desk, src, None, sha, "quarantined", None, error)  # its id
        QuarantinedMail.create(mailbox=src.mailbox, message=record, sha256=sha, size=len(raw), error=error,
                               created_at=desk.now())
    return Outcome("quarantined", None, error)


def _existing(src: Source) -> Outcome | None:
    # Runs for every message: plain SQL, three columns.
    row = sql.one(database.obj, 'SELECT "outcome", "ticket_number", "detail" FROM "mail_message"'
                  ' WHERE "mailbox" = ? AND "folder" = ? AND "uidvalidity" = ? AND "uid" = ? LIMIT 1',
                  (src.mailbox, src.folder, src.uidvalidity, src.uid))
    if row is None:
        return None
    return Outcome(row[0], row[1], row[2], already=True)


def process(desk, mailbox: MailboxSpec, src: Source, raw: bytes) -> Outcome:
    """Turn one message into its outcome; safe to call again for the same source (returns the first)."""
    if len(raw) > mailbox.max_message_bytes:
        return quarantine(desk, src, raw, f"over the size limit ({len(raw)} > {mailbox.max_message_bytes} bytes)")
    try:
        mail = parse(raw)
    except ParseError as exc:
        return quarantine(desk, src, raw, f"cannot parse: {exc}")
    except Exception as exc:  # any parser failure must not block the mail behind it
        return quarantine(desk, src, raw, f"cannot parse: {exc.__class__.__name__}: {exc}")
    try:
        return apply(desk, mailbox, src, mail)
    except ParseError as exc:
        return quarantine(desk, src, raw, str(exc))
    except tickets.InvalidInput as exc:
        return quarantine(desk, src, raw, f"refused: {exc}")
    except (pw.DataError, pw.IntegrityError) as exc:
        # A value the database refuses (too long, out of range): this message's fault, so it must not stop
        # the mail behind it. A lost connection (OperationalError) still aborts the run.
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return quarantine(desk, src, raw, f"refused by the database: {text}")


# The four ways a message can be known already, in one statement (a NULL Message-ID matches nothing).
_DUPLICATE = (
    'SELECT EXISTS(SELECT 1 FROM "conversation_entry" WHERE "message_id" = ?),'
    ' EXISTS(SELECT 1 FROM "mail_message" WHERE "message_id" = ? AND "outcome" <> ?),'
    ' EXISTS(SELECT 1 FROM "outbox" WHERE "message_id" = ?),'
    ' EXISTS(SELECT 1 FROM "mail_message" WHERE "sha256" = ? AND "outcome" <> ?)')


def _is_duplicate(mail: ParsedMail) -> str | None:
    mid = mail.message_id or None
    stored, fetched, ours, same_bytes = sql.one(database.obj, _DUPLICATE,
                                                (mid, mid, "quarantined", mid, mail.sha256, "quarantined"))
    if mid:
        if stored:
            return f"Message-ID {mail.message_id} already stored"
        if fetched:
            return f"Message-ID {mail.message_id} already fetched"
        if ours:
            return "our own outgoing mail"
    if same_bytes:
        return "the same bytes were already fetched"
    return None


def apply(desk, mailbox: MailboxSpec, src: Source, mail: ParsedMail) -> Outcome:
    with desk.db.atomic():
        existing = _existing(src)
        if existing:
            return existing
        why = _is_duplicate(mail)
        if why:
            _record(desk, src, mail, mail.sha256, "duplicate", None, why)
            return Outcome("duplicate", None, why)
        if mail.bounce:
            return _bounce(desk, src, mail)
        if mail.automated:
            number, _ = thread(desk, mail)
            detail = f"automated ({mail.automated})"
            _record(desk, src, mail, mail.sha256, "automated", number, detail)
            if number:
                audit.record(desk, number, "automated_mail_ignored", reason=mail.automated,
                             message_id=mail.message_id)
            return Outcome("automated", number, detail)
        if not mail.from_addr:
            raise ParseError("no sender address")
        if not is_address(mail.from_addr):
            too_long = f" (longer than {MAX_ADDRESS} characters)" if len(mail.from_addr) > MAX_ADDRESS else ""
            raise ParseError(f"the sender {mail.from_addr[:MAX_ADDRESS]!r} is not an email address{too_long}")
        number, how = thread(desk, mail)
        if number is not None:
            ticket = Ticket.get_by_id(number)
            if ticket.status == "closed":
                new = _new_ticket(desk, mailbox, src, mail, parent=number)
                detail = f"reply to closed #{number}: new ticket #{new}"
                _record(desk, src, mail, mail.sha256, "new_ticket", new, detail)
                return Outcome("new_ticket", new, detail)
            from helpdesk.domain import ratings

            score = ratings.parse_score(mail.reply_text) if ticket.status == "resolved" else None
            if score and ratings.awaiting(number):
                # "4" in answer to our rating request: a score, not a reason to reopen the ticket.
                ratings.record(desk, number, score[0], score[1], via="email")
                detail = f"rating {score[0]}/5 ({how})"
                _record(desk, src, mail, mail.sha256, "reply", number, detail)
                return Outcome("reply", number, detail)
            _add_reply(desk, ticket, mail)
            _record(desk, src, mail, mail.sha256, "reply", number, how)
            return Outcome("reply", number, how)
        new = _new_ticket(desk, mailbox, src, mail)
        _record(desk, src, mail, mail.sha256, "new_ticket", new, how)
        return Outcome("new_ticket", new, how)


def _store_attachments(desk, number: int, entry: int | None, mail: ParsedMail) -> None:
    for att in mail.attachments:
        digest = attachments.store_bytes(att.data)
        sql.insert(desk.db, "attachment",
                   ("ticket_id", "entry_id", "filename", "content_type", "size", "sha256", "created_at"),
                   (number, entry, att.filename, att.content_type[:200], len(att.data), digest, desk.now()))


def _new_ticket(desk, mailbox: MailboxSpec, src: Source, mail: ParsedMail, parent: int | None = None) -> int:
    key = f"mail:{mail.message_id or mail.sha256}"
    if len(key) > 200:  # the idempotency key's limit: a long (but valid) Message-ID must not be refused
        key = "mail:" + hashlib.sha256(mail.message_id.encode()).hexdigest()
    inp = tickets.TicketInput(
        title=(mail.subject or "(no subject)")[:500], body=mail.text, customer=mail.from_addr,
        customer_name=mail.from_name[:200], key=key, queue=mailbox.queue, channel="email")
    result = tickets.intake_many(desk, [inp])[0]
    number = result.number
    if not result.created:
        return number
    if parent:
        Ticket.update(parent=parent).where(Ticket.number == number).execute()
        audit.record(desk, number, "follow_up_of", parent=parent)
    ours = our_addresses(desk)
    contacts = [a for a in dict.fromkeys(mail.cc + mail.to)
                if a not in ours and a != mail.from_addr and is_address(a)]
    if contacts:
        sql.execute(desk.db, 'INSERT INTO "ticket_contact" ("ticket_id", "email", "role") VALUES '
                    + ", ".join(["(?, ?, ?)"] * len(contacts)) + " ON CONFLICT DO NOTHING",
                    [p for a in contacts for p in (number, a, "cc")])
    _store_attachments(desk, number, None, mail)
    # Created in this transaction: the title is the one just stored (no need to read the row back).
    outbox.queue_acknowledgement(desk, Ticket(number=number, title=inp.title), mail, new_ticket=True)
    return number


def _add_reply(desk, ticket: Ticket, mail: ParsedMail) -> None:
    # Only their ids are needed (the entry's authors): one statement, no whole rows.
    customer, agent = sql.one(desk.db, 'SELECT (SELECT "id" FROM "customer" WHERE "email" = ? LIMIT 1),'
                              ' (SELECT "id" FROM "agent" WHERE "email" = ? LIMIT 1)', (mail.from_addr, mail.from_addr))
    if customer is not None:
        agent = None
    # What the customer wrote is shown; the whole mail is kept with it (`ticket show --full`), so a
    # quote cut in the wrong place hides text but never loses it.
    body = mail.reply_text if mail.text else "(empty message)"
    entry_id = sql.insert(desk.db, "conversation_entry",
                          ("ticket_id", "kind", "author_agent_id", "author_customer_id", "body", "full_body",
                           "message_id", "created_at"),
                          (ticket.number, "inbound", agent, customer, body, mail.text or None, mail.message_id,
                           desk.now()), returning="id")
    _store_attachments(desk, ticket.number, entry_id, mail)
    audit.record(desk, ticket.number, "customer_replied", entry=entry_id, sender=mail.from_addr,
                 message_id=mail.message_id)
    if ticket.status in ("pending", "resolved"):
        lifecycle.customer_answered(desk, ticket)
        sla.start_next_update(desk, ticket.number)
    else:
        tickets.write(desk, ticket, None)
        sla.start_next_update(desk, ticket.number, ticket)  # the row just written: priority, type, status
    from helpdesk.domain import automation

    automation.emit(desk, "customer_replied", ticket.number)
    from helpdesk.store import search

    search.reindex_tickets([ticket.number])


def _bounce(desk, src: Source, mail: ParsedMail) -> Outcome:
    number = None
    for mid in mail.bounced_message_ids:
        number = ticket_for_message_id(mid, desk)
        if number is not None:
            break
    failed = [a for a in mail.bounced_recipients if len(a) <= MAX_ADDRESS]
    if number is not None and not failed:
        row = Outbox.select(Outbox.to_addr).where(Outbox.message_id.in_(mail.bounced_message_ids)).tuples().first()
        failed = [row[0]] if row else []
    until = desk.now() + UNDELIVERABLE_FOR
    # Only a bounce of mail we sent counts against an address: a forged or stray bounce (backscatter)
    # must not silence the desk towards anyone.
    for addr in failed if number is not None else []:
        existing = UndeliverableAddress.get_or_none(UndeliverableAddress.email == addr)
        if existing:
            UndeliverableAddress.update(until=until, bounces=UndeliverableAddress.bounces + 1,
                                        reason=mail.subject[:500], updated_at=desk.now()).where(
                UndeliverableAddress.id == existing.id).execute()
        else:
            UndeliverableAddress.create(email=addr, until=until, reason=mail.subject[:500], updated_at=desk.now())
    if number is None:
        detail = "bounce matching no ticket: recorded and ignored"
        _record(desk, src, mail, mail.sha256, "bounce", None, detail)
        return Outcome("bounce", None, detail)
    Outbox.update(status="failed", last_error=f"bounced: {mail.subject[:300]}").where(
        Outbox.message_id.in_(mail.bounced_message_ids)).execute()
    body = (f"Delivery failed for {', '.join(failed) or 'the customer'}: {mail.subject}\n\n"
            + (mail.text[:4000] if mail.text else ""))
    entry = ConversationEntry.create(ticket=number, kind="note", body=body.strip(), message_id=mail.message_id,
                                     created_at=desk.now())
    audit.record(desk, number, "mail_bounced", recipients=failed, entry=entry.id)
    detail = f"bounce of mail on #{number}"
    _record(desk, src, mail, mail.sha256, "bounce", number, detail)
    return Outcome("bounce", number, detail)



def quarantine_list(desk, *, include_released: bool = False) -> list[dict]:
    query = QuarantinedMail.select().order_by(QuarantinedMail.id)
    if not include_released:
        query = query.where(QuarantinedMail.status == "held")
    return [{"id": q.id, "mailbox": q.mailbox, "size": q.size, "sha256": q.sha256, "error": q.error,
             "status": q.status, "ticket": q.ticket, "created_at": q.created_at.isoformat() + "Z"} for q in query]


def quarantine_retry(desk, quarantine_id: int) -> Outcome:
    """Process a quarantined mail again (after a fix or a raised limit); the size limit is not applied:
    retrying is the operator's decision."""
    from helpdesk.core.errors import InvalidInput, NotFound

    q = QuarantinedMail.get_or_none(QuarantinedMail.id == quarantine_id)
    if q is None:
        raise NotFound(f"quarantined mail {quarantine_id} not found")
    if q.status != "held":
        raise InvalidInput(f"quarantined mail {quarantine_id} was already released (ticket #{q.ticket})")
    path = attachments.blob_path(q.sha256)
    if not path.exists():
        raise InvalidInput(f"quarantined mail {quarantine_id}: its bytes are missing ({path})")
    raw = path.read_bytes()
    try:
        mail = parse(raw)
    except ParseError as exc:
        raise InvalidInput(f"quarantined mail {quarantine_id} still cannot be parsed: {exc}") from None
    mailbox = next((m for m in desk.config.mailboxes if m.name == q.mailbox), None) or MailboxSpec(
        name=q.mailbox, address="", imap_host="")
    record = MailMessage.get_or_none(MailMessage.id == q.message_id) if q.message_id else None
    with desk.db.atomic():
        if record is not None:
            src = Source(record.mailbox, record.folder, record.uidvalidity, record.uid)
            QuarantinedMail.update(message=None).where(QuarantinedMail.id == q.id).execute()
            MailMessage.delete().where(MailMessage.id == record.id).execute()
        else:
            src = Source(q.mailbox, "(quarantine)", 0, -q.id)
        try:
            outcome = apply(desk, mailbox, src, mail)
        except (ParseError, tickets.InvalidInput) as exc:
            raise InvalidInput(f"quarantined mail {quarantine_id} still refused: {exc}") from None
        new_record = MailMessage.get((MailMessage.mailbox == src.mailbox) & (MailMessage.folder == src.folder)
                                     & (MailMessage.uidvalidity == src.uidvalidity) & (MailMessage.uid == src.uid))
        MailMessage.update(disposed=True).where(MailMessage.id == new_record.id).execute()
        QuarantinedMail.update(status="released", ticket=outcome.ticket, message=new_record.id).where(
            QuarantinedMail.id == q.id).execute()
        audit.record(desk, outcome.ticket, "quarantine_released", quarantine=q.id, outcome=outcome.outcome)
    return outcome
