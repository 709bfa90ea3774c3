"""IMAP intake: fetch every new message of every configured mailbox exactly once.

- New UIDs above the stored watermark are fetched with BODY.PEEK[] (never marking mail read), so mail
  a person already opened is still ingested.
- Each message is processed and recorded (mailbox, folder, UIDVALIDITY, UID, Message-ID, hash) in one
  transaction; only after the commit is it flagged \\Seen or moved to the processed folder. A crash
  at any point leaves either nothing (fetched again next time) or a record (never processed twice);
  messages recorded but not yet disposed of are disposed of on the next run.
- A changed UIDVALIDITY rescans the folder; Message-ID and hash deduplication create nothing twice.
- One fetcher per mailbox (see locks.py): overlapping cron runs skip a mailbox that is busy.
"""

from __future__ import annotations

import imaplib
import socket
import ssl
from dataclasses import asdict, dataclass, field
from typing import Callable

from helpdesk.config import MailboxSpec
from helpdesk.core.errors import ConfigError, ServiceUnavailable
from helpdesk.domain import inbound
from helpdesk.mail import auth, intake, tls
from helpdesk.mail.locks import mailbox_lock
from helpdesk.mail.oauth2 import imap_login

FETCH_BATCH = 200
IMAP_TIMEOUT = 30


@dataclass
class FetchReport:
    mailbox: str
    skipped: str | None = None  # why the mailbox was not fetched (another fetcher holds it)
    fetched: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    last_uid: int = 0
    uidvalidity: int | None = None
    rescanned: bool = False
    recovered: int = 0  # fetched again but already committed by a run that stopped before flagging them
    new_tickets: list[int] = field(default_factory=list)  # tickets this pass created, in order

    def to_dict(self) -> dict:

        return asdict(self)


def connect(mailbox: MailboxSpec):
    """A logged-in IMAPClient; any connection, TLS or login failure is ServiceUnavailable (exit 3), a
    sign-in that only a person can renew is LoginRequired (exit 3, naming `helpdesk mail login`)."""
    # lazy: imapclient only when a mailbox is opened, not for every command that imports mail
    from imapclient.exceptions import IMAPClientError, LoginError

    where = f"IMAP {mailbox.imap_host}:{mailbox.imap_port} ({mailbox.name})"
    tokens = auth.provider(mailbox)
    client = tls.open_imap(mailbox.imap_host, mailbox.imap_port, mode=mailbox.tls, context=auth.tls_context(mailbox),
                           timeout=IMAP_TIMEOUT, where=where)
    try:
        if tokens is not None:
            imap_login(client, tokens, where=where)
        else:
            client.login(mailbox.imap_user, mailbox.password())
        return client
    except BaseException as exc:
        try:
            client.shutdown()
        except Exception:  # already broken: nothing to close cleanly
            pass
        if isinstance(exc, LoginError):
            raise ServiceUnavailable(f"{where}: login failed for {mailbox.imap_user!r}: {_text(exc)}") from None
        if isinstance(exc, ssl.SSLError):
            raise tls.failure(where, mailbox.imap_host, exc) from None
        if isinstance(exc, (IMAPClientError, OSError)):
            raise ServiceUnavailable(f"{where}: cannot connect: {_text(exc)}") from None
        raise


def _text(exc: Exception) -> str:
    text = str(exc)
    if isinstance(exc, bytes):
        text = exc.decode(errors="replace")
    return text.strip().splitlines()[0] if text.strip() else exc.__class__.__name__


def _dispose(client, mailbox: MailboxSpec, uids: list[int]) -> None:
    """After the commit: flag as seen, or move to the processed folder."""
    if not uids:
        return
    if mailbox.processed_folder:
        if client.has_capability("MOVE"):
            client.move(uids, mailbox.processed_folder)
        else:
            client.copy(uids, mailbox.processed_folder)
            client.add_flags(uids, [b"\\Seen", b"\\Deleted"])
            client.uid_expunge(uids) if client.has_capability("UIDPLUS") else client.expunge()
    else:
        client.add_flags(uids, [b"\\Seen"])


NewTickets = Callable[[list[int]], object]


def fetch_mailbox(desk, mailbox: MailboxSpec, *, on_new_tickets: NewTickets | None = None,
                  crash_after_commit: bool = False) -> FetchReport:
    """One pass over one mailbox. `on_new_tickets([number])` is called after the commit of each message
    that created a ticket (the services queue its AI classification there); it must return at once.
    `crash_after_commit` exists for the crash-recovery test only."""
    report = FetchReport(mailbox=mailbox.name)
    with mailbox_lock(desk, mailbox.name) as held:
        if not held:
            report.skipped = "another fetcher is working on this mailbox"
            return report
        client = connect(mailbox)
        try:
            _fetch(desk, client, mailbox, report, on_new_tickets, crash_after_commit)
        except ServiceUnavailable:
            raise
        except (socket.error, OSError) as exc:
            raise ServiceUnavailable(f"IMAP {mailbox.imap_host}: connection lost: {_text(exc)}") from None
        except imaplib.IMAP4.error as exc:
            # The server refused a command (a folder that does not exist, ...) or dropped us (IMAP4.abort):
            # one clear line, and the daemon carries on with its other steps.
            raise ServiceUnavailable(f"IMAP {mailbox.imap_host}:{mailbox.imap_port} ({mailbox.name}): "
                                     f"{_text(exc)}") from None
        finally:
            try:
                client.logout()
            except Exception:  # the connection may already be gone
                pass
    return report


def _fetch(desk, client, mailbox: MailboxSpec, report: FetchReport, on_new_tickets: NewTickets | None,
           crash_after_commit: bool) -> None:
    folder = mailbox.imap_folder
    if mailbox.processed_folder and not client.folder_exists(mailbox.processed_folder):
        client.create_folder(mailbox.processed_folder)
    info = client.select_folder(folder)
    uidvalidity = int(info[b"UIDVALIDITY"])
    report.uidvalidity = uidvalidity
    # A changed UIDVALIDITY: the server renumbered the folder, every UID we know is meaningless. The
    # folder is scanned from the start; Message-ID and hash deduplication create nothing twice.
    last_uid, report.rescanned = inbound.mailbox_position(desk, mailbox.name, folder, uidvalidity)

    # Messages committed by an earlier run that crashed before flagging/moving them.
    leftover = inbound.undisposed(desk, mailbox.name, folder, uidvalidity)
    if leftover:
        present = set(client.search(["UID", ",".join(str(u) for _, u in leftover)]))
        _dispose(client, mailbox, sorted(u for _, u in leftover if u in present))
        inbound.mark_disposed(desk, [i for i, _ in leftover])

    # `UID n:*` always returns the last message, even when its UID is below n: filter.
    uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
    last = last_uid
    for start in range(0, len(uids), FETCH_BATCH):
        batch = uids[start:start + FETCH_BATCH]
        data = client.fetch(batch, [b"BODY.PEEK[]"])
        done_uids: list[int] = []
        for uid in batch:
            item = data.get(uid)
            if item is None:
                continue  # expunged meanwhile by someone else
            raw = item.get(b"BODY[]") or b""
            src = intake.Source(mailbox.name, folder, uidvalidity, uid)
            outcome = intake.process(desk, mailbox, src, raw)
            if outcome.already:  # its outcome was counted by the run that committed it
                report.recovered += 1
            else:
                report.fetched += 1
                report.outcomes[outcome.outcome] = report.outcomes.get(outcome.outcome, 0) + 1
                if outcome.outcome == "new_ticket" and outcome.ticket is not None:
                    report.new_tickets.append(outcome.ticket)
                    if on_new_tickets is not None:
                        on_new_tickets([outcome.ticket])
            if crash_after_commit:
                raise SystemExit("simulated crash between commit and flag")
            done_uids.append(uid)  # its record exists: process() committed it (or found it from a crashed run)
            last = max(last, uid)
        _dispose(client, mailbox, done_uids)
        inbound.batch_done(desk, mailbox.name, folder, uidvalidity, done_uids, last)
    report.last_uid = last


def fetch_all(desk, *, on_new_tickets: NewTickets | None = None) -> list[FetchReport]:
    if not desk.config.mailboxes:

        raise ConfigError("no [[mailbox]] configured (see config.toml)")
    return [fetch_mailbox(desk, mailbox, on_new_tickets=on_new_tickets) for mailbox in desk.config.mailboxes]


def status(desk) -> list[dict]:
    """Per mailbox: where intake stands and how every fetched message ended."""
    return inbound.intake_status(desk, [m.name for m in desk.config.mailboxes], intake.OUTCOMES)
