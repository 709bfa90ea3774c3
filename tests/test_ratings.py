"""Satisfaction ratings: asked for by mail on resolve, answered with a digit, negative ones alert."""

from __future__ import annotations

import email
import email.policy

import pytest

from helpdesk.domain import ratings
from helpdesk.store.models import Outbox


def customer_mail(subject, body, message_id, in_reply_to) -> bytes:
    return (f"From: Ann <ann@globex.example>\r\nTo: support@desk.example\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nIn-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()


@pytest.mark.parametrize("text,expected", [
    ("4", (4, "")), ("5 - great, thanks", (5, "great, thanks")), (" 2/5 too slow", (2, "too slow")),
    ("1 star", (1, "")), ("3.", (3, "")), ("10 minutes later it broke again", None), ("0", None),
    ("6", None), ("thanks!", None), ("", None),
])
def test_parse_score(text, expected):
    assert ratings.parse_score(text) == expected


def resolved_ticket(cli, mail_desk, imap, smtp):
    imap.append(customer_mail("Laptop broken", "It does not boot.", "<r1@globex.example>", "<none@x>"))
    assert cli("mail", "fetch").exit_code == 0
    number = cli("ticket", "list", "--json").json()[0]["number"]
    assert cli("ticket", "update", str(number), "--queue", "it").exit_code == 0
    cli("agent", "add", "bob", "--email", "bob@desk.example", "--skill", "it")
    assert cli("ticket", "assign", str(number), "bob").exit_code == 0
    assert cli("ticket", "status", str(number), "resolved").exit_code == 0
    kinds = [o.kind for o in Outbox.select().where(Outbox.ticket == number)]
    assert kinds == ["ack", "rating_request"]
    assert cli("mail", "send").exit_code == 0
    request = [email.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in smtp.wait_for(2)][-1]
    assert request["Auto-Submitted"] == "auto-replied" and "1 (poor) to 5" in request.get_content()
    return number, request


def test_a_digit_in_reply_is_a_rating_and_keeps_the_ticket_resolved(mail_desk, imap, smtp, cli):
    number, request = resolved_ticket(cli, mail_desk, imap, smtp)
    imap.append(customer_mail(f"Re: {request['Subject']}", "5 - quick and friendly\r\n\r\nOn Mon, desk wrote:\r\n> How",
                              "<r2@globex.example>", request["Message-ID"]))
    r = cli("mail", "fetch", "--json")
    assert r.json()[0]["outcomes"] == {"reply": 1}
    shown = cli("ticket", "show", str(number), "--json").json()
    assert shown["status"] == "resolved"
    assert shown["rating"] == {"ticket": number, "score": 5, "comment": "quick and friendly", "via": "email"}
    # A later mail is an ordinary reply again: it reopens the ticket.
    imap.append(customer_mail("Re: broken again", "It broke again this morning.", "<r3@globex.example>",
                              request["Message-ID"]))
    cli("mail", "fetch")
    assert cli("ticket", "show", str(number), "--json").json()["status"] == "in_progress"


def test_a_low_score_raises_negative_feedback(mail_desk, imap, smtp, cli):
    text = mail_desk.config_file.read_text().replace('lead = "alice"', 'lead = "lead"', 1)
    mail_desk.config_file.write_text(text)
    cli("agent", "add", "lead", "--email", "lead@desk.example")
    number, request = resolved_ticket(cli, mail_desk, imap, smtp)
    imap.append(customer_mail(f"Re: {request['Subject']}", "1 nobody called me back", "<r4@globex.example>",
                              request["Message-ID"]))
    cli("mail", "fetch")
    shown = cli("ticket", "show", str(number), "--json").json()
    assert shown["rating"]["score"] == 1 and shown["status"] == "resolved"
    notes = [e["body"] for e in shown["conversation"] if e["kind"] == "note"]
    assert any("Negative feedback" in n and "nobody called me back" in n for n in notes)
    history = [e["action"] for e in cli("ticket", "history", str(number), "--json").json()]
    assert "rated" in history and "negative_feedback" in history
    alerts = [o for o in Outbox.select().where(Outbox.kind == "notification")]
    assert [a.to_addr for a in alerts] == ["lead@desk.example"] and "1/5" in alerts[0].subject


def test_rating_by_cli_and_bad_scores(desk, cli):
    number = cli("ticket", "create", "--title", "Phone support", "--json").json()["number"]
    r = cli("ticket", "rate", str(number), "4", "--comment", "ok")
    assert r.exit_code == 0 and r.stdout.strip() == f"#{number} rated 4/5"
    r = cli("ticket", "rate", str(number), "9")
    assert r.exit_code == 1 and "1 to 5" in r.stderr
    assert cli("ticket", "show", str(number), "--json").json()["rating"]["score"] == 4
    r = cli("ticket", "rate", str(number), "2")
    assert "negative feedback" in r.stdout
    assert cli("ticket", "show", str(number), "--json").json()["rating"] == {
        "ticket": number, "score": 2, "comment": "", "via": "agent"}
