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

from helpdesk import attachments, audit, lifecycle, outbox, sla, tickets
from helpdesk.config import MailboxSpec
from helpdesk.mail.parse import ParsedMail, ParseError, parse
from helpdesk.store.models import (
    Agent, Attachment, ConversationEntry, Customer, MailMessage, Outbox, QuarantinedMail, Ticket, TicketContact,
    UndeliverableAddress,
)

SUBJECT_TAG_RE = re.compile(r"\[#(\d{1,10})\]")
UNDELIVERABLE_FOR = dt.timedelta(days=7)
MAX_ADDRESS = 320  # the columns holding addresses (Customer, TicketContact, Outbox, UndeliverableAddress)
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


def ticket_for_message_id(message_id: str) -> int | None:
    """The ticket a stored (or our own signed) Message-ID belongs to."""
    number = outbox.ticket_from_message_id(message_id)
    if number is not None and Ticket.select().where(Ticket.number == number).exists():
        return number
    row = (ConversationEntry.select(ConversationEntry.ticket).where(ConversationEntry.message_id == message_id)
           .tuples().first())
    if row:
        return row[0]
    row = (MailMessage.select(MailMessage.ticket)
           .where((MailMessage.message_id == message_id) & MailMessage.ticket.is_null(False)).tuples().first())
    if row:
        return row[0]
    row = Outbox.select(Outbox.ticket).where(Outbox.message_id == message_id).tuples().first()
    return row[0] if row and row[0] else None


def _follow_merges(number: int) -> int:
    seen = set()
    while number not in seen:
        seen.add(number)
        merged = Ticket.select(Ticket.merged_into).where(Ticket.number == number).tuples().first()
        if not merged or not merged[0]:
            return number
        number = merged[0]
    return number


def _may_write_by_tag(number: int, sender: str) -> bool:
    row = (Ticket.select(Customer.email).join(Customer).where(Ticket.number == number).tuples().first())
    if row and row[0] == sender:
        return True
    return TicketContact.select().where((TicketContact.ticket == number) & (TicketContact.email == sender)).exists()


def thread(desk, mail: ParsedMail) -> tuple[int | None, str]:
    """(ticket, how) this mail belongs to, or (None, reason) for a new ticket."""
    for mid in mail.thread_ids:
        number = ticket_for_message_id(mid)
        if number is not None:
            return _follow_merges(number), f"references {mid}"
    for match in SUBJECT_TAG_RE.finditer(mail.subject):
        number = int(match.group(1))
        if Ticket.select().where(Ticket.number == number).exists():
            if _may_write_by_tag(number, mail.from_addr):
                return _follow_merges(number), f"subject tag #{number} from its customer"
            return None, f"subject tag #{number} from a stranger ({mail.from_addr}): new ticket"
    return None, "no thread"


def our_addresses(desk) -> set[str]:
    return {m.address.lower() for m in desk.config.mailboxes}


def _record(desk, src: Source, mail: ParsedMail | None, sha: str, outcome: str, ticket: int | None,
            detail: str) -> MailMessage:
    return MailMessage.create(mailbox=src.mailbox, folder=src.folder, uidvalidity=src.uidvalidity, uid=src.uid,
                              message_id=mail.message_id if mail else None, sha256=sha, outcome=outcome,
                              ticket=ticket, detail=detail[:2000], created_at=desk.now())


def quarantine(desk, src: Source, raw: bytes, error: str) -> Outcome:
    import hashlib

    sha = hashlib.sha256(raw).hexdigest()
    attachments.store_bytes(raw)  # kept whole, before the row that names it
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
        record = _record(desk, src, None, sha, "quarantined", None, error)
        QuarantinedMail.create(mailbox=src.mailbox, message=record, sha256=sha, size=len(raw), error=error,
                               created_at=desk.now())
    return Outcome("quarantined", None, error)


def _existing(src: Source) -> Outcome | None:
    # Runs for every message: three columns as a tuple cost a third of a whole model row (get_or_none).
    row = (MailMessage.select(MailMessage.outcome, MailMessage.ticket, MailMessage.detail)
           .where((MailMessage.mailbox == src.mailbox) & (MailMessage.folder == src.folder)
                  & (MailMessage.uidvalidity == src.uidvalidity) & (MailMessage.uid == src.uid)).tuples().first())
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


def _is_duplicate(mail: ParsedMail) -> str | None:
    if mail.message_id:
        if ConversationEntry.select().where(ConversationEntry.message_id == mail.message_id).exists():
            return f"Message-ID {mail.message_id} already stored"
        if MailMessage.select().where((MailMessage.message_id == mail.message_id)
                                      & (MailMessage.outcome != "quarantined")).exists():
            return f"Message-ID {mail.message_id} already fetched"
        if Outbox.select().where(Outbox.message_id == mail.message_id).exists():
            return "our own outgoing mail"
    if MailMessage.select().where((MailMessage.sha256 == mail.sha256) & (MailMessage.outcome != "quarantined")).exists():
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
        if not mail.from_addr or "@" not in mail.from_addr:
            raise ParseError("no sender address")
        if len(mail.from_addr) > MAX_ADDRESS:
            raise ParseError(f"the sender address is longer than {MAX_ADDRESS} characters")
        number, how = thread(desk, mail)
        if number is not None:
            ticket = Ticket.get_by_id(number)
            if ticket.status == "closed":
                new = _new_ticket(desk, mailbox, src, mail, parent=number)
                detail = f"reply to closed #{number}: new ticket #{new}"
                _record(desk, src, mail, mail.sha256, "new_ticket", new, detail)
                return Outcome("new_ticket", new, detail)
            from helpdesk import ratings

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
        Attachment.create(ticket=number, entry=entry, filename=att.filename, content_type=att.content_type[:200],
                          size=len(att.data), sha256=digest, created_at=desk.now())


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
                if a not in ours and a != mail.from_addr and len(a) <= MAX_ADDRESS]
    if contacts:
        TicketContact.insert_many([{"ticket": number, "email": a, "role": "cc"} for a in contacts]) \
            .on_conflict_ignore().execute()
    _store_attachments(desk, number, None, mail)
    outbox.queue_acknowledgement(desk, Ticket.get_by_id(number), mail)
    return number


def _add_reply(desk, ticket: Ticket, mail: ParsedMail) -> None:
    # Only their ids are needed (the entry's authors): no whole rows.
    customer = Customer.select(Customer.id).where(Customer.email == mail.from_addr).tuples().first()
    customer = customer[0] if customer else None
    agent = Agent.select(Agent.id).where(Agent.email == mail.from_addr).tuples().first() if customer is None else None
    agent = agent[0] if agent else None
    body = mail.reply_text or mail.text or "(empty message)"
    entry = ConversationEntry.create(ticket=ticket.number, kind="inbound", author_customer=customer,
                                     author_agent=agent, body=body, message_id=mail.message_id,
                                     created_at=desk.now())
    _store_attachments(desk, ticket.number, entry.id, mail)
    audit.record(desk, ticket.number, "customer_replied", entry=entry.id, sender=mail.from_addr,
                 message_id=mail.message_id)
    if ticket.status in ("pending", "resolved"):
        lifecycle.customer_answered(desk, ticket)
    else:
        tickets.write(desk, ticket, None)
    sla.start_next_update(desk, ticket.number)
    from helpdesk import automation

    automation.emit(desk, "customer_replied", ticket.number)
    from helpdesk.store import search

    search.reindex_tickets([ticket.number])


def _bounce(desk, src: Source, mail: ParsedMail) -> Outcome:
    number = None
    for mid in mail.bounced_message_ids:
        number = ticket_for_message_id(mid)
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


def is_undeliverable(desk, address: str) -> bool:
    row = UndeliverableAddress.get_or_none(UndeliverableAddress.email == address.lower())
    return row is not None and row.until > desk.now()


def quarantine_list(desk, *, include_released: bool = False) -> list[dict]:
    query = QuarantinedMail.select().order_by(QuarantinedMail.id)
    if not include_released:
        query = query.where(QuarantinedMail.status == "held")
    return [{"id": q.id, "mailbox": q.mailbox, "size": q.size, "sha256": q.sha256, "error": q.error,
             "status": q.status, "ticket": q.ticket, "created_at": q.created_at.isoformat() + "Z"} for q in query]


def quarantine_retry(desk, quarantine_id: int) -> Outcome:
    """Process a quarantined mail again (after a fix or a raised limit); the size limit is not applied:
    retrying is the operator's decision."""
    from helpdesk.errors import InvalidInput, NotFound

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
