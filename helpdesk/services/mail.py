"""The email channel: fetch, send, status, quarantine, outbox.

Fetch and send talk to IMAP and SMTP servers, so they run no unit of work around the network: they
commit message by message themselves (stopping between messages loses nothing). Retrying a quarantined
mail or an outbox entry is one unit of work each.
"""

from __future__ import annotations

from helpdesk.services.work import unit


def fetch(desk) -> list:
    """One pass over every configured mailbox; a report per mailbox."""
    from helpdesk.mail import fetch as fetch_mod  # lazy: the IMAP client is only needed here

    return fetch_mod.fetch_all(desk)


def fetch_mailbox(desk, mailbox):
    """One pass over one mailbox (the daemon logs each on its own)."""
    from helpdesk.mail import fetch as fetch_mod  # lazy: see fetch

    return fetch_mod.fetch_mailbox(desk, mailbox)


def send(desk):
    """Deliver the outbox once."""
    from helpdesk.mail import send as send_mod  # lazy: smtplib and TLS set-up are only needed here

    return send_mod.send_outbox(desk)


def status(desk) -> list[dict]:
    """Per mailbox: the last UID seen and how every fetched message ended."""
    from helpdesk.mail import fetch as fetch_mod  # lazy: see fetch

    return fetch_mod.status(desk)


def quarantine(desk, *, include_released: bool = False) -> list[dict]:
    """Mail that could not become a ticket, with its error."""
    from helpdesk.mail import intake  # lazy: the mail parser is only needed for mail commands

    return intake.quarantine_list(desk, include_released=include_released)


def quarantine_retry(desk, quarantine_id: int):
    """Process a quarantined mail again; its outcome (a new ticket, a reply, ...)."""
    from helpdesk.mail import intake  # lazy: see quarantine

    with unit(desk) as work:
        outcome = intake.quarantine_retry(desk, quarantine_id)
        if outcome.ticket:
            work.changed(outcome.ticket)
    return outcome


def outbox(desk, *, include_sent: bool = False) -> list[dict]:
    """Mail not delivered yet (with `include_sent`, sent mail too)."""
    from helpdesk.domain import outbox as outbox_mod  # lazy: only outbox commands read it

    return outbox_mod.pending(desk, include_sent=include_sent)


def outbox_retry(desk, outbox_id: int) -> dict:
    """Queue a failed mail again, with the same Message-ID."""
    from helpdesk.domain import outbox as outbox_mod  # lazy: see outbox

    with unit(desk):
        return outbox_mod.requeue(desk, outbox_id)
