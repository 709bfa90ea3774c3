"""The email channel against a real Dovecot and a real SMTP server."""

from __future__ import annotations

import email
import email.policy

import pytest


def mail(subject="Printer broken", body="The printer on floor 2 is jammed.", sender="ann@globex.example",
         message_id="<m1@globex.example>", extra="", to="support@desk.example") -> bytes:
    return (f"From: Ann <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\n{extra}"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


def test_round_trip(mail_desk, imap, smtp, cli):
    imap.append(mail())
    r = cli("mail", "fetch", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()[0]["outcomes"] == {"new_ticket": 1}
    tickets = cli("ticket", "list", "--json").json()
    assert len(tickets) == 1 and tickets[0]["customer"] == "ann@globex.example"
    number = tickets[0]["number"]

    cli("agent", "add", "bob")
    assert cli("ticket", "reply", str(number), "--body", "Please power-cycle it.").exit_code == 0
    r = cli("mail", "send", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()["sent"] == 2  # the acknowledgement and the reply
    sent = [email.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in smtp.wait_for(2)]
    ack, reply = sent
    assert ack["Auto-Submitted"] == "auto-replied" and f"[#{number}]" in ack["Subject"]
    assert reply["Auto-Submitted"] is None
    assert reply["In-Reply-To"] and "<m1@globex.example>" in reply["References"]

    answer = mail(subject=f"Re: {reply['Subject']}", body="Done, it works now.\r\n\r\nOn Mon, desk wrote:\r\n> old",
                  message_id="<m2@globex.example>",
                  extra=f"In-Reply-To: {reply['Message-ID']}\r\nReferences: {reply['References']} {reply['Message-ID']}\r\n")
    imap.append(answer)
    r = cli("mail", "fetch", "--json")
    assert r.json()[0]["outcomes"] == {"reply": 1}
    shown = cli("ticket", "show", str(number), "--json").json()
    inbound = [e for e in shown["conversation"] if e["kind"] == "inbound"]
    assert [e["body"] for e in inbound] == ["Done, it works now."]
    assert len(cli("ticket", "list", "--json").json()) == 1

    status = cli("mail", "status", "--json").json()[0]
    assert status["outcomes"]["new_ticket"] == 1 and status["outcomes"]["reply"] == 1
    # The watermark is the UID of the second mail (UIDs go on rising across the tests sharing the server).
    client = imap.client()
    try:
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search("ALL"))
    finally:
        client.logout()
    assert len(uids) == 2 and status["last_uid"] == uids[-1]
