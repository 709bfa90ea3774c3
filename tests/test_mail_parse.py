"""Parse-level unit tests for helpdesk.mail.parse: no server, no database."""

from __future__ import annotations

import email
import email.policy

import pytest

from helpdesk.mail.parse import (
    ParseError, automated_reason, decode_bytes, normalise_message_id, parse,
)
from helpdesk.mail.quotes import html_to_text
from helpdesk.mail.quotes import visible_text as strip_reply


def msg(headers: str, body: str = "Hello.") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body.replace("\n", "\r\n") + "\r\n").encode()


BASE = ("From: Ann <ann@globex.example>\nTo: support@desk.example\nSubject: Hi\n"
        "Message-ID: <p1@globex.example>\nDate: Mon, 2 Mar 2026 09:00:00 +0000\n")


# ---------------------------------------------------------------- strip_reply


def test_strip_reply_quoted_history():
    text = "Thanks, that fixed it.\n\n> Please restart the printer.\n> Regards, desk"
    assert strip_reply(text) == "Thanks, that fixed it."


def test_strip_reply_inline_answers_keep_their_questions():
    text = "> Did you restart it?\nYes, twice.\n> And the cable?\nAlso checked."
    assert strip_reply(text) == text


@pytest.mark.parametrize("header", [
    "On Mon, 2 Mar 2026 at 09:00, Support <support@desk.example> wrote:",
    "Am 02.03.2026 um 09:00 schrieb Support <support@desk.example>:",
    "Le lun. 2 mars 2026 à 09:00, Support a écrit :",
    "-----Original Message-----",
])
def test_strip_reply_cuts_at_reply_header(header):
    # The history quoted with ">", or not at all (Outlook): either way hidden.
    assert strip_reply(f"It works now.\n\n{header}\n> old text\n> more old text") == "It works now."
    assert strip_reply(f"It works now.\n\n{header}\nold text unquoted\n\nmore") == "It works now."


def test_strip_reply_outlook_header_block():
    text = ("New information below the fold? No, above it.\n\n"
            "________________________________\n"
            "From: Support <support@desk.example>\nSent: Monday, March 2, 2026 9:00 AM\n"
            "To: Ann <ann@globex.example>\nSubject: [#4] Printer\n\nOld text.")
    assert strip_reply(text) == "New information below the fold? No, above it."
    # Without the rule line, the header block alone is recognised.
    text2 = ("Done.\n\nFrom: Support <support@desk.example>\nSent: Monday\nTo: Ann\nSubject: x\n\nOld.")
    assert strip_reply(text2) == "Done."


def test_strip_reply_from_line_in_prose_is_kept():
    text = "From: the accounting team we heard nothing.\nPlease check again."
    assert strip_reply(text) == text


@pytest.mark.parametrize("sig", ["-- \nAnn Example\nGlobex", "--\nAnn", "Sent from my iPhone"])
def test_strip_reply_signature(sig):
    assert strip_reply(f"Please call me back.\n\n{sig}") == "Please call me back."


def test_strip_reply_of_nothing_but_a_quote_shows_nothing():
    # Nothing of the sender's own: nothing shown (the whole mail is kept beside it, `show --full`).
    assert strip_reply("> only quoted\n> lines") == ""


# ---------------------------------------------------------------- decode_bytes


def test_decode_bytes_declared_charsets():
    assert decode_bytes("Grüße".encode("utf-8"), "utf-8") == "Grüße"
    assert decode_bytes("Grüße".encode("latin-1"), "iso-8859-1") == "Grüße"
    assert decode_bytes("Привет".encode("koi8-r"), "koi8-r") == "Привет"
    assert decode_bytes("日本語".encode("iso-2022-jp"), '"ISO-2022-JP"') == "日本語"


def test_decode_bytes_wrongly_declared():
    # UTF-8 bytes declared us-ascii or latin-1: valid UTF-8 wins.
    assert decode_bytes("café €".encode("utf-8"), "us-ascii") == "café €"
    assert decode_bytes("café".encode("utf-8"), "iso-8859-1") == "café"
    # Latin-1 bytes declared UTF-8: not valid UTF-8, fall back to a single-byte charset.
    assert decode_bytes("café crème".encode("latin-1"), "utf-8") == "café crème"
    # Windows-1252 punctuation declared as ISO-8859-1 (what Outlook does): no C1 control characters.
    assert decode_bytes(b"\x93quoted\x94 \x96 caf\xe9", "iso-8859-1") == "\u201cquoted\u201d \u2013 café"
    # Unknown or missing charset.
    assert decode_bytes("naïve".encode("utf-8"), "x-no-such-charset") == "naïve"
    assert decode_bytes("naïve".encode("latin-1"), None) == "naïve"
    assert decode_bytes(b"\x81\x8d\x8f", "utf-8") == "\x81\x8d\x8f"  # bytes undefined in cp1252: latin-1


# ---------------------------------------------------------------- html_to_text


def test_html_to_text_readable():
    html = ("<html><head><style>p {color: red}</style><script>alert(1)</script></head><body>"
            "<p>Hello&nbsp;team,</p><p>the <b>VPN</b> is down &amp; nobody can log in.</p>"
            "<ul><li>Berlin</li><li>Paris</li></ul><br><br><br><br><div>Ann</div></body></html>")
    text = html_to_text(html)
    assert "Hello" in text and "team," in text
    assert "the VPN is down & nobody can log in." in text
    assert "Berlin" in text and "Paris" in text and "Ann" in text
    assert "<" not in text and "color: red" not in text and "alert" not in text
    assert "\n\n\n" not in text


def test_html_only_mail_parses_to_text():
    raw = msg(BASE + "Content-Type: text/html; charset=utf-8",
              "<html><body><h1>Broken</h1><p>My <i>screen</i> flickers.</p></body></html>")
    mail = parse(raw)
    assert "Broken" in mail.text and "My screen flickers." in mail.text and "<" not in mail.text


# ---------------------------------------------------------------- automated_reason


@pytest.mark.parametrize("extra, expected", [
    ("Auto-Submitted: auto-replied\n", "Auto-Submitted: auto-replied"),
    ("Auto-Submitted: auto-generated\n", "Auto-Submitted: auto-generated"),
    ("Precedence: bulk\n", "Precedence: bulk"),
    ("Precedence: junk\n", "Precedence: junk"),
    ("Precedence: list\n", "Precedence: list"),
    ("X-Autoreply: yes\n", "X-Autoreply"),
    ("X-Autorespond: yes\n", "X-Autorespond"),
    ("X-Auto-Response-Suppress: All\n", "X-Auto-Response-Suppress"),
    ("Return-Path: <>\n", "empty Return-Path"),
    ("List-Id: <announce.example.org>\n", "mailing list"),
])
def test_automated_reason_headers(extra, expected):
    raw = msg(BASE + extra)
    m = email.message_from_bytes(raw, policy=email.policy.default)
    rp = str(m["Return-Path"]) if m["Return-Path"] is not None else None
    assert automated_reason(m, "ann@globex.example", rp) == expected
    assert parse(raw).automated == expected


@pytest.mark.parametrize("sender", ["mailer-daemon@mx.example", "MAILER-DAEMON@mx.example", "postmaster@x.example",
                                    "no-reply@shop.example", "noreply@shop.example", "do-not-reply@x.example"])
def test_automated_reason_senders(sender):
    raw = msg(BASE.replace("ann@globex.example", sender))
    assert parse(raw).automated == f"sender {sender.lower()}"


def test_person_is_not_automated():
    assert parse(msg(BASE + "Auto-Submitted: no\nPrecedence: normal\nReturn-Path: <ann@globex.example>\n")).automated \
        is None
    assert parse(msg(BASE.replace("ann@", "noreen@"))).automated is None  # "no" prefix alone is not no-reply


# ---------------------------------------------------------------- bounces


def dsn(original_id: str, recipient: str = "ann@globex.example", sender: str = "MAILER-DAEMON@mx.globex.example",
        as_headers: bool = False) -> bytes:
    original = (f"From: Support <support@desk.example>\r\nTo: {recipient}\r\nSubject: [#1] Printer\r\n"
                f"Message-ID: {original_id}\r\n\r\nWe received your request.\r\n")
    ctype = "text/rfc822-headers" if as_headers else "message/rfc822"
    return (f"From: Mail Delivery System <{sender}>\r\nTo: support@desk.example\r\n"
            f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <bounce.{abs(hash(original_id))}@mx.example>\r\n"
            "Date: Mon, 2 Mar 2026 09:05:00 +0000\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="BND"\r\n\r\n'
            "--BND\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            f"I'm sorry to have to inform you that your message could not be delivered to {recipient}.\r\n"
            "--BND\r\nContent-Type: message/delivery-status\r\n\r\n"
            "Reporting-MTA: dns; mx.globex.example\r\n\r\n"
            f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            f"--BND\r\nContent-Type: {ctype}\r\n\r\n{original}\r\n--BND--\r\n").encode()


def test_bounce_detected_with_original_message_id():
    mail = parse(dsn("<HD.1.ABC.DEF@desk.example>"))
    assert mail.bounce is True
    assert mail.bounced_message_ids == ["<hd.1.abc.def@desk.example>"]
    assert mail.bounced_recipients == ["ann@globex.example"]
    assert mail.automated  # never answered


def test_bounce_with_headers_only():
    mail = parse(dsn("<orig@desk.example>", as_headers=True))
    assert mail.bounce and mail.bounced_message_ids == ["<orig@desk.example>"]


def test_old_style_bounce_from_mailer_daemon():
    raw = (b"From: MAILER-DAEMON@old.example\r\nTo: support@desk.example\r\nSubject: failure notice\r\n"
           b"Message-ID: <old-bounce@old.example>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n'
           b"--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: support@desk.example\r\nMessage-ID: <orig2@desk.example>"
           b"\r\n\r\nHi\r\n--B--\r\n")
    mail = parse(raw)
    assert mail.bounce and mail.bounced_message_ids == ["<orig2@desk.example>"]


def test_forwarded_mail_is_not_a_bounce():
    raw = (b"From: Ann <ann@globex.example>\r\nTo: support@desk.example\r\nSubject: Fwd: invoice\r\n"
           b"Message-ID: <fwd@globex.example>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n'
           b"--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: vendor@v.example\r\nMessage-ID: <inv@v.example>"
           b"\r\n\r\nInvoice\r\n--B--\r\n")
    mail = parse(raw)
    assert not mail.bounce and mail.automated is None


# ---------------------------------------------------------------- Message-IDs and headers


def test_normalise_message_id():
    assert normalise_message_id("<ABC.123@Example.COM>") == "<abc.123@example.com>"
    assert normalise_message_id("  <a@b> (a comment)") == "<a@b>"
    assert normalise_message_id("abc@example.com") == "<abc@example.com>"
    assert normalise_message_id("<abc@example.com") == "<abc@example.com>"
    assert normalise_message_id(None) is None
    assert normalise_message_id("") is None
    assert normalise_message_id("two words") is None


def test_thread_ids_order_and_case():
    raw = msg(BASE + "In-Reply-To: <C@x>\nReferences: <A@x> <B@x>\n\t<C@X>\n")
    mail = parse(raw)
    assert mail.in_reply_to == ["<c@x>"]
    assert mail.references == ["<a@x>", "<b@x>", "<c@x>"]
    assert mail.thread_ids == ["<c@x>", "<b@x>", "<a@x>"]


def test_rfc2047_and_2231_subject_and_filenames():
    raw = (b"From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <JM@Example.org>\r\nTo: support@desk.example\r\n"
           b"Subject: =?iso-8859-1?q?Gr=FC=DFe?= =?utf-8?b?IOKCrCDmloflrZc=?=\r\nMessage-ID: <e@x>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n"
           b"--XX\r\nContent-Type: application/pdf\r\n"
           b"Content-Disposition: attachment; filename*=utf-8''%C3%A9t%C3%A9%20report.pdf\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
           b"--XX\r\nContent-Type: application/pdf; name=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\r\n"
           b"Content-Disposition: attachment; filename=\"=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=\"\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
           b"--XX\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Disposition: attachment;\r\n filename*0*=utf-8''Gro%C3%9Fe%20;\r\n filename*1=\"Datei.bin\"\r\n\r\n"
           b"xyz\r\n--XX--\r\n")
    mail = parse(raw)
    assert mail.subject == "Grüße € 文字"
    assert mail.from_name == "Jürgen Müller" and mail.from_addr == "jm@example.org"
    assert [a.filename for a in mail.attachments] == ["été report.pdf", "résumé.pdf", "Große Datei.bin"]
    assert mail.attachments[0].data == b"%PDF-"


def test_hostile_filenames_made_safe():
    raw = (b"From: x@y.example\r\nTo: support@desk.example\r\nSubject: files\r\nMessage-ID: <h@x>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
           b"--XX\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
           b"--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\n"
           b"root:x:0:0\r\n"
           b"--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"..\\\\..\\\\win.ini\"\r\n\r\n"
           b"w\r\n"
           b"--XX\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"a\x1b[31m\x07b.txt\"\r\n\r\n"
           b"c\r\n"
           b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"..\"\r\n\r\n"
           b"d\r\n--XX--\r\n")
    names = [a.filename for a in parse(raw).attachments]
    assert names[0] == "passwd" and names[1] == "win.ini"
    assert "\x1b" not in names[2] and "\x07" not in names[2] and names[2].endswith("b.txt")
    assert names[3] == "attachment"
    for name in names:
        assert "/" not in name and "\\" not in name and not name.startswith(".")


def test_inline_image_is_an_attachment():
    raw = (b"From: x@y.example\r\nTo: support@desk.example\r\nSubject: screenshot\r\nMessage-ID: <i@x>\r\n"
           b"MIME-Version: 1.0\r\nContent-Type: multipart/related; boundary=R\r\n\r\n"
           b"--R\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Look: <img src=\"cid:IMG1@x\"></p>\r\n"
           b"--R\r\nContent-Type: image/png\r\nContent-ID: <IMG1@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           b"iVBORw0KGgo=\r\n--R--\r\n")
    mail = parse(raw)
    assert mail.text.startswith("Look:")
    [img] = mail.attachments
    assert img.inline and img.content_id == "<img1@x>" and img.content_type == "image/png"
    assert img.filename == "inline.png" and img.data == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("raw", [b"", b"   \r\n", b"\x89\xfe\xff binary junk \x80\x81\r\n\x90\x91 more"])
def test_garbage_is_a_parse_error(raw):
    with pytest.raises(ParseError):
        parse(raw)
