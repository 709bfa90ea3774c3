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


def test_a_reply_shows_what_the_customer_wrote_and_keeps_the_whole_mail(mail_desk, imap, cli):
    imap.append(mail(message_id="<w1@globex.example>"))
    assert cli("mail", "fetch").exit_code == 0
    number = cli("ticket", "list", "--json").json()[0]["number"]
    # An answer written below the quote (the attribution on the first line), signed.
    body = ("On Mon, 2 Mar 2026 at 09:00, Acme IT Support <support@desk.example> wrote:\r\n"
            "> Which floor is the printer on?\r\n>\r\n> Regards, Acme\r\n\r\n"
            "Floor 2, next to the kitchen.\r\n\r\n-- \r\nAnn Lee\r\nGlobex")
    imap.append(mail(subject=f"Re: [#{number}] Printer broken", body=body, message_id="<w2@globex.example>"))
    assert cli("mail", "fetch", "--json").json()[0]["outcomes"] == {"reply": 1}

    [entry] = [e for e in cli("ticket", "show", str(number), "--json").json()["conversation"] if e["kind"] == "inbound"]
    assert entry["body"] == "Floor 2, next to the kitchen."
    assert entry["full_body"] == body.replace("\r\n", "\n")
    assert entry["hidden_lines"] == 7  # the attribution, three quoted lines, "-- " and two signature lines
    text = cli("ticket", "show", str(number))
    assert text.exit_code == 0
    assert "Floor 2, next to the kitchen." in text.stdout and "Which floor" not in text.stdout
    assert f"(7 quoted lines hidden: ticket show {number} --full)" in text.stdout
    full = cli("ticket", "show", str(number), "--full")
    assert "> Which floor is the printer on?" in full.stdout and "Ann Lee" in full.stdout
    assert "quoted lines hidden" not in full.stdout
    # Agents' replies and notes are all there is: nothing hidden, no whole text beside them.
    assert cli("ticket", "reply", str(number), "--note", "--body", "checked").exit_code == 0
    note = cli("ticket", "show", str(number), "--json").json()["conversation"][-1]
    assert (note["full_body"], note["hidden_lines"]) == (None, 0)


def test_migration_0015_adds_the_whole_text_column_to_an_older_desk(desk):
    from helpdesk.store import migrations
    from helpdesk.store.models import SchemaMigration

    db = desk.db
    db.execute_sql("ALTER TABLE conversation_entry DROP COLUMN full_body")  # as a desk made before 0015
    SchemaMigration.delete().where(SchemaMigration.name == "0015_conversation_full_body").execute()
    assert "full_body" not in {c.name for c in db.get_columns("conversation_entry")}
    assert migrations.migrate(db) == ["0015_conversation_full_body"]
    assert "full_body" in {c.name for c in db.get_columns("conversation_entry")}
    assert migrations.migrate(db) == []
