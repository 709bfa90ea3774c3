"""The outbox over SMTP (a real aiosmtpd server on loopback) and the daemon that runs fetch + send."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import signal
import subprocess
import time
import uuid

import pytest

from conftest import run_subprocess


def mail(subject: str = "Printer broken", body: str = "The printer on floor 2 is jammed.",
         sender: str = "ann@globex.example", message_id: str | None = None, extra: str = "") -> bytes:
    message_id = message_id or f"<{uuid.uuid4().hex}@globex.example>"
    return (f"From: Ann <{sender}>\r\nTo: support@desk.example\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n").encode()


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


@pytest.fixture
def mdesk(mail_desk, desk):
    return desk


def ticket_by_mail(desk, imap, **kw) -> int:
    """A ticket created the way customers create them: a mail fetched from the server."""
    from helpdesk.mail import fetch
    from helpdesk.store.models import Ticket

    imap.append(mail(**kw))
    report = fetch.fetch_mailbox(desk, desk.config.mailboxes[0])
    assert report.outcomes == {"new_ticket": 1}
    return Ticket.select().order_by(Ticket.number.desc()).first().number


def outbox_rows():
    from helpdesk.store.models import Outbox

    return list(Outbox.select().order_by(Outbox.id))


def queue_a_reply(configured, mail_config: str) -> None:
    """Configure the desk's mail (TOML), and leave one reply to a customer in the outbox."""
    from helpdesk.domain import tickets
    from helpdesk.domain.desk import open_desk

    configured.write_config(configured.default_config() + "\n" + mail_config)
    desk = open_desk()
    try:
        view, _ = tickets.intake(desk, tickets.TicketInput(title="Phone", customer="ann@globex.example"))
        tickets.reply(desk, view.number, "We will call you.")
    finally:
        desk.close()


def audit_actions(number: int) -> list[str]:
    from helpdesk.store.models import AuditEvent

    return [a for (a,) in AuditEvent.select(AuditEvent.action).where(AuditEvent.ticket == number).tuples()]


# ---------------------------------------------------------------- delivery


def test_outbox_delivered_with_thread_headers(mdesk, imap, smtp):
    from helpdesk.domain import outbox, tickets
    from helpdesk.mail import send

    number = ticket_by_mail(mdesk, imap, message_id="<Q1@globex.example>")
    tickets.reply(mdesk, number, "Please power-cycle it.")
    report = send.send_outbox(mdesk)
    assert (report.sent, report.retry, report.failed) == (2, 0, 0)
    received = smtp.wait_for(2)
    assert [rcpts for _, rcpts, _ in received] == [["ann@globex.example"], ["ann@globex.example"]]
    assert all(sender == "support@desk.example" for sender, _, _ in received)
    ack, reply = (parsed(raw) for _, _, raw in received)
    ack_row, reply_row = outbox_rows()

    assert ack["Message-ID"] == ack_row.message_id and reply["Message-ID"] == reply_row.message_id
    assert ack["From"].addresses[0].addr_spec == "support@desk.example"
    assert ack["Subject"] == f"[#{number}] Printer broken" and reply["Subject"] == ack["Subject"]
    # Automatic mail is marked so auto-responders stay quiet; an agent's reply is not.
    assert ack["Auto-Submitted"] == "auto-replied" and ack["X-Auto-Response-Suppress"] == "All"
    assert reply["Auto-Submitted"] is None
    # Threading: both answer the customer's mail; the reply's References carry the thread.
    assert ack["In-Reply-To"] == "<q1@globex.example>"
    assert reply["In-Reply-To"] and "<q1@globex.example>" in reply["References"].split()
    # Our Message-IDs are self-verifying: they name the ticket.
    assert outbox.ticket_from_message_id(ack["Message-ID"]) == number
    assert outbox.ticket_from_message_id(reply["Message-ID"]) == number
    assert "power-cycle" in reply.get_content()
    for row in outbox_rows():
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, None) and row.sent_at == mdesk.now()
    # Nothing is sent twice.
    assert send.send_outbox(mdesk).sent == 0 and len(smtp.messages) == 2


def test_a_mail_that_cannot_be_built_fails_alone_and_the_rest_goes_out(mdesk, imap, smtp):
    from helpdesk.domain import tickets
    from helpdesk.mail import send
    from helpdesk.store.models import Outbox

    first = ticket_by_mail(mdesk, imap)
    ticket_by_mail(mdesk, imap, subject="Second request")
    bad, good = outbox_rows()
    Outbox.update(subject="two\nlines").where(Outbox.id == bad.id).execute()  # no header may hold that
    report = send.send_outbox(mdesk)
    assert (report.sent, report.failed) == (1, 1) and "cannot send" in report.errors[0]
    assert [r.status for r in outbox_rows()] == ["failed", "sent"] and len(smtp.messages) == 1
    notes = [e for e in tickets.get(mdesk, first, conversation=True).conversation if e.kind == "note"]
    assert len(notes) == 1 and "could not be delivered" in notes[0].body


def test_a_title_with_line_breaks_makes_a_one_line_subject(mdesk):
    from helpdesk.domain import outbox, tickets

    view, _ = tickets.intake(mdesk, tickets.TicketInput(title="Printer\nis on fire", customer="ann@x.example"))
    assert outbox.subject_for(tickets.fetch(view.number)) == f"[#{view.number}] Printer is on fire"


def test_temporary_refusal_retried_with_backoff(mdesk, imap, smtp):
    from helpdesk.mail import send

    ticket_by_mail(mdesk, imap)
    smtp.refuse["ann@globex.example"] = (450, "4.2.1 mailbox busy, try later")
    report = send.send_outbox(mdesk)
    assert (report.sent, report.retry, report.failed) == (0, 1, 0)
    assert "450" in report.errors[0]
    [row] = outbox_rows()
    start = mdesk.now()
    assert (row.status, row.attempts) == ("queued", 1) and "450" in row.last_error
    assert row.next_attempt_at == start + dt.timedelta(minutes=1)
    # Not due yet: nothing is tried.
    assert send.send_outbox(mdesk).to_dict() == {"sent": 0, "retry": 0, "failed": 0, "errors": [], "skipped": None}
    # Due and still refused: the delay doubles.
    mdesk.clock.advance(minutes=1)
    assert send.send_outbox(mdesk).retry == 1
    [row] = outbox_rows()
    assert row.attempts == 2 and row.next_attempt_at == mdesk.now() + dt.timedelta(minutes=2)
    # The server accepts again: delivered.
    del smtp.refuse["ann@globex.example"]
    mdesk.clock.advance(minutes=2)
    assert send.send_outbox(mdesk).sent == 1
    [row] = outbox_rows()
    assert (row.status, row.attempts, row.last_error) == ("sent", 3, None)
    assert len(smtp.wait_for(1)) == 1


def test_permanent_refusal_fails_visibly_on_the_ticket(mdesk, imap, smtp):
    from helpdesk.domain import tickets
    from helpdesk.mail import send

    number = ticket_by_mail(mdesk, imap)
    smtp.refuse["ann@globex.example"] = (550, "5.1.1 no such user")
    report = send.send_outbox(mdesk)
    assert (report.sent, report.retry, report.failed) == (0, 0, 1)
    [row] = outbox_rows()
    assert row.status == "failed" and row.last_error.startswith("550")
    view = tickets.get(mdesk, number, conversation=True)
    notes = [e for e in view.conversation if e.kind == "note"]
    assert len(notes) == 1 and "could not be delivered" in notes[0].body and "550" in notes[0].body
    assert "mail_failed" in audit_actions(number)
    mdesk.clock.advance(days=1)
    assert send.send_outbox(mdesk).to_dict()["failed"] == 0  # never retried
    assert smtp.messages == []


def test_gives_up_after_max_attempts(mdesk, imap, smtp):
    from helpdesk.mail import send

    number = ticket_by_mail(mdesk, imap)
    smtp.refuse["ann@globex.example"] = (421, "4.3.2 shutting down")
    for _ in range(send.MAX_ATTEMPTS - 1):
        assert send.send_outbox(mdesk).retry == 1
        mdesk.clock.advance(hours=7)
    report = send.send_outbox(mdesk)  # the last attempt gives up: the mail failed for good
    assert (report.retry, report.failed) == (0, 1)
    [row] = outbox_rows()
    assert row.status == "failed" and row.attempts == send.MAX_ATTEMPTS and "gave up" in row.last_error
    assert "mail_failed" in audit_actions(number)


@pytest.fixture
def smtp_down_desk(configured, imap):
    from mailservers import free_port

    configured.write_config(configured.default_config() + "\n" + imap.config_toml()
                            + f'[smtp]\nhost = "127.0.0.1"\nport = {free_port()}\ntls = "none"\n')
    return configured


def test_smtp_server_down_exits_3(smtp_down_desk, desk, imap, cli):
    from helpdesk.store.models import Outbox

    ticket_by_mail(desk, imap)
    r = cli("mail", "send")
    assert r.exit_code == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: SMTP 127.0.0.1:") and "cannot connect" in lines[0]
    [row] = Outbox.select()
    assert row.status == "queued" and row.attempts == 1 and "cannot connect" in row.last_error


# ---------------------------------------------------------------- the daemon


def test_daemon_once_runs_fetch_and_send(mail_desk, imap, smtp, helpdesk_bin):
    imap.append(mail(message_id="<d1@globex.example>"))
    r = run_subprocess(helpdesk_bin + ["daemon", "--once"])
    assert r.returncode == 0, r.stderr
    assert "daemon started" in r.stderr and "daemon stopped" in r.stderr
    [(_, rcpts, raw)] = smtp.wait_for(1)
    ack = parsed(raw)
    assert rcpts == ["ann@globex.example"] and ack["In-Reply-To"] == "<d1@globex.example>"
    assert ack["Subject"].startswith("[#")
    status = run_subprocess(helpdesk_bin + ["mail", "status", "--json"])
    assert '"new_ticket": 1' in status.stdout


def test_daemon_cycle_keeps_sending_when_imap_is_down(configured, imap, smtp):
    from helpdesk.domain import tickets
    from helpdesk.domain.desk import open_desk
    from helpdesk import daemon
    from mailservers import free_port

    configured.write_config(configured.default_config() + "\n" + imap.config_toml(port=free_port())
                            + smtp.config_toml())
    desk = open_desk()
    try:
        view, _ = tickets.intake(desk, tickets.TicketInput(title="Phone", customer="ann@globex.example"))
        tickets.reply(desk, view.number, "We will call you.")
        summary = daemon.cycle(desk)
    finally:
        desk.close()
    assert summary["fetch:support"].startswith("error: IMAP 127.0.0.1")
    assert summary["send"]["sent"] == 1 and len(smtp.wait_for(1)) == 1


def test_daemon_stops_cleanly_on_sigterm(mail_desk, imap, smtp, helpdesk_bin):
    import os

    imap.append(mail())
    proc = subprocess.Popen(helpdesk_bin + ["daemon", "--interval", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        # Wait until it has done real work (the acknowledgement went out), then ask it to stop.
        deadline = time.time() + 20
        while not smtp.messages and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert smtp.messages, "the daemon did not fetch and send within 20 s"
        started = time.time()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert time.time() - started < 5
        assert "signal SIGTERM" in err and "daemon stopped" in err
        assert "Traceback" not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_daemon_survives_an_imap_protocol_error(configured, imap, smtp, helpdesk_bin):
    """A server that refuses a command (here: the folder does not exist) is logged as one line; the
    daemon does not die, and the outbox still goes out in the same cycle. `--once` then exits 3, as
    `mail fetch` does."""
    queue_a_reply(configured, imap.config_toml().replace('imap_folder = "INBOX"', 'imap_folder = "NoSuchFolder"')
                  + smtp.config_toml())
    r = run_subprocess(helpdesk_bin + ["daemon", "--once"])
    assert r.returncode == 3, r.stderr
    errors = [line for line in r.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "NoSuchFolder" in errors[0]
    assert r.stderr.strip().splitlines()[-1].startswith("error: mailbox support: ") and "NoSuchFolder" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert len(smtp.wait_for(1)) == 1
    r = run_subprocess(helpdesk_bin + ["mail", "fetch"])
    assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1 and "NoSuchFolder" in r.stderr


def test_two_concurrent_senders_deliver_each_mail_once(configured, imap, smtp, helpdesk_bin):
    from helpdesk.domain import tickets
    from helpdesk.domain.desk import open_desk

    configured.write_config(configured.default_config() + "\n" + imap.config_toml() + smtp.config_toml())
    count = 30
    desk = open_desk()
    try:
        for i in range(count):
            view, _ = tickets.intake(desk, tickets.TicketInput(title=f"t{i}", customer=f"c{i}@globex.example"))
            tickets.reply(desk, view.number, f"Answer {i}")
    finally:
        desk.close()
    procs = [subprocess.Popen(helpdesk_bin + ["mail", "send", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outs
    reports = [json.loads(out) for out, _ in outs]
    assert sum(r["sent"] for r in reports) == count
    assert all(r["skipped"] or r["sent"] >= 0 for r in reports)
    time.sleep(0.2)
    ids = sorted(parsed(raw)["Message-ID"] for _, _, raw in smtp.messages)
    assert len(ids) == count and len(set(ids)) == count


def test_busy_outbox_is_skipped(mdesk, imap, smtp, cli):
    from helpdesk.mail import send
    from helpdesk.mail.locks import mailbox_lock

    ticket_by_mail(mdesk, imap)
    with mailbox_lock(mdesk, send.OUTBOX_LOCK) as held:
        assert held
        r = cli("mail", "send")
        assert r.exit_code == 0 and "skipped" in r.stdout
    assert smtp.messages == [] and outbox_rows()[0].status == "queued"
    assert cli("mail", "send", "--json").json()["sent"] == 1


# ---------------------------------------------------------------- at least once, never lost


def test_a_sender_killed_while_sending_leaves_the_mail_to_be_sent_again(mail_desk, desk, imap, smtp, helpdesk_bin):
    """kill -9 of the daemon in the middle of an SMTP conversation: the row was marked "sending" and
    committed first, so it is neither lost nor marked sent; once its lease runs out it goes out again
    with the same Message-ID (the server may have it twice: at least once, documented)."""
    import os

    from helpdesk.domain import outbox, tickets
    from helpdesk.core.clock import utcnow
    from helpdesk.mail import send
    from helpdesk.store.models import Outbox

    view, _ = tickets.intake(desk, tickets.TicketInput(title="VPN", customer="ann@globex.example"))
    tickets.reply(desk, view.number, "Please reconnect.")
    [row] = outbox_rows()
    smtp.hold.set()  # the server takes the mail but does not answer DATA
    proc = subprocess.Popen(helpdesk_bin + ["daemon", "--interval", "60"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert smtp.in_data.wait(30), "the daemon did not reach DATA"
        claimed = Outbox.get_by_id(row.id)
        assert (claimed.status, claimed.attempts) == ("sending", 1)
        proc.kill()  # SIGKILL: no cleanup of any kind
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        smtp.hold.clear()
    assert len(smtp.messages) == 1
    assert Outbox.get_by_id(row.id).status == "sending"
    listed = [r for r in outbox.pending(desk) if r["id"] == row.id][0]
    assert listed["state"] == "sending" and listed["next_attempt_at"]
    # Another sender leaves it alone while the claim holds ...
    desk.clock.current = utcnow()
    assert send.send_outbox(desk).sent == 0 and len(smtp.messages) == 1
    # ... and sends it again once the claim has run out: same Message-ID, counted as a second attempt.
    desk.clock.advance(seconds=send.SENDING_LEASE.total_seconds() + 1)
    assert send.send_outbox(desk).sent == 1
    first, second = (parsed(raw) for _, _, raw in smtp.wait_for(2))
    assert first["Message-ID"] == second["Message-ID"] == row.message_id
    done = Outbox.get_by_id(row.id)
    assert (done.status, done.attempts) == ("sent", 2) and "twice" in done.last_error


def test_a_mail_that_keeps_killing_its_sender_is_given_up(mdesk, smtp):
    from helpdesk.domain import tickets
    from helpdesk.mail import send
    from helpdesk.store.models import Outbox

    view, _ = tickets.intake(mdesk, tickets.TicketInput(title="VPN", customer="ann@globex.example"))
    tickets.reply(mdesk, view.number, "Please reconnect.")
    [row] = outbox_rows()
    # As if MAX_ATTEMPTS senders had died while sending it.
    Outbox.update(status="sending", attempts=send.MAX_ATTEMPTS, next_attempt_at=mdesk.now()).where(
        Outbox.id == row.id).execute()
    report = send.send_outbox(mdesk)
    assert (report.sent, report.failed) == (0, 1) and smtp.messages == []
    failed = Outbox.get_by_id(row.id)
    assert failed.status == "failed" and failed.last_error.startswith("gave up after")
    assert "mail_failed" in audit_actions(view.number)


# ---------------------------------------------------------------- mail outbox


def test_mail_outbox_shows_why_and_retry_requeues_a_failed_mail(mdesk, imap, smtp, cli):
    from helpdesk.domain import tickets
    from helpdesk.mail import send
    from helpdesk.store.models import Outbox

    assert cli("mail", "outbox").stdout.strip() == "the outbox is empty: every mail was sent"
    ok_ticket = ticket_by_mail(mdesk, imap, sender="ann@globex.example")
    busy = ticket_by_mail(mdesk, imap, sender="bob@globex.example", subject="Phone")
    gone = ticket_by_mail(mdesk, imap, sender="carl@globex.example", subject="Badge")
    tickets.reply(mdesk, ok_ticket, "Done.")
    smtp.refuse["bob@globex.example"] = (451, "4.3.0 try again later")
    smtp.refuse["carl@globex.example"] = (550, "5.1.1 no such user")
    report = send.send_outbox(mdesk)
    assert (report.sent, report.retry, report.failed) == (2, 1, 1)
    tickets.reply(mdesk, ok_ticket, "One more thing.")  # queued, never tried

    rows = cli("mail", "outbox", "--json").json()
    by_to = {(r["to"], r["kind"]): r for r in rows}
    assert [r["state"] for r in rows] == ["retrying", "failed", "queued"]
    retrying = by_to[("bob@globex.example", "ack")]
    assert retrying["attempts"] == 1 and "451" in retrying["last_error"] and retrying["next_attempt_at"]
    failed = by_to[("carl@globex.example", "ack")]
    assert failed["attempts"] == 1 and failed["last_error"].startswith("550") and failed["next_attempt_at"] is None
    assert by_to[("ann@globex.example", "reply")]["attempts"] == 0
    assert len(cli("mail", "outbox", "--all", "--json").json()) == 5  # and the two sent
    text = cli("mail", "outbox")
    assert text.exit_code == 0
    assert "retrying" in text.stdout and "why: 550 5.1.1 no such user" in text.stdout and f"#{gone}" in text.stdout

    # Only a failed mail can be retried.
    r = cli("mail", "outbox", "retry", str(retrying["id"]))
    assert r.exit_code == 1
    assert r.stderr.strip() == f"error: outbox mail {retrying['id']} is retrying, not failed: nothing to retry"
    r = cli("mail", "outbox", "retry", "99999")
    assert r.exit_code == 1 and "not found" in r.stderr
    del smtp.refuse["carl@globex.example"]
    r = cli("mail", "outbox", "retry", str(failed["id"]))
    assert r.exit_code == 0 and r.stdout.strip() == f"outbox mail {failed['id']} to carl@globex.example queued again"
    row = Outbox.get_by_id(failed["id"])
    assert (row.status, row.attempts) == ("queued", 0) and "mail_requeued" in audit_actions(gone)
    from helpdesk.core.clock import utcnow

    mdesk.clock.current = utcnow()  # the CLI queued it on the real clock
    assert send.send_outbox(mdesk).sent >= 2  # the retried acknowledgement and the new reply (bob may be due too)
    assert Outbox.get_by_id(failed["id"]).status == "sent"
    assert busy  # still waiting for its backoff


def test_outbox_listing_shows_hostile_text_inert(mdesk, cli):
    from helpdesk.domain import tickets

    view, _ = tickets.intake(mdesk, tickets.TicketInput(title="Invoice \x1b]0;pwned\x07 [/]oops",
                                                       customer="ann@globex.example"))
    tickets.reply(mdesk, view.number, "ok")
    out = cli("mail", "outbox").stdout
    assert "\x1b" not in out and "\x07" not in out and "[/]oops" in out


# ---------------------------------------------------------------- daemon --once: exit 3 when a server is away


def test_daemon_once_exits_3_when_smtp_is_unreachable_after_fetching(smtp_down_desk, imap, helpdesk_bin):
    imap.append(mail(message_id="<once1@globex.example>"))
    r = run_subprocess(helpdesk_bin + ["daemon", "--once"])
    assert r.returncode == 3, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("error: outbox: SMTP 127.0.0.1:") and "cannot connect" in last
    assert "Traceback" not in r.stderr
    status = run_subprocess(helpdesk_bin + ["mail", "status", "--json"])
    assert '"new_ticket": 1' in status.stdout  # the mailbox was still fetched


def test_daemon_once_exits_3_when_a_mailbox_is_unreachable_after_sending(configured, imap, smtp, helpdesk_bin):
    from mailservers import free_port

    queue_a_reply(configured, imap.config_toml(port=free_port()) + smtp.config_toml())
    r = run_subprocess(helpdesk_bin + ["daemon", "--once"])
    assert r.returncode == 3, r.stderr
    assert r.stderr.strip().splitlines()[-1].startswith("error: mailbox support: IMAP 127.0.0.1")
    assert len(smtp.wait_for(1)) == 1  # the outbox still went out


def test_the_long_running_daemon_keeps_going_while_smtp_is_down(smtp_down_desk, desk, imap, helpdesk_bin):
    import os

    from helpdesk.store.models import MailMessage

    ticket_by_mail(desk, imap)  # an acknowledgement to send
    proc = subprocess.Popen(helpdesk_bin + ["daemon", "--interval", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        time.sleep(1.5)  # the first cycle fails to reach the SMTP server
        assert proc.poll() is None
        imap.append(mail(subject="Second request", message_id="<later@globex.example>"))
        deadline = time.time() + 20
        while time.time() < deadline and not MailMessage.select().where(
                MailMessage.message_id == "<later@globex.example>").exists():
            time.sleep(0.2)  # later cycles still fetch
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert MailMessage.select().where(MailMessage.message_id == "<later@globex.example>").exists()
    assert any(" ERROR " in line and "outbox: SMTP" in line for line in err.splitlines())
    assert "daemon stopped" in err and "Traceback" not in err
