"""One address checker for every path (mail intake, --customer, imports): what RFC 5322 accepts, no
garbage. The mail path is tested against the real Dovecot and SMTP servers; the CLI on both backends."""

from __future__ import annotations

import uuid

import pytest

from helpdesk.core.addresses import is_address

VALID = [
    "ann@globex.example", "root@localhost", "nagios@mon", "postgres@db-01", "ann.lee+it@globex.example",
    "o'brien@globex.ie", "x!#$%&'*+-/=?^_`{|}~@globex.example", '"big bug bb"@bug.com', '"a@b"@globex.example',
    '"quote\\"inside"@globex.example', '"tab\there"@globex.example', "ann@[192.0.2.1]", "ann@[IPv6:2001:db8::1]",
    "jörg@müller.example", "用户@例子.example", "a@b", "a" * 64 + "@" + "b" * 240 + ".example",
]
INVALID = [
    "", "ann", "ann@", "@globex.example", "ann lee@globex.example", "ann@globex example", "a@b@c",
    "a..b@globex.example", ".ann@globex.example", "ann.@globex.example", "ann@globex..example", "ann@.globex",
    "ann@globex.", '"unterminated@globex.example', 'a"b@globex.example', "ann@[192.0.2.1", "ann,bob@globex.example",
    "ann@globex,example", "<ann@globex.example>", "Ann <ann@globex.example>", "ann@glo\x00bex.example",
    "ann\n@globex.example", "ann@globex.example\u202e", "ann\u200b@globex.example", "a@b\u00a0c",
    "x" * 300 + "@" + "y" * 30 + ".example",
]


@pytest.mark.parametrize("address", VALID)
def test_valid(address):
    assert is_address(address)


@pytest.mark.parametrize("address", INVALID)
def test_invalid(address):
    assert not is_address(address)


def test_cli_customer_accepts_rfc_5322_and_refuses_garbage(cli, desk):
    for address in ("root@localhost", '"big bug bb"@bug.com'):
        r = cli("ticket", "create", "--title", "Disk full", "--customer", address, "--json")
        assert r.exit_code == 0, r.stderr
        assert r.json()["customer"] == address
    r = cli("ticket", "create", "--title", "Disk full", "--customer", "not an address")
    assert r.exit_code == 1 and r.stderr.strip() == "error: customer 'not an address' is not an email address"
    number = cli("ticket", "list", "--json").json()[0]["number"]
    r = cli("ticket", "update", str(number), "--customer", "ann@@globex.example")
    assert r.exit_code == 1 and "is not an email address" in r.stderr
    r = cli("ticket", "update", str(number), "--customer", "nagios@mon", "--json")
    assert r.exit_code == 0 and r.json()["customer"] == "nagios@mon"


def raw_mail(sender: str, subject: str = "DISK FULL on db-01") -> bytes:
    return (f"From: {sender}\r\nTo: support@desk.example\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@mon.example>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n/var is 95% full\r\n").encode()


def test_mail_from_local_domains_and_quoted_local_parts_becomes_tickets(mail_desk, desk, imap, smtp):
    from helpdesk.domain import tickets
    from helpdesk.mail import fetch, send
    from helpdesk.store.models import QuarantinedMail, Ticket

    imap.append(raw_mail("Cron Daemon <root@localhost>"))
    imap.append(raw_mail('"big bug bb"@bug.com', subject="Crash report"))
    imap.append(raw_mail("root (Cron Daemon)", subject="no domain"))  # not an address: quarantined
    report = fetch.fetch_mailbox(desk, desk.config.mailboxes[0])
    assert report.outcomes == {"new_ticket": 2, "quarantined": 1}
    cron, bug = Ticket.select().order_by(Ticket.number)
    assert tickets.get(desk, cron.number).customer == "root@localhost"
    assert tickets.get(desk, bug.number).customer == '"big bug bb"@bug.com'
    [held] = QuarantinedMail.select()
    assert "is not an email address" in held.error
    # And they can be answered: the SMTP server takes both recipients as they are.
    smtp.messages.clear()
    tickets.reply(desk, bug.number, "Fixed in 2.4.1.")
    result = send.send_outbox(desk)
    assert result.failed == 0 and result.sent == 3  # two acknowledgements and the reply
    recipients = sorted(r for _, rcpts, _ in smtp.wait_for(3) for r in rcpts)
    assert recipients == ['"big bug bb"@bug.com', '"big bug bb"@bug.com', "root@localhost"]
