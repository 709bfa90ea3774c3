"""`helpdesk mail`: the email channel.

Each command imports its service inside the function (lazy): a service loads the store, and fetch and
send the IMAP and SMTP clients, which `--help` never needs.
"""

from typing import Annotated

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import echo, emit, open_desk, output_options

app = make_app()
quarantine_app = make_app()
app.add_typer(quarantine_app, name="quarantine", help="Mail that could not become a ticket, kept whole.\n\n"
                                                      "Example: helpdesk mail quarantine list")


@app.command()
@output_options("json", "nl")
def fetch(
    ai_wait: Annotated[float, typer.Option(
        "--ai-wait", min=0, metavar="SECONDS",
        help="With [ai] enabled: how long to wait, after the mail is in, for the AI classification of the new "
             "tickets (it starts as each one is stored); what is left, the daemon classifies. 0: leave it all "
             "to the daemon.")] = 30.0,
    fmt: str = "text",
) -> None:
    """One pass over every configured mailbox, then exit (exit 3 if a server cannot be reached).

    Example: helpdesk mail fetch --json
    """
    from helpdesk.services import desk as desk_service, mail  # lazy: see the module notes

    settled = None
    with open_desk(actor=desk_service.SYSTEM_DAEMON) as desk:  # the daemon's work, run by cron too: no agent needed
        reports = mail.fetch(desk)
        new = [n for r in reports for n in r.new_tickets]
        if desk.config.ai.enabled and new:
            from helpdesk.services import ai  # lazy: only desks with [ai] enabled load it

            settled = ai.settle(desk, new, ai_wait)
    if fmt != "text":
        emit([r.to_dict() for r in reports], fmt)
    else:
        for r in reports:
            if r.skipped:
                echo(f"{r.mailbox}: skipped: {r.skipped}")
            else:
                counts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in sorted(r.outcomes.items())) or "nothing new"
                echo(f"{r.mailbox}: {r.fetched} fetched ({counts}); last UID {r.last_uid}"
                     + (f"; {r.recovered} already stored by an interrupted run, now flagged" if r.recovered else "")
                     + ("; UIDVALIDITY changed: folder rescanned" if r.rescanned else ""))
    if settled is not None:
        # On stderr with --json/--nl: their stdout stays the one document scripts read.
        line = f"ai: {len(settled.classified)} of {len(new)} new tickets classified"
        if settled.left:
            line += (f"; {len(settled.left)} left for the daemon (helpdesk daemon) or helpdesk ai classify ID: "
                     + ", ".join(f"#{n}" for n in settled.left[:10]) + (" ..." if len(settled.left) > 10 else ""))
        echo(line, err=fmt != "text")


@app.command()
@output_options("json")
def send(fmt: str = "text") -> None:
    """Deliver the outbox once (exit 3 if the SMTP server cannot be reached).

    Example: helpdesk mail send
    """
    from helpdesk.services import desk as desk_service, mail  # lazy: see the module notes

    with open_desk(actor=desk_service.SYSTEM_DAEMON) as desk:  # the daemon's work, run by cron too: no agent needed
        report = mail.send(desk)
    if fmt != "text":
        emit(report.to_dict(), fmt)
        return
    if report.skipped:
        echo(f"outbox: skipped: {report.skipped}")
        return
    echo(f"{report.sent} sent, {report.retry} to retry later, {report.failed} failed")
    for error in report.errors:
        echo(f"  {error}", err=True)


@app.command()
@output_options("json", "nl")
def status(fmt: str = "text") -> None:
    """Per mailbox: the last UID seen, how every fetched message ended, how it logs in (password or
    OAuth2, and when its token expires) and whether the daemon's IDLE is live; and how [smtp] signs in
    (in --json: each row's "smtp").

    Example: helpdesk mail status --json
    """
    from helpdesk.services import mail  # lazy: see the module notes

    with open_desk() as desk:
        rows = mail.status(desk)
        smtp = mail.smtp_status(desk)
    if fmt != "text":
        emit(rows, fmt)
        return
    if not rows:
        echo("no mailbox configured or fetched yet")
    for r in rows:
        o = r["outcomes"]
        echo(f"{r['mailbox']}: last UID {r['last_uid']}, {r['fetched']} fetched: {o['new_ticket']} new tickets, "
                   f"{o['reply']} replies, {o['duplicate']} duplicates, {o['automated']} automated ignored, "
                   f"{o['bounce']} bounces, {o['quarantined']} quarantined"
                   + ("" if r["configured"] else " (no longer configured)"))
        if r["configured"] and "auth" in r:
            echo(f"  {_auth_line(r, r['mailbox'])}; {_idle_line(r)}")
    if smtp is not None:
        echo("smtp: " + (_auth_line(smtp, "smtp") if smtp["auth"] == "oauth2" or smtp["user"]
                         else "sends without signing in"))


def _auth_line(r: dict, login_name: str) -> str:
    """`login_name`: what `helpdesk mail login` calls this sign-in (a mailbox's name, or "smtp")."""
    if r["auth"] != "oauth2":
        return "logs in with a password"
    line = f"OAuth2 via {r['oauth2_provider']}" + (f" ({r['oauth2_flow']})" if r.get("oauth2_flow") else "")
    if r.get("auth_error"):
        return f"{line}: {r['auth_error']}"
    if r["signed_in"] is False:
        return f"{line}: not signed in (run `helpdesk mail login {login_name}`)"
    if r.get("account"):
        line += f" as {r['account']}"
    return line + (f", token expires {r['token_expires_at']}" if r.get("token_expires_at") else "")


def _idle_line(r: dict) -> str:
    if r.get("idle"):
        return "IDLE live"
    if r.get("watch"):
        state = {"polling": "no IDLE on the server: polled"}.get(r["watch"], f"IDLE {r['watch']}")
        return state + (f" ({r['watch_error']})" if r.get("watch_error") else "")
    return "IDLE: no daemon watching on this machine"


@app.command()
@output_options("json")
def login(
    mailbox: Annotated[str, typer.Argument(help="The mailbox's name (or smtp for [smtp]).", metavar="MAILBOX")],
    fmt: str = "text",
) -> None:
    """Sign a mailbox in to its OAuth2 provider once (auth = "oauth2"): Microsoft shows an address and a
    code to enter on any device, Google an address to open in a browser; a token command needs nothing
    (this checks it works). The grant is kept private in the data directory and renewed from then on.

    Example: helpdesk mail login support
    """
    from helpdesk.services import mail  # lazy: see the module notes

    def show(text: str) -> None:  # what to open and type: on stderr when stdout is JSON
        for line in text.splitlines():
            echo(line, err=fmt != "text")

    result = mail.login(mailbox, show)
    if fmt != "text":
        emit(result, fmt)
        return
    echo(f"mailbox {mailbox}: signed in to {result['provider']}"
         + (f" as {result['account']}" if result.get("account") else "")
         + (f"; token valid until {result['expires_at']}" if result.get("expires_at") else ""))


@quarantine_app.command("list")
@output_options("json", "nl")
def quarantine_list(
    all_: Annotated[bool, typer.Option("--all", help="Include mail already released.")] = False,
    fmt: str = "text",
) -> None:
    """Mail that could not be turned into a ticket, with its error.

    Example: helpdesk mail quarantine list --json
    """
    from helpdesk.services import mail  # lazy: see the module notes

    with open_desk() as desk:
        rows = mail.quarantine(desk, include_released=all_)
    if fmt != "text":
        emit(rows, fmt)
        return
    if not rows:
        echo("the quarantine is empty")
    for r in rows:  # the error quotes what the stranger sent (a sender, a header): echo shows it inert
        echo(f"{r['id']:>4}  {r['mailbox']}  {r['size']} bytes  {r['status']}  {r['error']}")


@quarantine_app.command("retry")
@output_options("json")
def quarantine_retry(
    quarantine_id: Annotated[int, typer.Argument(help="The quarantine id (see list).", metavar="ID")],
    fmt: str = "text",
) -> None:
    """Process a quarantined mail again (after a fix, or to accept an over-size mail).

    Example: helpdesk mail quarantine retry 3
    """
    from helpdesk.services import mail  # lazy: see the module notes

    with open_desk() as desk:
        outcome = mail.quarantine_retry(desk, quarantine_id)
    if fmt != "text":
        emit({"id": quarantine_id, "outcome": outcome.outcome, "ticket": outcome.ticket, "detail": outcome.detail}, fmt)
        return
    echo(f"quarantined mail {quarantine_id}: {outcome.outcome.replace('_', ' ')}"
               + (f" #{outcome.ticket}" if outcome.ticket else ""))


outbox_app = make_app(no_args_is_help=False)
app.add_typer(outbox_app, name="outbox")  # its help is the docstring below, examples included


@outbox_app.callback(invoke_without_command=True)
@output_options("json", "nl")
def outbox(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Include mail already sent.")] = False,
    fmt: str = "text",
) -> None:
    """Mail not delivered yet: queued, sending, retrying (with its last error and next attempt) and
    failed (with why). Retry a failed one with `helpdesk mail outbox retry ID`.

    \b
    Examples:
      helpdesk mail outbox
      helpdesk mail outbox --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from helpdesk.services import mail  # lazy: see the module notes

    with open_desk() as desk:
        rows = mail.outbox(desk, include_sent=all_)
    if fmt != "text":
        emit(rows, fmt)
        return
    if not rows:
        echo("the outbox is empty: every mail was sent")
        return
    for r in rows:
        when = {"queued": "next try", "retrying": "next try", "sending": "claimed until"}.get(r["state"])
        echo(f"{r['id']:>5}  {r['state']:<8}  {r['to']}  {r['subject']}"
             + (f"  (ticket #{r['ticket']})" if r["ticket"] else "")
             + f"  attempts {r['attempts']}"
             + (f"  {when} {r['next_attempt_at']}" if when and r["next_attempt_at"] else "")
             + (f"  sent {r['sent_at']}" if r["sent_at"] else ""))
        if r["last_error"]:
            echo(f"       why: {r['last_error']}")


@outbox_app.command("retry")
@output_options("json")
def outbox_retry(
    outbox_id: Annotated[int, typer.Argument(help="The outbox id (see helpdesk mail outbox).", metavar="ID")],
    fmt: str = "text",
) -> None:
    """Queue a failed mail again (after fixing the address or the server): it goes out at the next
    `mail send` or daemon cycle, with the same Message-ID.

    Example: helpdesk mail outbox retry 12
    """
    from helpdesk.services import mail  # lazy: see the module notes

    with open_desk() as desk:
        row = mail.outbox_retry(desk, outbox_id)
    if fmt != "text":
        emit(row, fmt)
        return
    echo(f"outbox mail {outbox_id} to {row['to']} queued again")
