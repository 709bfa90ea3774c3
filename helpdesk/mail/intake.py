"""One fetched message -> exactly one outcome, written in one transaction with its record.

Threading, in this order: a Message-ID already stored is a duplicate; In-Reply-To/References naming a
stored Message-ID (ours are self-verifying) adds to that ticket; a subject tag `[#N]` adds to ticket N
only when the sender is its customer or a known CC; anything else is a new ticket. Automated mail and
bounces never create tickets and are never answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from helpdesk.config import MailboxSpec
from helpdesk.core.addresses import is_address
from helpdesk.core.errors import InvalidInput, NotFound
from helpdesk.core.limits import EMAIL_MAX as MAX_ADDRESS
from helpdesk.domain import attachments, inbound, ratings, tickets
from helpdesk.domain.inbound import Source  # noqa: F401 - part of this module's interface
from helpdesk.mail.parse import ParsedMail, ParseError, parse

SUBJECT_TAG_RE = re.compile(r"\[#(\d{1,10})\]")
UNDELIVERABLE_FOR = inbound.UNDELIVERABLE_FOR
OUTCOMES = ("new_ticket", "reply", "duplicate", "automated", "bounce", "quarantined")


@dataclass
class Outcome:
    outcome: str
    ticket: int | None = None
    detail: str = ""
    already: bool = False  # this source was processed before (a crash between commit and flag)


def thread(desk, mail: ParsedMail) -> tuple[int | None, str]:
    """(ticket, how) this mail belongs to, or (None, reason) for a new ticket."""
    for mid in mail.thread_ids:
        number = inbound.ticket_for_message_id(desk, mid)
        if number is not None:
            return inbound.follow_merges(desk, number), f"references {mid}"
    for match in SUBJECT_TAG_RE.finditer(mail.subject):
        number = int(match.group(1))
        if inbound.ticket_exists(desk, number):
            if inbound.may_write_by_tag(desk, number, mail.from_addr):
                return inbound.follow_merges(desk, number), f"subject tag #{number} from its customer"
            return None, f"subject tag #{number} from a stranger ({mail.from_addr}): new ticket"
    return None, "no thread"


def our_addresses(desk) -> set[str]:
    return {m.address.lower() for m in desk.config.mailboxes}


def _record(desk, src: Source, mail: ParsedMail | None, outcome: str, ticket: int | None, detail: str) -> int:
    return inbound.record(desk, src, mail.message_id if mail else None, mail.sha256 if mail else "", outcome,
                          ticket, detail)


def quarantine(desk, src: Source, raw: bytes, error: str) -> Outcome:
    sha = attachments.store_bytes(raw)  # kept whole, before the row that names it
    with desk.db.atomic():
        existing = _existing(desk, src)
        if existing:
            return existing
        if inbound.bytes_fetched(desk, sha):
            # The same bytes under another UID (a UIDVALIDITY rescan, a second delivery): held or
            # released already, so they are not quarantined (or made a ticket) twice.
            why = "the same bytes were already fetched (quarantined before)"
            inbound.record(desk, src, None, sha, "duplicate", None, why)
            return Outcome("duplicate", None, why)
        inbound.quarantine(desk, src, sha, len(raw), error)
    return Outcome("quarantined", None, error)


def _existing(desk, src: Source) -> Outcome | None:
    known = inbound.known_source(desk, src)
    return Outcome(*known, already=True) if known else None


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
        outcome = apply(desk, mailbox, src, mail)
    except ParseError as exc:
        return quarantine(desk, src, raw, str(exc))
    except tickets.InvalidInput as exc:
        return quarantine(desk, src, raw, f"refused: {exc}")
    except inbound.REFUSED_BY_DATABASE as exc:
        # A value the database refuses (too long, out of range): this message's fault, so it must not stop
        # the mail behind it. A lost connection still aborts the run.
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        return quarantine(desk, src, raw, f"refused by the database: {text}")
    if not outcome.already:
        inbound.announce(desk, [outcome.ticket])
    return outcome


def apply(desk, mailbox: MailboxSpec, src: Source, mail: ParsedMail) -> Outcome:
    with desk.db.atomic():
        existing = _existing(desk, src)
        if existing:
            return existing
        why = inbound.duplicate_reason(desk, mail.message_id, mail.sha256)
        if why:
            _record(desk, src, mail, "duplicate", None, why)
            return Outcome("duplicate", None, why)
        if mail.bounce:
            return _bounce(desk, src, mail)
        if mail.automated:
            number, _ = thread(desk, mail)
            detail = f"automated ({mail.automated})"
            _record(desk, src, mail, "automated", number, detail)
            if number:
                inbound.record_auto_reply(desk, number, mail.automated, mail.message_id)
            return Outcome("automated", number, detail)
        if not mail.from_addr:
            raise ParseError("no sender address")
        if not is_address(mail.from_addr):
            too_long = f" (longer than {MAX_ADDRESS} characters)" if len(mail.from_addr) > MAX_ADDRESS else ""
            raise ParseError(f"the sender {mail.from_addr[:MAX_ADDRESS]!r} is not an email address{too_long}")
        number, how = thread(desk, mail)
        if number is not None:
            ticket = inbound.ticket(desk, number)
            if ticket.status == "closed":
                new = _new_ticket(desk, mailbox, mail, parent=number)
                detail = f"reply to closed #{number}: new ticket #{new}"
                _record(desk, src, mail, "new_ticket", new, detail)
                return Outcome("new_ticket", new, detail)
            score = ratings.parse_score(mail.reply_text) if ticket.status == "resolved" else None
            if score and ratings.awaiting(number):
                # "4" in answer to our rating request: a score, not a reason to reopen the ticket.
                ratings.record(desk, number, score[0], score[1], via="email")
                detail = f"rating {score[0]}/5 ({how})"
                _record(desk, src, mail, "reply", number, detail)
                return Outcome("reply", number, detail)
            inbound.add_inbound(desk, ticket, mail)
            _record(desk, src, mail, "reply", number, how)
            return Outcome("reply", number, how)
        new = _new_ticket(desk, mailbox, mail)
        _record(desk, src, mail, "new_ticket", new, how)
        return Outcome("new_ticket", new, how)


def _new_ticket(desk, mailbox: MailboxSpec, mail: ParsedMail, parent: int | None = None) -> int:
    return inbound.open_ticket(desk, mail, queue=mailbox.queue, our_addresses=our_addresses(desk), parent=parent)


def _bounce(desk, src: Source, mail: ParsedMail) -> Outcome:
    # Only a bounce of mail we sent counts against an address: a forged or stray bounce (backscatter)
    # must not silence the desk towards anyone.
    number = inbound.bounced_ticket(desk, mail)
    if number is None:
        detail = "bounce matching no ticket: recorded and ignored"
        _record(desk, src, mail, "bounce", None, detail)
        return Outcome("bounce", None, detail)
    inbound.record_bounce(desk, number, mail, MAX_ADDRESS)
    detail = f"bounce of mail on #{number}"
    _record(desk, src, mail, "bounce", number, detail)
    return Outcome("bounce", number, detail)


def quarantine_list(desk, *, include_released: bool = False) -> list[dict]:
    return [{"id": q.id, "mailbox": q.mailbox, "size": q.size, "sha256": q.sha256, "error": q.error,
             "status": q.status, "ticket": q.ticket, "created_at": q.created_at.isoformat() + "Z"}
            for q in inbound.quarantined(desk, include_released=include_released)]


def quarantine_retry(desk, quarantine_id: int) -> Outcome:
    """Process a quarantined mail again (after a fix or a raised limit); the size limit is not applied:
    retrying is the operator's decision."""

    q = inbound.quarantined_mail(desk, quarantine_id)
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
    record = inbound.record_of(desk, q.message_id) if q.message_id else None
    with desk.db.atomic():
        if record is not None:
            src = Source(record.mailbox, record.folder, record.uidvalidity, record.uid)
            inbound.forget_record(desk, q.id, record.id)
        else:
            src = Source(q.mailbox, "(quarantine)", 0, -q.id)
        try:
            outcome = apply(desk, mailbox, src, mail)
        except (ParseError, tickets.InvalidInput) as exc:
            raise InvalidInput(f"quarantined mail {quarantine_id} still refused: {exc}") from None
        inbound.release(desk, q.id, src, outcome.ticket, outcome.outcome)
    inbound.announce(desk, [outcome.ticket])
    return outcome
