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

from helpdesk import audit
from helpdesk.store.models import ConversationEntry, Customer, MailMessage, Outbox, Setting, Ticket, UndeliverableAddress

# Two auto-responders answering each other must not loop: at most this many automatic mails to one
# address per window.
AUTO_MAIL_CAP = 3
AUTO_MAIL_WINDOW = dt.timedelta(hours=1)


def desk_secret() -> bytes:
    # Read for every Message-ID made or checked: the one column, not a model row (a third of the cost).
    row = Setting.select(Setting.value).where(Setting.key == "message_id_secret").tuples().first()
    if row is None:
        Setting.insert(key="message_id_secret", value=secrets.token_hex(16)).on_conflict_ignore().execute()
        row = Setting.select(Setting.value).where(Setting.key == "message_id_secret").tuples().get()
    return row[0].encode()


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
    return f"[#{ticket.number}] {ticket.title}"[:500]  # Outbox.subject holds 500; a title may be 500 itself


def _thread_headers(ticket_number: int) -> tuple[str | None, str]:
    """In-Reply-To and References for mail on a ticket: the customer's first mail, then the latest."""
    first = [m for (m,) in MailMessage.select(MailMessage.message_id)
             .where((MailMessage.ticket == ticket_number) & (MailMessage.outcome == "new_ticket")
                    & MailMessage.message_id.is_null(False)).order_by(MailMessage.id).limit(1).tuples()]
    ids = [m for (m,) in ConversationEntry.select(ConversationEntry.message_id)
           .where((ConversationEntry.ticket == ticket_number) & ConversationEntry.message_id.is_null(False)
                  & (ConversationEntry.kind != "note")).order_by(ConversationEntry.id).tuples()]
    refs = list(dict.fromkeys(first + ids[-9:]))
    return (refs[-1] if refs else None), " ".join(refs)


def undeliverable(desk, address: str) -> bool:
    row = (UndeliverableAddress.select(UndeliverableAddress.until)  # one column: checked for every automatic mail
           .where(UndeliverableAddress.email == address.lower()).tuples().first())
    return row is not None and row[0] > desk.now()


def auto_mail_allowed(desk, address: str) -> str | None:
    """None if an automatic mail may go to this address now, else why not."""
    if undeliverable(desk, address):
        return "the address bounced recently"
    recent = (Outbox.select().where((Outbox.to_addr == address.lower()) & (Outbox.auto == True)  # noqa: E712
                                    & (Outbox.created_at > desk.now() - AUTO_MAIL_WINDOW)).count())
    if recent >= AUTO_MAIL_CAP:
        return f"{recent} automatic mails to this address in the last hour"
    return None


def queue_automatic(desk, ticket: Ticket, kind: str, to_addr: str, subject: str, body: str,
                    in_reply_to: str | None = None) -> int | None:
    """Queue an automatic mail (acknowledgement, notification), rate-capped per recipient."""
    why_not = auto_mail_allowed(desk, to_addr)
    if why_not:
        audit.record(desk, ticket.number, "auto_mail_suppressed", kind=kind, to=to_addr, reason=why_not)
        return None
    thread_reply_to, references = _thread_headers(ticket.number)
    in_reply_to = in_reply_to or thread_reply_to
    if in_reply_to and in_reply_to not in references.split():
        references = (references + " " + in_reply_to).strip()
    row = Outbox.create(ticket=ticket.number, kind=kind, to_addr=to_addr.lower(), subject=subject, body=body,
                        message_id=make_message_id(desk, ticket.number), in_reply_to=in_reply_to,
                        references=references, auto=True, created_at=desk.now(), next_attempt_at=desk.now())
    return row.id


def queue_acknowledgement(desk, ticket: Ticket, mail) -> int | None:
    """Tell the customer their mail became ticket #N (the number in the subject tag for replies)."""
    body = (f"Hello{' ' + mail.from_name if mail.from_name else ''},\n\n"
            f"we received your request and opened ticket #{ticket.number}: {ticket.title}\n"
            "Reply to this mail to add to it; keep the ticket number in the subject.\n\n"
            f"{desk.config.desk_name}")
    return queue_automatic(desk, ticket, "ack", mail.from_addr, subject_for(ticket), body,
                           in_reply_to=mail.message_id)


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
