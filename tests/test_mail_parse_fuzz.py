"""The parser never raises on mail nobody here wrote: hypothesis builds broken headers and MIME trees;
each crash it found is a regression test below. A mail that cannot be read is a ParseError (quarantined
whole), never another exception. No server, no database."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk.mail.parse import ParseError, parse

FAST = settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))


def parses_or_refuses(raw: bytes):
    """parse() gives a ParsedMail or a ParseError: nothing else."""
    try:
        mail = parse(raw)
    except ParseError:
        return None
    assert isinstance(mail.text, str) and isinstance(mail.reply_text, str)
    assert all(isinstance(a.data, bytes) and a.filename for a in mail.attachments)
    return mail


# ---------------------------------------------------------------- the crashes found, one test each


@pytest.mark.parametrize("raw", [
    b'From: "\r\n\r\nbody',                       # IndexError in the stdlib's address parser
    b"From: <\r\nFrom: <\r\n\r\n<",               # IndexError (string index out of range)
    b"From: \r\n :text/html\r\n\r\nx",            # IndexError in get_display_name
    b'From: "x".:text/plain\r\n\r\nx',            # AttributeError: 'str' object has no attribute 'token_type'
    b"From: q:<--;.\r\nSubject: s\r\n\r\nx",      # AttributeError: 'Group' object has no attribute 'local_part'
    b"From: \xc3\xa9=?x?q?\"x\"@\r\nSubject: s\r\n\r\nx",  # IndexError in get_local_part
])
def test_malformed_address_headers_are_read_as_text(raw):
    mail = parses_or_refuses(raw)
    assert mail is not None  # the mail is kept: the sender is simply unknown (intake says so)


def test_a_lone_quote_as_sender_keeps_the_rest_of_the_mail():
    # "IndexError: list index out of range": a From that is a lone double quote.
    mail = parse(b'From: "\r\nTo: it@acme.example\r\nSubject: DOWN\r\nMessage-ID: <m1@mon.example>\r\n\r\n'
                 b"Host down\r\n")
    assert (mail.subject, mail.text, mail.message_id) == ("DOWN", "Host down", "<m1@mon.example>")
    assert mail.from_addr == ""  # no address in it: intake quarantines it as "no sender address"


def test_a_charset_name_with_a_nul_is_ignored():
    # ValueError: embedded null character (bytes.decode with that name).
    raw = (b"From: a@b.example\r\nSubject: s\r\nContent-Type: text/plain; charset=\"utf-8\x00\"\r\n\r\n"
           b"caf\xc3\xa9\r\n")
    assert parse(raw).text == "café"


def test_eight_bit_headers_part_under_an_impossible_charset():
    # ValueError from the stdlib's get_payload(), which decodes 8-bit text with the declared charset
    # (the bounce check reads text/rfc822-headers parts that way).
    raw = (b"From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/report; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain\r\n\r\nundeliverable\r\n--b\r\n"
           b"Content-Type: text/rfc822-headers; charset=\"x\x00y\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           b"Message-ID: <gone@acme.example>\r\nSubject: na\xc3\xafve\r\n--b--\r\n")
    mail = parse(raw)
    assert mail.text == "undeliverable" and mail.bounced_message_ids == ["<gone@acme.example>"]


def test_an_attachment_without_a_name_or_type():
    raw = (b"From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           b"Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Disposition: attachment\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n--b--\r\n")
    mail = parse(raw)
    assert mail.text == "see attached" and len(mail.attachments) == 1 and mail.attachments[0].filename


def test_a_multipart_without_its_boundary():
    raw = b"From: a@b.example\r\nSubject: s\r\nContent-Type: multipart/mixed\r\n\r\nhello\r\n"
    parses_or_refuses(raw)


# ---------------------------------------------------------------- generated mail

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=40)
JUNK = st.one_of(TEXT, st.sampled_from([
    "", '"', "<", ">", "@", ",", ";", ":", "\\", "(", ")", "[", "]", "=?utf-8?b?", "=?utf-8?q?=C3?=",
    "=?bogus?q?x?=", "=?iso-8859-1?b?////?=", "utf-8''%ff%fe", "*0*=", "*1*=x", '"a;b"', "\r\n ", "\r\n\t",
    "a@b", '"x y"@z', "Group: a@b;", "=?utf-8?q?\x00?=",
]))
HEADER_NAMES = st.sampled_from(["From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References",
                                "Reply-To", "Return-Path", "Date", "Auto-Submitted", "Precedence", "List-Id",
                                "Content-Type", "Content-Disposition", "Content-Transfer-Encoding", "MIME-Version"])
CHARSETS = st.sampled_from(["utf-8", "us-ascii", "iso-8859-1", "windows-1252", "utf-16", "utf-7", "gb2312", "koi8-r",
                            "iso-2022-jp", "x-unknown", "", '"', "utf-8\x00", "base64", "hz"])
CTYPES = st.sampled_from(["text/plain", "text/html", "image/png", "application/octet-stream", "message/rfc822",
                          "message/delivery-status", "text/rfc822-headers", "multipart/alternative",
                          "multipart/mixed", "multipart/report", "text", "/", ""])
ENCODINGS = st.sampled_from(["", "7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus"])
PAYLOADS = st.one_of(st.binary(max_size=120), TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
                     st.sampled_from([b"", b"====", b"=\r\n", b"=ZZ", b"AAA", b"begin 644 x\r\n`\r\nend\r\n",
                                      b"<html><blockquote>x</blockquote>", b"<!--", b"\xff\xfe\x00"]))


@st.composite
def part(draw, depth=0):
    ctype = draw(CTYPES)
    head = f"Content-Type: {ctype}"
    if draw(st.booleans()):
        head += f"; charset={draw(CHARSETS)}"
    if draw(st.booleans()):
        head += f"; name={draw(JUNK)}"
    head += "\r\n"
    encoding = draw(ENCODINGS)
    if encoding:
        head += f"Content-Transfer-Encoding: {encoding}\r\n"
    if draw(st.booleans()):
        disposition = draw(st.sampled_from(["attachment", "inline", "", "bogus", "attachment; filename=",
                                            "inline; filename*0*=utf-8''a%; filename*1=b"]))
        head += f"Content-Disposition: {disposition}\r\n"
    if draw(st.booleans()):
        head += f"Content-ID: {draw(JUNK)}\r\n"
    raw_head = head.encode("utf-8", "surrogatepass")
    if ctype.startswith("multipart") and depth < 2:
        boundary = draw(st.sampled_from(["b1", "", '"b1"', "b 1"]))
        raw_head = raw_head.replace(ctype.encode(), f"{ctype}; boundary={boundary}".encode(), 1)
        children = draw(st.lists(part(depth + 1), max_size=3))
        b = boundary.strip('"').encode()
        body = b"".join(b"--" + b + b"\r\n" + child for child in children)
        if draw(st.booleans()):
            body += b"--" + b + b"--\r\n"
        if draw(st.booleans()):
            body = body[:draw(st.integers(0, len(body)))]  # cut off mid-way
        return raw_head + b"\r\n" + body
    if ctype == "message/rfc822" and depth < 2 and draw(st.booleans()):
        return raw_head + b"\r\n" + draw(message(depth + 1))
    return raw_head + b"\r\n" + draw(PAYLOADS) + b"\r\n"


@st.composite
def message(draw, depth=0):
    headers = draw(st.lists(st.tuples(HEADER_NAMES, JUNK), max_size=6))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers)
    if draw(st.booleans()):
        head += "From: Ann <ann@globex.example>\r\n"
    if draw(st.booleans()):
        head += "Subject: " + "word " * draw(st.integers(0, 120)) + "\r\n\tfolded\r\n"
    return head.encode("utf-8", "surrogatepass") + draw(part(depth))


@FAST
@given(message())
def test_generated_mime_never_raises(raw):
    parses_or_refuses(raw)


@FAST
@given(st.lists(st.tuples(HEADER_NAMES, st.lists(JUNK, max_size=8).map("".join)), min_size=1, max_size=8),
       st.binary(max_size=200))
def test_random_headers_never_raise(headers, body):
    raw = "".join(f"{name}: {value}\r\n" for name, value in headers).encode("utf-8", "surrogatepass")
    parses_or_refuses(raw + b"\r\n" + body)


@FAST
@given(st.binary(max_size=400))
def test_any_bytes_never_raise(raw):
    parses_or_refuses(raw)


# ---------------------------------------------------------------- header blocks the stdlib gives up on


def test_obsolete_space_before_the_colon_of_a_field_name():
    # RFC 5322 section 4.5 (obs-optional): readers must accept "Subject  :". The stdlib ended the
    # header block there, so From and Subject were lost and the mail was quarantined.
    raw = (b"From  : Ann Lee <ann(comment)@globex(dept).example>\r\nTo    : IT <it@acme.example>\r\n"
           b"Subject     : Printer on fire\r\nDate  : Mon, 2 Mar 2026 09:00:00 +0100\r\n\r\nPlease hurry.\r\n")
    mail = parse(raw)
    assert (mail.from_addr, mail.from_name, mail.subject) == ("ann@globex.example", "Ann Lee", "Printer on fire")
    assert mail.to == ["it@acme.example"] and mail.text == "Please hurry."


def test_a_stray_line_among_the_fields_is_skipped():
    raw = (b"Received: from mx.globex.example\r\n  by mx.acme.example; Mon, 2 Mar 2026 09:00:00 +0100\r\n"
           b"quite Delivered-To: it@acme.example\r\nFrom: Ann <ann@globex.example>\r\nSubject: VPN\r\n\r\n"
           b"It drops.\r\n")
    mail = parse(raw)
    assert (mail.from_addr, mail.subject, mail.text) == ("ann@globex.example", "VPN", "It drops.")
    assert mail.sha256 == __import__("hashlib").sha256(raw).hexdigest()  # the bytes as they came


def test_a_body_without_a_blank_line_before_it_stays_the_body():
    raw = b"From: Ann <ann@globex.example>\r\nSubject: VPN\r\nIt drops every hour.\r\nSince Monday.\r\n"
    mail = parse(raw)
    assert mail.subject == "VPN" and "It drops every hour." in mail.text and "Since Monday." in mail.text
