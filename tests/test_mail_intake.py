"""IMAP intake against a real Dovecot: exactly once, threading, loops, bounces, quarantine, failures."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import uuid

import pytest

from conftest import BACKEND, run_subprocess

OUR = "support@desk.example"


def mail(subject: str = "Printer broken", body: str | bytes = "The printer on floor 2 is jammed.",
         sender: str = "ann@globex.example", name: str = "Ann", message_id: str | None = None, extra: str = "",
         to: str = OUR, ctype: str = "text/plain; charset=utf-8", cte: str | None = None) -> bytes:
    message_id = message_id or f"<{uuid.uuid4().hex}@globex.example>"
    head = (f"From: {name} <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
            f"Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n{extra}Content-Type: {ctype}\r\n"
            + (f"Content-Transfer-Encoding: {cte}\r\n" if cte else "") + "\r\n").encode()
    data = body if isinstance(body, bytes) else body.replace("\n", "\r\n").encode()
    return head + data + b"\r\n"


@pytest.fixture
def mdesk(mail_desk, desk):
    """The in-process desk (fixed clock), configured for the test Dovecot and SMTP sink."""
    assert desk.config.mailboxes, "the mail config must be written before the desk opens"
    return desk


def fetch(desk, **changes):
    from helpdesk.mail import fetch as fetch_mod

    spec = dataclasses.replace(desk.config.mailboxes[0], **changes)
    return fetch_mod.fetch_mailbox(desk, spec)


def tickets():
    from helpdesk.store.models import Ticket

    return list(Ticket.select().order_by(Ticket.number))


def entries(number: int, kind: str | None = None):
    from helpdesk.store.models import ConversationEntry

    q = ConversationEntry.select().where(ConversationEntry.ticket == number)
    if kind:
        q = q.where(ConversationEntry.kind == kind)
    return list(q.order_by(ConversationEntry.id))


def outbox_rows():
    from helpdesk.store.models import Outbox

    return list(Outbox.select().order_by(Outbox.id))


def audit_actions(number: int) -> list[str]:
    from helpdesk.store.models import AuditEvent

    return [a for (a,) in AuditEvent.select(AuditEvent.action).where(AuditEvent.ticket == number)
            .order_by(AuditEvent.id).tuples()]


def server_flags(imap, folder: str = "INBOX") -> dict[int, set]:
    c = imap.client()
    try:
        c.select_folder(folder, readonly=True)
        uids = c.search("ALL")
        return {u: set(f) for u, f in c.get_flags(uids).items()} if uids else {}
    finally:
        c.logout()


def records():
    from helpdesk.store.models import MailMessage

    return list(MailMessage.select().order_by(MailMessage.id))


# ---------------------------------------------------------------- new tickets and threading


def test_new_ticket(mdesk, imap):
    imap.append(mail(message_id="<First@Globex.example>", extra="Cc: Bob <bob@globex.example>\r\n"))
    report = fetch(mdesk)
    [uid] = server_flags(imap)
    assert report.outcomes == {"new_ticket": 1} and report.fetched == 1 and report.last_uid == uid
    [t] = tickets()
    assert t.title == "Printer broken" and t.channel == "email" and t.status == "new"
    assert t.customer.email == "ann@globex.example" and t.customer.name == "Ann"
    assert "jammed" in t.description
    # The acknowledgement: automatic, tagged with the number, threaded to the customer's mail.
    [ack] = outbox_rows()
    assert ack.kind == "ack" and ack.auto and ack.to_addr == "ann@globex.example"
    assert f"[#{t.number}]" in ack.subject and ack.in_reply_to == "<first@globex.example>"
    # The record: same transaction, then flagged on the server.
    [rec] = records()
    assert (rec.outcome, rec.ticket, rec.message_id, rec.disposed) == (
        "new_ticket", t.number, "<first@globex.example>", True)
    assert b"\\Seen" in server_flags(imap)[uid]
    # A second pass finds nothing new.
    assert fetch(mdesk).fetched == 0 and len(tickets()) == 1


def test_reply_threaded_by_references(mdesk, imap):
    imap.append(mail(message_id="<q1@globex.example>"))
    fetch(mdesk)
    [t] = tickets()
    ack_id = outbox_rows()[0].message_id
    # No subject tag, a different subject: only References can thread it.
    imap.append(mail(subject="Re: your mail", body="It is still jammed.\n\nOn Mon, Support wrote:\n> old",
                     message_id="<q2@globex.example>",
                     extra=f"In-Reply-To: {ack_id}\r\nReferences: <q1@globex.example> {ack_id}\r\n"))
    report = fetch(mdesk)
    assert report.outcomes == {"reply": 1}
    assert len(tickets()) == 1
    [inbound] = entries(t.number, "inbound")
    assert inbound.body == "It is still jammed." and inbound.message_id == "<q2@globex.example>"
    assert inbound.author_customer.email == "ann@globex.example"
    assert "customer_replied" in audit_actions(t.number)
    # Referencing the customer's own earlier mail (stored Message-ID) threads too.
    imap.append(mail(subject="one more thing", body="Also the toner.", extra="References: <q2@globex.example>\r\n"))
    assert fetch(mdesk).outcomes == {"reply": 1}
    assert len(entries(t.number, "inbound")) == 2


def test_forged_reference_to_our_message_id_does_not_thread(mdesk, imap):
    imap.append(mail())
    fetch(mdesk)
    [t] = tickets()
    forged = f"<hd.{t.number}.aaaaaaaaaaaa.bbbbbbbbbbbb@desk.example>"  # our shape, wrong signature
    imap.append(mail(sender="mallory@evil.example", subject="hello", extra=f"References: {forged}\r\n"))
    assert fetch(mdesk).outcomes == {"new_ticket": 1}
    assert len(tickets()) == 2 and entries(t.number, "inbound") == []


def test_subject_tag_from_customer(mdesk, imap):
    imap.append(mail())
    fetch(mdesk)
    [t] = tickets()
    imap.append(mail(subject=f"Re: [#{t.number}] Printer broken", body="Any news?", sender="ANN@globex.example"))
    assert fetch(mdesk).outcomes == {"reply": 1}
    assert [e.body for e in entries(t.number, "inbound")] == ["Any news?"]


def test_subject_tag_from_stranger_is_a_new_ticket(mdesk, imap):
    imap.append(mail())
    fetch(mdesk)
    [t] = tickets()
    imap.append(mail(subject=f"[#{t.number}] please close this", sender="mallory@evil.example", name="M"))
    report = fetch(mdesk)
    assert report.outcomes == {"new_ticket": 1}
    first, second = tickets()
    assert entries(first.number, "inbound") == []
    assert second.customer.email == "mallory@evil.example"
    assert "stranger" in records()[-1].detail


def test_subject_tag_from_known_cc(mdesk, imap):
    imap.append(mail(extra="Cc: Bob <bob@globex.example>, support@desk.example\r\n"))
    fetch(mdesk)
    [t] = tickets()
    from helpdesk.store.models import TicketContact

    assert [c.email for c in TicketContact.select().where(TicketContact.ticket == t.number)] == ["bob@globex.example"]
    imap.append(mail(subject=f"Re: [#{t.number}] Printer broken", body="Same here on floor 3.",
                     sender="bob@globex.example", name="Bob"))
    assert fetch(mdesk).outcomes == {"reply": 1}
    [e] = entries(t.number, "inbound")
    assert e.body == "Same here on floor 3." and len(tickets()) == 1


def test_mail_read_before_fetch_is_still_ingested(mdesk, imap):
    imap.append(mail(subject="already read"), flags=[b"\\Seen"])
    imap.append(mail(subject="unread"))
    assert fetch(mdesk).outcomes == {"new_ticket": 2}
    assert [t.title for t in tickets()] == ["already read", "unread"]


def test_duplicate_message_id(mdesk, imap):
    raw = mail(message_id="<dup@globex.example>")
    imap.append(raw)
    imap.append(raw)
    # The same Message-ID with other bytes (a copy relayed by another server): a duplicate too.
    imap.append(b"Received: from relay.example by mx.example; Mon, 2 Mar 2026 09:01:00 +0000\r\n" + raw)
    report = fetch(mdesk)
    assert report.outcomes == {"new_ticket": 1, "duplicate": 2}
    assert len(tickets()) == 1 and len(outbox_rows()) == 1
    assert [r.outcome for r in records()] == ["new_ticket", "duplicate", "duplicate"]
    assert all(b"\\Seen" in f for f in server_flags(imap).values())


def test_uidvalidity_change_rescans_without_duplicating(mdesk, imap, cli):
    imap.append(mail(subject="one"))
    imap.append(mail(subject="two"))
    first = fetch(mdesk)
    assert first.outcomes == {"new_ticket": 2}
    imap.bump_uidvalidity()
    second = fetch(mdesk)
    assert second.rescanned and second.uidvalidity != first.uidvalidity
    assert second.outcomes == {"duplicate": 2}
    assert len(tickets()) == 2 and len(outbox_rows()) == 2
    status = cli("mail", "status", "--json").json()[0]
    assert status["outcomes"]["new_ticket"] == 2 and status["outcomes"]["duplicate"] == 2
    assert status["fetched"] == 4
    assert [f["uidvalidity"] for f in status["folders"]] == [second.uidvalidity]
    # New mail after the renumbering still arrives.
    imap.append(mail(subject="three"))
    assert fetch(mdesk).outcomes == {"new_ticket": 1}
    assert [t.title for t in tickets()] == ["one", "two", "three"]


def test_crash_between_commit_and_flag(mdesk, imap):
    from helpdesk.mail import fetch as fetch_mod

    imap.append(mail(subject="one"))
    imap.append(mail(subject="two"))
    with pytest.raises(SystemExit):
        fetch_mod.fetch_mailbox(mdesk, mdesk.config.mailboxes[0], crash_after_commit=True)
    # The first message is committed but not flagged: BODY.PEEK[] left it unread on the server.
    assert [t.title for t in tickets()] == ["one"]
    [rec] = records()
    assert rec.disposed is False
    assert all(b"\\Seen" not in f for f in server_flags(imap).values())

    report = fetch(mdesk)
    assert [t.title for t in tickets()] == ["one", "two"]  # nothing twice
    assert len(outbox_rows()) == 2
    assert report.outcomes == {"new_ticket": 1} and report.fetched == 1 and report.recovered == 1
    assert [r.disposed for r in records()] == [True, True]
    assert [r.uid for r in records()] == sorted(server_flags(imap))
    assert all(b"\\Seen" in f for f in server_flags(imap).values())
    assert fetch(mdesk).fetched == 0


def test_crash_with_processed_folder(mdesk, imap):
    from helpdesk.mail import fetch as fetch_mod

    imap.append(mail(subject="one"))
    spec = dataclasses.replace(mdesk.config.mailboxes[0], processed_folder="Processed")
    with pytest.raises(SystemExit):
        fetch_mod.fetch_mailbox(mdesk, spec, crash_after_commit=True)
    assert len(server_flags(imap)) == 1  # still in the inbox
    fetch_mod.fetch_mailbox(mdesk, spec)
    assert len(tickets()) == 1
    assert server_flags(imap) == {} and len(server_flags(imap, "Processed")) == 1


def test_processed_folder_move(mdesk, imap):
    for i in range(3):
        imap.append(mail(subject=f"m{i}"), flags=[b"\\Seen"] if i == 1 else [])
    report = fetch(mdesk, processed_folder="Processed")
    assert report.outcomes == {"new_ticket": 3}
    assert server_flags(imap) == {}
    assert len(server_flags(imap, "Processed")) == 3
    imap.append(mail(subject="m3"))
    assert fetch(mdesk, processed_folder="Processed").outcomes == {"new_ticket": 1}
    assert len(tickets()) == 4 and server_flags(imap) == {}


def test_two_concurrent_fetchers(mail_desk, imap, helpdesk_bin):
    from helpdesk.domain.desk import open_desk

    count = 40
    for i in range(count):
        imap.append(mail(subject=f"request {i}", message_id=f"<c{i}@globex.example>"))
    open_desk().close()  # migrate once, so the two runs race on the mail, not on the schema
    procs = [subprocess.Popen(helpdesk_bin + ["mail", "fetch", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    reports = [json.loads(out)[0] for out, _ in outs]
    assert sum(r["fetched"] for r in reports) == count
    assert sum(sum(r["outcomes"].values()) for r in reports) == count
    # A run that found the mailbox busy says so and touched nothing. A run that was not skipped may
    # still find nothing: on a loaded machine one process can finish before the other starts.
    for r in reports:
        if r["skipped"]:
            assert r["fetched"] == 0
    desk = open_desk()
    try:
        from helpdesk.store.models import MailMessage, Ticket

        assert Ticket.select().count() == count
        assert MailMessage.select().count() == count
        assert sorted(m for (m,) in MailMessage.select(MailMessage.message_id).tuples()) == \
            sorted(f"<c{i}@globex.example>" for i in range(count))
    finally:
        desk.close()


def test_busy_mailbox_is_skipped(mdesk, imap, helpdesk_bin):
    from helpdesk.mail.locks import mailbox_lock

    imap.append(mail())
    with mailbox_lock(mdesk, "support") as held:
        assert held
        r = run_subprocess(helpdesk_bin + ["mail", "fetch", "--json"])
        assert r.returncode == 0, r.stderr
        [report] = json.loads(r.stdout)
        assert report["skipped"] and report["fetched"] == 0
    assert tickets() == []
    assert fetch(mdesk).outcomes == {"new_ticket": 1}


@pytest.mark.skipif(BACKEND != "postgres", reason="advisory locks are PostgreSQL's")
def test_desks_in_two_schemas_do_not_share_mailbox_locks(mdesk):
    """Advisory locks belong to the whole database: another desk (schema) on the same database holding
    its mailbox "support" must not make this desk skip its own "support"."""
    import psycopg2

    from conftest import PG_URL
    from helpdesk.mail.locks import _key, mailbox_lock
    from helpdesk.store.db import parse_url

    params = dict(parse_url(PG_URL).params)
    other = psycopg2.connect(dbname=params.pop("database"), **params)  # another process, in effect
    other.autocommit = True
    try:
        with other.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (_key("another_desk", "support"),))
            assert cur.fetchone()[0]
            with mailbox_lock(mdesk, "support") as held:
                assert held
            cur.execute("SELECT pg_try_advisory_lock(%s)", (_key(mdesk.url.schema, "support"),))
            assert cur.fetchone()[0]
            with mailbox_lock(mdesk, "support") as held:
                assert not held  # still one fetcher per mailbox of one desk
    finally:
        other.close()


# ---------------------------------------------------------------- automated mail and bounces


def test_out_of_office_creates_nothing(mdesk, imap):
    imap.append(mail(subject="Out of office", extra="Auto-Submitted: auto-replied\r\n"))
    imap.append(mail(subject="Abwesenheit", extra="X-Autoreply: yes\r\n"))
    imap.append(mail(subject="Newsletter", extra="Precedence: bulk\r\n"))
    imap.append(mail(subject="Your order", sender="no-reply@shop.example"))
    report = fetch(mdesk)
    assert report.outcomes == {"automated": 4}
    assert tickets() == [] and outbox_rows() == []
    assert all(r.outcome == "automated" and r.ticket is None for r in records())


def test_out_of_office_on_a_ticket_is_not_a_reply(mdesk, imap):
    imap.append(mail())
    fetch(mdesk)
    [t] = tickets()
    ack = outbox_rows()[0]
    imap.append(mail(subject=f"Auto: {ack.subject}", body="I am away until Monday.",
                     extra=f"Auto-Submitted: auto-replied\r\nIn-Reply-To: {ack.message_id}\r\n"))
    assert fetch(mdesk).outcomes == {"automated": 1}
    assert entries(t.number, "inbound") == [] and len(outbox_rows()) == 1
    assert "automated_mail_ignored" in audit_actions(t.number)
    assert tickets()[0].status == "new"


def bounce(original_id: str, recipient: str = "ann@globex.example", mid: str | None = None) -> bytes:
    original = (f"From: Support <{OUR}>\r\nTo: {recipient}\r\nSubject: [#1] Printer broken\r\n"
                f"Message-ID: {original_id}\r\nAuto-Submitted: auto-replied\r\n\r\nWe received your request.\r\n")
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.globex.example>\r\nTo: {OUR}\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: {mid or '<' + uuid.uuid4().hex + '@mx>'}\r\n"
            "Date: Mon, 2 Mar 2026 09:05:00 +0000\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="BND"\r\n\r\n'
            "--BND\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"Your message could not be delivered to {recipient}: user unknown.\r\n"
            "--BND\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.globex.example\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            f"--BND\r\nContent-Type: message/rfc822\r\n\r\n{original}\r\n--BND--\r\n").encode()


def test_bounce_attaches_to_ticket_and_marks_address(mdesk, imap, smtp):
    from helpdesk.domain import outbox
    from helpdesk.mail import intake, send
    from helpdesk.store.models import Outbox

    imap.append(mail())
    fetch(mdesk)
    [t] = tickets()
    assert send.send_outbox(mdesk).sent == 1
    [ack] = outbox_rows()
    imap.append(bounce(ack.message_id))
    report = fetch(mdesk)
    assert report.outcomes == {"bounce": 1}
    assert len(tickets()) == 1
    [note] = entries(t.number, "note")
    assert "Delivery failed for ann@globex.example" in note.body
    assert "mail_bounced" in audit_actions(t.number)
    assert Outbox.get_by_id(ack.id).status == "failed" and "bounced" in Outbox.get_by_id(ack.id).last_error
    assert outbox.undeliverable(mdesk, "ann@globex.example")
    assert records()[-1].outcome == "bounce" and records()[-1].ticket == t.number
    # No automatic mail goes to the bounced address for a while.
    imap.append(mail(subject="second request"))
    assert fetch(mdesk).outcomes == {"new_ticket": 1}
    assert len(outbox_rows()) == 1
    assert "auto_mail_suppressed" in audit_actions(tickets()[-1].number)


def test_bounce_matching_nothing_is_recorded_and_ignored(mdesk, imap):
    from helpdesk.domain import outbox
    from helpdesk.mail import intake
    from helpdesk.store.models import UndeliverableAddress

    imap.append(bounce("<never-sent@desk.example>", recipient="carol@other.example"))
    assert fetch(mdesk).outcomes == {"bounce": 1}
    [rec] = records()
    assert rec.outcome == "bounce" and rec.ticket is None and "no ticket" in rec.detail
    assert tickets() == [] and outbox_rows() == []
    # A bounce of mail we never sent (forged backscatter) changes nothing about the address.
    assert not outbox.undeliverable(mdesk, "carol@other.example")
    assert UndeliverableAddress.select().count() == 0


# ---------------------------------------------------------------- content: HTML, charsets, attachments


def test_html_only_mail_becomes_text(mdesk, imap):
    html = ("<html><head><style>.x{color:red}</style></head><body><p>Hello,</p>"
            "<p>my <b>laptop</b> does not boot &amp; shows a <i>blue</i> screen.</p>"
            "<table><tr><td>Model</td><td>T14</td></tr></table></body></html>")
    imap.append(mail(subject="Laptop", body=html, ctype="text/html; charset=utf-8"))
    fetch(mdesk)
    [t] = tickets()
    assert "my laptop does not boot & shows a blue screen." in t.description
    assert "T14" in t.description and "<" not in t.description and "color:red" not in t.description


def test_charsets_latin1_and_wrongly_declared(mdesk, imap):
    imap.append(mail(subject="latin1", body="Grüße aus Köln, café".encode("latin-1"),
                     ctype="text/plain; charset=iso-8859-1", cte="8bit"))
    imap.append(mail(subject="utf8 as ascii", body="Grüße aus Köln, café €".encode("utf-8"),
                     ctype="text/plain; charset=us-ascii", cte="8bit"))
    imap.append(mail(subject="latin1 as utf8", body="Grüße aus Köln, café".encode("latin-1"),
                     ctype="text/plain; charset=utf-8", cte="8bit"))
    imap.append(mail(subject="qp latin1", body=b"Gr=FC=DFe aus K=F6ln, caf=E9",
                     ctype="text/plain; charset=iso-8859-1", cte="quoted-printable"))
    imap.append(mail(subject="no charset", body="Grüße aus Köln, café".encode("utf-8"), ctype="text/plain",
                     cte="8bit"))
    assert fetch(mdesk).outcomes == {"new_ticket": 5}
    for t in tickets():
        assert t.description.startswith("Grüße aus Köln, café"), (t.title, t.description)
    assert tickets()[1].description == "Grüße aus Köln, café €"


MULTIPART = ("From: =?utf-8?q?J=C3=BCrgen?= <juergen@globex.example>\r\nTo: support@desk.example\r\n"
             "Subject: =?iso-8859-1?q?Gr=FC=DFe?= =?utf-8?b?IOKCrA==?= [report]\r\nMessage-ID: <{mid}@globex.example>\r\n"
             "Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
             "Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
             "--XX\r\nContent-Type: multipart/related; boundary=RR\r\n\r\n"
             "--RR\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>See the screenshot <img src=\"cid:shot@x\"></p>\r\n"
             "--RR\r\nContent-Type: image/png\r\nContent-ID: <shot@x>\r\nContent-Disposition: inline\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgoAAAANSUhEUg==\r\n--RR--\r\n"
             "--XX\r\nContent-Type: application/pdf\r\n"
             "Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9%20report.pdf\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
             "--XX\r\nContent-Type: text/plain; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.txt?=\"\r\n"
             "Content-Disposition: attachment; filename=\"=?utf-8?q?r=C3=A9sum=C3=A9.txt?=\"\r\n\r\nCV\r\n"
             "--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\n"
             "root:x:0:0:root:/root:/bin/sh\r\n"
             "--XX\r\nContent-Type: application/octet-stream\r\n"
             "Content-Disposition: attachment; filename=\"..\\\\..\\\\evil\x1b[2J\x07.exe\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\nTVqQAA==\r\n--XX--\r\n")


def test_rfc2047_2231_attachments_hostile_names_and_inline_image(mdesk, imap):
    from helpdesk.domain import attachments
    from helpdesk.core import locations

    imap.append(MULTIPART.format(mid="att1").encode())
    assert fetch(mdesk).outcomes == {"new_ticket": 1}
    [t] = tickets()
    assert t.title == "Grüße € [report]"
    assert t.customer.name == "Jürgen"
    assert t.description.startswith("See the screenshot")
    listed = attachments.list_for(t.number)
    names = [a.filename for a in listed]
    assert names[:4] == ["inline.png", "été report.pdf", "résumé.txt", "passwd"]
    assert "/" not in names[4] and "\\" not in names[4] and "\x1b" not in names[4] and "\x07" not in names[4]
    assert names[4].endswith(".exe") and not names[4].startswith(".")
    expected = {"inline.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "été report.pdf": b"%PDF-1.4\n",
                "résumé.txt": b"CV", "passwd": b"root:x:0:0:root:/root:/bin/sh", names[4]: b"MZ\x90\x00"}
    root = locations.attachments_dir().resolve()
    for a in listed:
        view, data = attachments.read(a.id)
        assert data == expected[view.filename]
        assert attachments.blob_path(view.sha256).resolve().is_relative_to(root)
    assert [a.content_type for a in listed][0] == "image/png"


def test_attachment_on_a_reply_belongs_to_its_entry(mdesk, imap):
    from helpdesk.store.models import Attachment

    imap.append(mail(message_id="<base@globex.example>"))
    fetch(mdesk)
    [t] = tickets()
    raw = MULTIPART.format(mid="att2").replace("Message-ID:", "In-Reply-To: <base@globex.example>\r\nMessage-ID:")
    raw = raw.replace("juergen@globex.example", "ann@globex.example")
    imap.append(raw.encode())
    assert fetch(mdesk).outcomes == {"reply": 1}
    [entry] = entries(t.number, "inbound")
    assert Attachment.select().where((Attachment.ticket == t.number) & (Attachment.entry == entry.id)).count() == 5


# ---------------------------------------------------------------- quarantine


def test_oversize_mail_quarantined_then_retried(configured, imap, smtp, cli):
    configured.write_config(configured.default_config() + "\n" + imap.config_toml(max_bytes=2000)
                            + smtp.config_toml())
    big = mail(subject="huge log", body="x" * 5000 + "\nend of log")
    imap.append(big)
    imap.append(mail(subject="small"))
    r = cli("mail", "fetch", "--json")
    assert r.exit_code == 0, r.stderr
    assert r.json()[0]["outcomes"] == {"quarantined": 1, "new_ticket": 1}
    held = cli("mail", "quarantine", "list", "--json").json()
    assert len(held) == 1 and "size limit" in held[0]["error"] and held[0]["size"] == len(big)
    assert [t["title"] for t in cli("ticket", "list", "--json").json()] == ["small"]
    # The next fetch neither retries nor quarantines it again.
    assert cli("mail", "fetch", "--json").json()[0]["fetched"] == 0

    r = cli("mail", "quarantine", "retry", str(held[0]["id"]))
    assert r.exit_code == 0, r.stderr
    assert "new ticket" in r.stdout
    titles = sorted(t["title"] for t in cli("ticket", "list", "--json").json())
    assert titles == ["huge log", "small"]
    assert cli("mail", "quarantine", "list", "--json").json() == []
    released = cli("mail", "quarantine", "list", "--all", "--json").json()
    assert released[0]["status"] == "released" and released[0]["ticket"]
    # Retrying twice is refused; the accounting moved from quarantined to new_ticket.
    assert cli("mail", "quarantine", "retry", str(held[0]["id"])).exit_code == 1
    status = cli("mail", "status", "--json").json()[0]
    assert status["outcomes"]["new_ticket"] == 2 and status["outcomes"]["quarantined"] == 0
    assert status["fetched"] == 2


def test_garbage_quarantined_and_next_mail_ingested(mdesk, imap, cli):
    from helpdesk.domain import attachments
    from helpdesk.store.models import QuarantinedMail

    garbage = bytes(range(128, 256)) * 4 + b"\r\n\x89PNG\x1a junk \xff\xfe\r\n"  # no header line at all
    imap.append(mail(subject="before"))
    imap.append(garbage)
    imap.append(mail(subject="after"))
    report = fetch(mdesk)
    assert report.outcomes == {"new_ticket": 2, "quarantined": 1}
    assert [t.title for t in tickets()] == ["before", "after"]
    [q] = QuarantinedMail.select()
    assert q.status == "held" and "cannot parse" in q.error
    assert attachments.blob_path(q.sha256).read_bytes() == garbage  # kept whole
    assert all(b"\\Seen" in f for f in server_flags(imap).values())
    assert fetch(mdesk).fetched == 0
    # Retrying what still cannot be parsed is refused with one line; it stays held.
    r = cli("mail", "quarantine", "retry", str(q.id))
    assert r.exit_code == 1 and "still cannot be parsed" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    [listed] = cli("mail", "quarantine", "list", "--json").json()
    assert listed["id"] == q.id and listed["status"] == "held" and listed["size"] == len(garbage)


def test_quarantined_mail_not_quarantined_again_after_uidvalidity_change(mdesk, imap):
    from helpdesk.mail import intake
    from helpdesk.store.models import QuarantinedMail

    imap.append(b"\x80\x81\x82 not a mail \xfe\xff\r\n")
    imap.append(mail(subject="ok"))
    imap.append(mail(subject="big", body="y" * 3000))
    assert fetch(mdesk, max_message_bytes=2000).outcomes == {"quarantined": 2, "new_ticket": 1}
    big = QuarantinedMail.select().order_by(QuarantinedMail.id.desc()).first()
    assert intake.quarantine_retry(mdesk, big.id).outcome == "new_ticket"
    assert len(tickets()) == 2
    imap.bump_uidvalidity()
    report = fetch(mdesk, max_message_bytes=2000)
    assert report.rescanned and report.outcomes == {"duplicate": 3}
    # Neither the garbage nor the released over-size mail is held (or made a ticket) twice.
    assert QuarantinedMail.select().count() == 2 and len(tickets()) == 2
    assert [q["error"][:12] for q in intake.quarantine_list(mdesk)] == ["cannot parse"]


# ---------------------------------------------------------------- server failures


def test_imap_server_down_exits_3(configured, imap, smtp, cli):
    from mailservers import free_port

    configured.write_config(configured.default_config() + "\n" + imap.config_toml(port=free_port())
                            + smtp.config_toml())
    imap.append(mail())
    r = cli("mail", "fetch")
    assert r.exit_code == 3
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: IMAP 127.0.0.1:") and "cannot connect" in lines[0]
    assert cli("mail", "status", "--json").json()[0]["fetched"] == 0
    assert cli("mail", "status", "--json").json()[0]["folders"] == []
    assert cli("ticket", "list", "--json").json() == []


@pytest.fixture
def private_dovecot():
    """start(extra_conf) -> a Dovecot of its own. For failed logins (they earn the client IP a penalty,
    slower logins for ~30 s, which must not slow down every later test on the shared server) and for
    a server without MOVE."""
    import os
    import shutil
    from pathlib import Path

    from mailservers import start_dovecot

    started = []

    def start(extra_conf: str = ""):
        root = Path("/tmp") / f"helpdesk-dovecot-{os.getpid()}-private{len(started)}"
        shutil.rmtree(root, ignore_errors=True)
        started.append(start_dovecot(root, extra_conf))
        return started[-1]

    yield start
    for server in started:
        server.stop()
        shutil.rmtree(server.root, ignore_errors=True)


def test_processed_folder_without_move_copies_flags_and_expunges(configured, private_dovecot, smtp):
    from helpdesk.domain.desk import open_desk

    # The capabilities Dovecot announces after login, less MOVE.
    server = private_dovecot("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT "
                             "THREAD=REFERENCES MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED "
                             "I18NLEVEL=1 CONDSTORE QRESYNC ESEARCH ESORT SEARCHRES WITHIN LITERAL+\n")
    c = server.client()
    assert not c.has_capability("MOVE") and c.has_capability("UIDPLUS")
    c.logout()
    configured.write_config(configured.default_config() + "\n" + server.config_toml() + smtp.config_toml())
    desk = open_desk()
    try:
        from helpdesk.mail import fetch as fetch_mod

        # First in flag mode: this one stays in the inbox, and then someone marks it deleted (not expunged).
        server.append(mail(subject="keep me"))
        assert fetch_mod.fetch_mailbox(desk, desk.config.mailboxes[0]).outcomes == {"new_ticket": 1}
        c = server.client()
        c.select_folder("INBOX")
        [first] = c.search("ALL")
        c.add_flags([first], [b"\\Deleted"])
        c.logout()
        # Then in processed-folder mode, on a server without MOVE: COPY, flag, UID EXPUNGE.
        server.append(mail(subject="one"))
        server.append(mail(subject="two"))
        spec = dataclasses.replace(desk.config.mailboxes[0], processed_folder="Done")
        assert fetch_mod.fetch_mailbox(desk, spec).outcomes == {"new_ticket": 2}
    finally:
        desk.close()
    assert list(server_flags(server)) == [first]  # UID EXPUNGE left the other deleted message alone
    moved = server_flags(server, "Done")
    assert len(moved) == 2 and all(b"\\Deleted" not in f for f in moved.values())


def test_wrong_password_exits_3(configured, private_dovecot, smtp, helpdesk_bin):
    server = private_dovecot()
    server.append(mail())
    configured.write_config(configured.default_config() + "\n"
                            + server.config_toml().replace("secret-for-tests", "wrong") + smtp.config_toml())
    r = run_subprocess(helpdesk_bin + ["mail", "fetch"])
    assert r.returncode == 3, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "login failed" in lines[0] and "support" in lines[0], r.stderr
    assert "wrong" not in r.stderr  # the password is never shown
    assert run_subprocess(helpdesk_bin + ["ticket", "list", "--json"]).stdout.strip() == "[]"
    status = json.loads(run_subprocess(helpdesk_bin + ["mail", "status", "--json"]).stdout)
    assert status[0]["fetched"] == 0 and status[0]["folders"] == []


# ---------------------------------------------------------------- loops and lifecycle


def test_acknowledgements_rate_capped_per_recipient(mdesk, imap):
    for i in range(5):
        imap.append(mail(subject=f"request {i}"))
    imap.append(mail(subject="from someone else", sender="dave@globex.example"))
    assert fetch(mdesk).outcomes == {"new_ticket": 6}
    acks = outbox_rows()
    assert [a.to_addr for a in acks].count("ann@globex.example") == 3
    assert [a.to_addr for a in acks].count("dave@globex.example") == 1
    assert all(a.auto for a in acks)
    numbers = [t.number for t in tickets()]
    assert "auto_mail_suppressed" in audit_actions(numbers[3]) and "auto_mail_suppressed" in audit_actions(numbers[4])
    # An hour later the cap is lifted.
    mdesk.clock.advance(hours=1, minutes=1)
    imap.append(mail(subject="request 6"))
    fetch(mdesk)
    assert [a.to_addr for a in outbox_rows()].count("ann@globex.example") == 4


def test_two_autoresponders_cannot_loop(mdesk, imap):
    """Their auto-replies carry Auto-Submitted and are ignored; our acknowledgements are capped anyway."""
    for i in range(6):
        imap.append(mail(subject=f"Automatic reply: [#{i}]", sender="bot@loop.example",
                         extra="Auto-Submitted: auto-replied\r\n"))
    assert fetch(mdesk).outcomes == {"automated": 6}
    assert outbox_rows() == [] and tickets() == []


def test_customer_reply_moves_pending_to_in_progress(mdesk, imap):
    from helpdesk.domain import agents, lifecycle

    imap.append(mail())
    fetch(mdesk)
    [t] = tickets()
    agents.ensure(mdesk, "bob")
    lifecycle.assign(mdesk, t.number, "bob")
    lifecycle.change_status(mdesk, t.number, "in_progress")
    lifecycle.change_status(mdesk, t.number, "pending")
    imap.append(mail(subject=f"Re: [#{t.number}] Printer broken", body="Here is the info you asked for."))
    assert fetch(mdesk).outcomes == {"reply": 1}
    assert tickets()[0].status == "in_progress"
    assert "status_changed" in audit_actions(t.number)[-3:]


def test_customer_reply_to_resolved_reopens(mdesk, imap):
    from helpdesk.domain import lifecycle

    imap.append(mail())
    fetch(mdesk)
    [t] = tickets()
    lifecycle.change_status(mdesk, t.number, "resolved")
    imap.append(mail(subject=f"Re: [#{t.number}] Printer broken", body="Still broken."))
    assert fetch(mdesk).outcomes == {"reply": 1}
    assert tickets()[0].status == "new" and "reopened" in audit_actions(t.number)


def test_reply_to_closed_ticket_opens_linked_ticket(mdesk, imap):
    from helpdesk.domain import lifecycle

    imap.append(mail(message_id="<orig@globex.example>"))
    fetch(mdesk)
    [t] = tickets()
    lifecycle.change_status(mdesk, t.number, "resolved")
    lifecycle.change_status(mdesk, t.number, "closed")
    imap.append(mail(subject=f"Re: [#{t.number}] Printer broken", body="It broke again.",
                     extra="In-Reply-To: <orig@globex.example>\r\n"))
    report = fetch(mdesk)
    assert report.outcomes == {"new_ticket": 1}
    old, new = tickets()
    assert old.status == "closed" and entries(old.number, "inbound") == []
    assert new.parent_id == old.number and new.status == "new"
    assert new.customer.email == "ann@globex.example" and "It broke again." in new.description
    assert "follow_up_of" in audit_actions(new.number)
    assert f"closed #{old.number}" in records()[-1].detail


# ---------------------------------------------------------------- accounting


def test_status_counts_add_up(mail_desk, imap, cli):
    appended = [
        mail(subject="new 1", message_id="<s1@globex.example>"),
        mail(subject="new 2", sender="dave@globex.example"),
        mail(subject="Re: new 1", body="more", extra="In-Reply-To: <s1@globex.example>\r\n"),
        mail(subject="new 1", message_id="<s1@globex.example>"),  # duplicate
        mail(subject="Away", extra="Auto-Submitted: auto-replied\r\n"),
        bounce("<unknown@desk.example>"),
        b"\xff\xfe\xfd garbage \x80\r\n",
    ]
    for raw in appended:
        imap.append(raw)
    r = cli("mail", "fetch")
    assert r.exit_code == 0 and "7 fetched" in r.stdout, r.stdout
    status = cli("mail", "status", "--json").json()
    [s] = status
    o = s["outcomes"]
    assert o == {"new_ticket": 2, "reply": 1, "duplicate": 1, "automated": 1, "bounce": 1, "quarantined": 1}
    assert sum(o.values()) == s["fetched"] == len(appended)
    assert s["last_uid"] == max(server_flags(imap)) and s["configured"]
    text = cli("mail", "status").stdout
    assert "7 fetched: 2 new tickets, 1 replies, 1 duplicates, 1 automated ignored, 1 bounces, 1 quarantined" in text
    assert len(cli("ticket", "list", "--json").json()) == 2


def test_overlong_header_values_never_block_the_mailbox(mdesk, imap):
    """Values longer than their columns (PostgreSQL refuses them, SQLite does not) are cut or refused per
    message: no mail stops the fetch, and the mail after them still arrives."""
    from helpdesk.store.models import Attachment, TicketContact

    long_but_valid_id = "<" + "m" * 240 + "@globex.example>"  # longer than an idempotency key
    att = ("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: text/plain\r\n"
           "\r\nsee file\r\n--X\r\nContent-Type: application/x-" + "y" * 300 + "\r\n"
           "Content-Disposition: attachment; filename=f.bin\r\n\r\ndata\r\n--X--\r\n")
    imap.append(mail(subject="S" * 600))
    imap.append(mail(message_id=long_but_valid_id))
    imap.append(mail(message_id="<" + "x" * 600 + "@globex.example>"))
    imap.append(mail(name="N" * 300, sender="nina@globex.example"))
    imap.append(mail(sender="a" * 330 + "@globex.example"))
    imap.append(mail(extra="Cc: " + "c" * 330 + "@globex.example\r\n"))
    imap.append(mail(subject="attachment").split(b"MIME-Version")[0] + att.encode())
    imap.append(mail(subject="last"))
    report = fetch(mdesk)
    assert report.outcomes == {"new_ticket": 7, "quarantined": 1}, [r.detail for r in records()]
    titles = [t.title for t in tickets()]
    assert titles[0] == "S" * 500 and titles[-1] == "last"
    assert len(outbox_rows()[0].subject) == 500 and outbox_rows()[0].subject.startswith("[#")
    assert records()[1].message_id == long_but_valid_id.lower()
    assert records()[2].message_id is None  # beyond any column: deduplicated by its hash instead
    assert [t for t in tickets() if t.customer.email == "nina@globex.example"][0].customer.name == "N" * 200
    assert "longer than 320" in [r.detail for r in records() if r.outcome == "quarantined"][0]
    assert TicketContact.select().count() == 0
    assert len(Attachment.get().content_type) == 200
    # The long Message-ID still deduplicates.
    imap.append(mail(message_id=long_but_valid_id))
    assert fetch(mdesk).outcomes == {"duplicate": 1}
