"""Deliver the outbox over SMTP, with our Message-ID, In-Reply-To and References, so the customer's
mail client threads the conversation and their answers come back to the right ticket.

A temporary failure is retried with exponential backoff; a permanent one (5xx, or too many attempts)
marks the mail failed and leaves a note on the ticket, so an agent sees the customer did not get it.

Delivery is at least once: each row is marked "sending" and committed before its SMTP conversation,
and marked sent after it. A sender killed in between leaves the row "sending"; it goes out again (same
Message-ID, so clients that deduplicate show it once) when its lease is over. A second copy is possible
only for a kill inside that window; a lost mail is not.
"""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import socket
import ssl
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from helpdesk.core.errors import ConfigError, ServiceUnavailable
from helpdesk.domain import delivery
from helpdesk.domain.delivery import (  # noqa: F401 - the retry policy, part of this module's interface
    BASE_BACKOFF,
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    SENDING_LEASE,
)
from helpdesk.mail import auth, tls
from helpdesk.mail.locks import mailbox_lock
from helpdesk.mail.oauth2 import smtp_login

SMTP_TIMEOUT = 30


@dataclass
class SendReport:
    sent: int = 0
    retry: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: str | None = None  # why nothing was tried (another sender holds the outbox)

    def to_dict(self) -> dict:
        return asdict(self)


def sender_address(desk) -> str:
    for mailbox in desk.config.mailboxes:
        return mailbox.address
    if desk.config.smtp and desk.config.smtp.user and "@" in desk.config.smtp.user:
        return desk.config.smtp.user
    return "helpdesk@localhost"


def build_message(desk, row) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = formataddr((desk.config.desk_name, sender_address(desk)))
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Message-ID"] = row.message_id
    msg["Date"] = format_datetime(row.created_at.replace(tzinfo=dt.timezone.utc))
    if row.in_reply_to:
        msg["In-Reply-To"] = row.in_reply_to
    if row.references:
        msg["References"] = row.references
    if row.auto:
        # Automatic mail: auto-responders must not answer it (RFC 3834), Exchange neither.
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(row.body)
    return msg


def connect(desk) -> smtplib.SMTP:
    spec = desk.config.smtp
    if spec is None:
        raise ConfigError("no [smtp] configured (see config.toml)")
    where = f"SMTP {spec.host}:{spec.port}"
    tokens = auth.provider(spec)
    client = tls.open_smtp(spec.host, spec.port, mode=spec.tls, context=auth.tls_context(spec), timeout=SMTP_TIMEOUT,
                           where=where)
    try:
        if tokens is not None:
            smtp_login(client, tokens, where=where)
        elif spec.user:
            password = spec.password
            if spec.password_env:
                password = os.environ.get(spec.password_env, "")
            client.login(spec.user, password or "")
        return client
    except BaseException as exc:
        try:
            client.close()
        except Exception:  # already disconnected
            pass
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            raise ServiceUnavailable(f"{where}: login failed: {exc.smtp_code} {exc.smtp_error!r}") from None
        if isinstance(exc, ssl.SSLError):
            raise tls.failure(where, spec.host, exc) from None
        if isinstance(exc, (smtplib.SMTPException, OSError)):
            raise ServiceUnavailable(f"{where}: cannot connect: {exc}") from None
        raise


def _count_retry(report: SendReport, retried: bool) -> None:
    """A temporary failure is a retry, unless it was the last attempt: then the mail failed for good."""
    if retried:
        report.retry += 1
    else:
        report.failed += 1


def due(desk, limit: int = 500) -> list:
    """Mail to try now: queued and due, or left "sending" by a sender that stopped (its lease is over)."""
    return delivery.due(desk, limit)


OUTBOX_LOCK = "(outbox)"  # the lock senders share (locks.py), in the namespace of the mailbox locks


def send_outbox(desk) -> SendReport:
    """Deliver what is due, once. Exit 3 (ServiceUnavailable) if the SMTP server cannot be reached.

    One sender at a time (the daemon and a cron `mail send`, two hosts on one PostgreSQL): two would
    read the same due rows and deliver each mail twice. Delivery is at least once: see `delivery.claim`."""
    with mailbox_lock(desk, OUTBOX_LOCK) as held:
        if not held:
            return SendReport(skipped="another sender is delivering the outbox")
        return _send_due(desk)


def _smtp_error(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
    return f"{exc.smtp_code} {text}"


def _send_due(desk) -> SendReport:
    report = SendReport()
    rows = due(desk)
    if not rows:
        return report
    try:
        client = connect(desk)
    except ServiceUnavailable as exc:
        delivery.all_retry_later(desk, rows, str(exc))
        raise
    try:
        for row in rows:
            if row.attempts >= MAX_ATTEMPTS:  # left "sending" again and again: it is not going out
                delivery.failed(desk, row, f"gave up after {row.attempts} attempts: {row.last_error or ''}".strip(),
                                claimed=False)
                report.failed += 1
                continue
            interrupted = row.status == "sending"
            row = delivery.claim(desk, row)
            if row is None:
                continue
            try:
                client.send_message(build_message(desk, row), from_addr=sender_address(desk), to_addrs=[row.to_addr])
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = next(iter(exc.recipients.values()))
                error = f"{code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
                if code >= 500:
                    delivery.failed(desk, row, error)
                    report.failed += 1
                else:
                    _count_retry(report, delivery.retry_later(desk, row, error))
                report.errors.append(f"outbox {row.id} to {row.to_addr}: {error}")
                continue
            except smtplib.SMTPResponseException as exc:
                error = _smtp_error(exc)
                if exc.smtp_code >= 500:
                    delivery.failed(desk, row, error)
                    report.failed += 1
                else:
                    _count_retry(report, delivery.retry_later(desk, row, error))
                report.errors.append(f"outbox {row.id} to {row.to_addr}: {error}")
                continue
            except (smtplib.SMTPServerDisconnected, socket.error, OSError) as exc:
                _count_retry(report, delivery.retry_later(desk, row, f"connection lost: {exc}"))
                report.errors.append(f"outbox {row.id}: connection lost: {exc}")
                break
            except (ValueError, smtplib.SMTPException) as exc:
                # This mail cannot be built or sent as it is (a header Python refuses, an address the
                # server cannot take): it fails alone, the rest of the outbox still goes.
                error = f"cannot send: {exc}"
                delivery.failed(desk, row, error)
                report.failed += 1
                report.errors.append(f"outbox {row.id} to {row.to_addr}: {error}")
                continue
            # An interrupted earlier attempt keeps its note: the customer may have this mail twice.
            delivery.sent(desk, row, keep_note=interrupted)
            report.sent += 1
    finally:
        try:
            client.quit()
        except Exception:  # already disconnected
            pass
    return report
