"""The email channel: fetch, send, status, quarantine, outbox; OAuth2 sign-in (`login`) and the
daemon's IDLE watchers (`watch`).

Fetch and send talk to IMAP and SMTP servers, so they run no unit of work around the network: they
commit message by message themselves (stopping between messages loses nothing). Retrying a quarantined
mail or an outbox entry is one unit of work each.
"""

from __future__ import annotations

import datetime as dt

from helpdesk.core import views
from helpdesk.core.errors import InvalidInput, NotFound
from helpdesk.services.work import unit


def _classify_new(desk):
    """What mail intake calls after each new ticket's commit: with `[ai] enabled`, queue its AI
    classification for this process's background thread (returns at once, as every intake's does)."""
    if not desk.config.ai.enabled:
        return None
    from helpdesk.services import ai  # lazy: the AI modules load only on desks that use them

    return lambda numbers: ai.classify_soon(desk, numbers)


def fetch(desk) -> list:
    """One pass over every configured mailbox; a report per mailbox (`new_tickets`: what it created,
    queued for AI classification as each committed)."""
    from helpdesk.mail import fetch as fetch_mod  # lazy: the IMAP client is only needed here

    return fetch_mod.fetch_all(desk, on_new_tickets=_classify_new(desk))


def fetch_mailbox(desk, mailbox):
    """One pass over one mailbox (the daemon logs each on its own)."""
    from helpdesk.mail import fetch as fetch_mod  # lazy: see fetch

    return fetch_mod.fetch_mailbox(desk, mailbox, on_new_tickets=_classify_new(desk))


def send(desk):
    """Deliver the outbox once."""
    from helpdesk.mail import send as send_mod  # lazy: smtplib and TLS set-up are only needed here

    return send_mod.send_outbox(desk)


def status(desk) -> list[dict]:
    """Per mailbox: the last UID seen, how every fetched message ended, how it authenticates, when its
    token expires and whether the daemon's IDLE is live (see auth_status). Every row also carries
    `smtp`: how the [smtp] server signs in (null without [smtp]); on each row rather than a document of
    its own so the output stays the list of mailboxes scripts already read."""
    from helpdesk.mail import fetch as fetch_mod  # lazy: see fetch

    rows = fetch_mod.status(desk)
    states = auth_status(desk)
    smtp = smtp_status(desk)
    for row in rows:
        row.update(states.get(row["mailbox"], {}) if row["configured"] else {})
        row["smtp"] = smtp
    return rows


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
        if outcome.outcome == "new_ticket" and outcome.ticket and desk.config.ai.enabled:
            from helpdesk.services import ai  # lazy: see _classify_new

            ai.after_intake(work, [outcome.ticket])
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


# ---------------------------------------------------------------- sign-in and push


def _iso_epoch(seconds: float | None) -> str | None:
    if seconds is None:
        return None
    return views.iso(dt.datetime.fromtimestamp(float(seconds), dt.timezone.utc).replace(tzinfo=None))


def _auth_spec(config, name: str):
    """The mailbox (or, by the name "smtp", the [smtp] server) whose sign-in `name` means."""
    from helpdesk.config import SMTP_GRANT  # lazy: only the sign-in commands need it

    for mailbox in config.mailboxes:
        if mailbox.name == name:
            return mailbox
    if name == SMTP_GRANT and config.smtp is not None:
        return config.smtp
    known = [m.name for m in config.mailboxes] + ([SMTP_GRANT] if config.smtp is not None else [])
    raise NotFound(f"no mailbox named {name!r}" + (f" (configured: {', '.join(known)})" if known else
                                                   " (no [[mailbox]] configured)"))


def login(name: str, show) -> dict:
    """Sign mailbox `name` (or "smtp") in once: `show(text)` tells the person what to open and type
    (Microsoft: a URL and a code; Google: an address). Flows without a person get a token to prove the
    settings work. The grant is kept 0600 in the data directory; the token is never returned."""
    from helpdesk import config as config_mod  # lazy: see _auth_spec
    from helpdesk.mail import auth  # lazy: the OAuth2 libraries load only for sign-in and mail

    spec = _auth_spec(config_mod.load(), name)
    tokens = auth.provider(spec)
    if tokens is None:
        raise InvalidInput(f"mailbox {name} logs in with a password (auth = \"password\"): there is nothing to sign "
                         "in to; set auth = \"oauth2\" and oauth2_provider to use OAuth2")
    account = tokens.login(show)
    state = tokens.status()
    return {"mailbox": name, "provider": state["provider"], "flow": state["flow"], "account": account or None,
            "expires_at": _iso_epoch(state["expires_at"])}


def auth_status(desk) -> dict[str, dict]:
    """Per configured mailbox: how it authenticates, when its token expires, whether the daemon's IDLE
    is live. Reads no network. [smtp] is smtp_status's: a mailbox may be named "smtp" too."""
    from helpdesk.mail import watch  # lazy: see login

    watching = watch.read_status()
    out = {}
    for mailbox in desk.config.mailboxes:
        seen = watching.get(mailbox.name)
        entry = _auth_entry(mailbox, (seen or {}).get("token_expires_at"))
        entry["idle"] = (seen.get("state") == "idle") if seen else (None if not watching else False)
        entry["watch"] = seen.get("state") if seen else None
        entry["watch_error"] = seen.get("last_error") if seen else None
        out[mailbox.name] = entry
    return out


def _auth_entry(spec, watched_expiry: float | None = None) -> dict:
    """How one mailbox or the [smtp] server signs in, from the grant kept here (or, for a mailbox, the
    expiry the daemon's watcher last saw)."""
    from helpdesk.mail import auth  # lazy: see login

    state = auth.describe(spec)
    entry = {"auth": state["auth"], "oauth2_provider": state["provider"], "oauth2_flow": state["flow"],
             "signed_in": state["logged_in"], "account": state["account"],
             "token_expires_at": _iso_epoch(state.get("expires_at") or watched_expiry)}
    if "error" in state:
        entry["auth_error"] = state["error"]
    return entry


def smtp_status(desk) -> dict | None:
    """How the [smtp] server signs in (None without [smtp]): the fields of a mailbox's sign-in, plus the
    account it signs in as (`user`, None when it sends without signing in). Reads no network."""
    from helpdesk.mail import auth  # lazy: see login

    if desk.config.smtp is None:
        return None
    return {**_auth_entry(desk.config.smtp), "user": auth.login_user(desk.config.smtp) or None}


def watch(desk, wake):
    """Start an IDLE watcher per mailbox (`idle = true`, the default) that sets `wake` when mail arrives;
    None when no mailbox is watched. `.take()` says which mailboxes to fetch, `.stop()` ends them."""
    from helpdesk.mail import watch as watch_mod  # lazy: only the daemon watches

    watchers = watch_mod.Watchers(desk.config.mailboxes, wake)
    if not watchers.watchers:
        return None
    return watchers.start()
