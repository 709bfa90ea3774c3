#!/usr/bin/env python
"""Benchmark the mail intake against a real Dovecot: what `helpdesk mail fetch` costs next to the
unavoidable work of fetching and parsing the same messages.

    .venv/bin/python bench/mail_bench.py                        # 2,000 messages, SQLite desk
    .venv/bin/python bench/mail_bench.py --messages 5000
    .venv/bin/python bench/mail_bench.py --backend postgres     # schema bench_mail_xxx in postgres@127.0.0.1/test
    .venv/bin/python bench/mail_bench.py --profile              # + cProfile of fetch_mailbox, in-process
    .venv/bin/python bench/mail_bench.py --mix plain            # small plain-text mails instead (--mix both: each)

What it does (see bench/README.md):
 1. starts the test suite's Dovecot (tests/mailservers.py) under /tmp/helpdesk-bench-dovecot-<pid> on a
    free loopback port;
 2. generates N realistic messages (new requests, threaded replies, subject-tag replies, out-of-office and
    other automated mail, bounces, attachments, HTML-only and multipart/alternative mail, legacy charsets,
    duplicates, a few unparseable ones) and appends them with MULTIAPPEND in batches; with `--mix plain` the
    same kinds in the same shares, but every mail small and text/plain (no HTML part, no attachment);
 3. measures, in the same run, three rates in messages/second:
      a. bare fetch: an imapclient loop that only fetches them (UID FETCH BODY.PEEK[], batches of 200);
      b. fetch + parse: the same loop, each message parsed with the stdlib email package
         (policy=email.policy.default) and its body extracted (get_body + get_content): the unavoidable work;
      c. `helpdesk mail fetch` (the real console script, a subprocess) on a fresh desk;
 4. checks that every message is accounted for (`helpdesk mail status --json`: new tickets + replies +
    automated + bounces + duplicates + quarantined == messages appended), that the server holds no unseen
    message any more, and that a second `helpdesk mail fetch` creates nothing;
 5. prints the figures next to the target (ours >= 50 % of fetch + parse); results also go to bench/out/.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import email
import email.header
import email.policy
import json
import os
import platform
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT, ROOT / "tests", ROOT / "bench"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from desk_bench import (  # noqa: E402  (the desk benchmark's text generator and helpers)
    LAST, SENTENCES_COMMON, SENTENCES_COMPLAINT, SENTENCES_IT, SENTENCES_REPAIR, TextGen, code_state, helpdesk_cmd,
    human_bytes, log,
)
from helpdesk.domain import sample  # noqa: E402
from mailservers import start_dovecot  # noqa: E402  (the test suite's Dovecot)

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
DESK_ADDRESS = "support@desk.example"
FETCH_BATCH = 200  # the same batch size as helpdesk.mail.fetch
APPEND_BATCH = 100  # messages per MULTIAPPEND command
TARGET_RATIO = 0.5  # ours >= 50 % of the fetch + parse rate
MIXES = {  # --mix: what the corpus is made of
    "mixed": "plain, HTML-only and alternative mail, some attachments",
    "plain": "small text/plain mails, no HTML, no attachments",
}
OUTCOMES = ("new_ticket", "reply", "duplicate", "automated", "bounce", "quarantined")

# What the generator makes, with weights (per message) and the outcome the desk should reach.
KINDS = {
    # kind: (weight, expected outcome)
    "new": (40, "new_ticket"),            # a new request (plain, HTML-only or alternative; some attachments)
    "reply": (28, "reply"),               # In-Reply-To / References naming an earlier generated message
    "tag_reply": (2, "reply"),            # only the subject tag [#N], from the customer or a CC'd colleague
    "tag_stranger": (1, "new_ticket"),    # a subject tag [#N] from someone else: a new ticket
    "out_of_office": (5, "automated"),    # Auto-Submitted / X-Autoreply / Precedence: auto_reply
    "bulk": (2, "automated"),             # newsletters: List-Id, Precedence: bulk
    "noreply": (2, "automated"),          # notifications from no-reply@ senders
    "bounce": (5, "bounce"),              # multipart/report; report-type=delivery-status
    "duplicate": (4, "duplicate"),        # the same message again (same bytes, or one more Received: line)
    "garbage": (1, "quarantined"),        # bytes without mail headers, or a mail without a sender
}

REPLY_OPENERS = ["Hi,", "Hello,", "Thanks for the quick answer.", "Hello again,", "Dear support,", ""]
REPLY_SENTENCES = [
    "I tried that but it still {symptom}.", "That worked, thank you!", "The error is now {code}.",
    "It happened again this morning at {n2} past eight.", "Could you send a technician on {weekday}?",
    "I restarted as you suggested; no change.", "Please close the ticket, the problem is gone.",
    "Attached is the log you asked for.", "My colleague {person} sees the same on {host}.",
    "When can we expect a fix? We are blocked since {when_short}.", "The serial number is {serial}.",
    "Yes, the {it_product} was updated last week.", "I will be out of office until {weekday}, please call {person}.",
    "Any news on this?", "Still waiting for an answer, this is getting urgent.",
]
OOO_TEXTS = [
    "I am out of the office until {weekday} with limited access to email. For urgent matters please contact "
    "{person} at the service desk.",
    "Thank you for your message. I am currently on leave and will return on {weekday}. Your email will not be "
    "forwarded.",
    "Ich bin bis {weekday} nicht im Büro und habe keinen Zugriff auf meine E-Mails. In dringenden Fällen wenden "
    "Sie sich bitte an {person}.",
    "Je suis absent du bureau jusqu'au {weekday}. Pour toute urgence, merci de contacter {person}.",
]
CSS = ("<style>\n<!--\n@font-face {font-family:\"Cambria Math\"; panose-1:2 4 5 3 5 4 6 3 2 4;}\n"
       "p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0cm; font-size:11.0pt; font-family:\"Calibri\",sans-serif;}\n"
       "a:link, span.MsoHyperlink {mso-style-priority:99; color:#0563C1; text-decoration:underline;}\n"
       "span.EmailStyle17 {mso-style-type:personal-compose; font-family:\"Calibri\",sans-serif; color:windowtext;}\n"
       ".MsoChpDefault {mso-style-type:export-only; font-family:\"Calibri\",sans-serif;}\n"
       "@page WordSection1 {size:612.0pt 792.0pt; margin:70.85pt 70.85pt 2.0cm 70.85pt;}\n"
       "div.WordSection1 {page:WordSection1;}\n-->\n</style>")
ATTACHMENT_TYPES = [  # content type, filename pattern
    ("application/pdf", "{stem}.pdf"), ("image/png", "screenshot-{n}.png"), ("image/jpeg", "IMG_{n}.jpg"),
    ("text/csv", "export-{n}.csv"), ("application/zip", "logs-{n}.zip"),
    ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "{stem}.xlsx"),
    ("application/pdf", "Rechnung März {n}.pdf"), ("image/png", "Bildschirmfoto {n}.png"),
    ("application/octet-stream", "..\\..\\windows\\system32\\{stem}.exe"),
]
STEMS = ["invoice", "report", "error-log", "photo", "contract", "delivery-note", "config-backup", "scan"]
MAILERS = ["Microsoft Outlook 16.0", "Apple Mail (2.3774)", "Mozilla Thunderbird 115.8", "Roundcube Webmail 1.6",
           "Gmail", None, None]


# ====================================================================== message generator


class MailGen:
    """N realistic messages for the desk's mailbox, deterministic for a seed.

    Threads are tracked so replies name real earlier Message-IDs; new tickets are counted so a
    subject tag [#N] names the ticket the desk will have given the N-th new request (fresh desk)."""

    def __init__(self, rng: random.Random, mix: str = "mixed"):
        self.rng = rng
        # "plain": small text/plain mails only (no HTML part, no attachment, short newsletters and alerts),
        # where the parser has little to do and the database work per message dominates the intake.
        self.plain = mix == "plain"
        self.text = TextGen(rng, customers=600)
        self.threads: list[dict] = []
        self.dupable: list[bytes] = []  # messages that may be sent again
        self.next_ticket = 1
        self.clock = dt.datetime(2026, 3, 2, 7, 0, 0, tzinfo=dt.timezone.utc)
        self.seq = 0

    # ---------------------------------------------------------------- pieces

    def tick(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=self.rng.randint(5, 400))
        return self.clock

    def message_id(self, domain: str) -> str:
        self.seq += 1
        r = self.rng
        style = r.random()
        if style < 0.4:
            local = f"{r.getrandbits(64):016X}.{self.seq}"
        elif style < 0.7:
            local = f"CAB{base64.b32encode(r.randbytes(20)).decode().rstrip('=')}"
        else:
            local = f"{uuid.UUID(int=r.getrandbits(128))}"
        return f"<{local}@{domain}>"

    def received(self, domain: str) -> list[str]:
        r = self.rng
        out = []
        for hop in range(r.randint(1, 4)):
            out.append(f"from mx{r.randint(1, 9)}.{domain} (mx{r.randint(1, 9)}.{domain} [10.{r.randint(0, 255)}."
                       f"{r.randint(0, 255)}.{r.randint(1, 254)}]) by mail.desk.example (Postfix) with ESMTPS id "
                       f"{r.getrandbits(40):010X} for <{DESK_ADDRESS}>; {format_datetime(self.clock)}")
        return out

    def sentences(self, templates: list[str], count: int, ent=None) -> list[str]:
        return [self.text._fill([self.rng.choice(templates)], ent) for _ in range(count)]

    def attachment(self) -> tuple[str, str, bytes]:
        r = self.rng
        ctype, pattern = r.choice(ATTACHMENT_TYPES)
        size = int(2 ** r.uniform(11, 16.6))  # 2 KB .. ~100 KB, log-uniform
        if ctype == "text/csv":
            rows = ["date;host;code;message"] + [f"2026-03-{r.randint(1, 28):02d};{self.text.host()};"
                                                  f"{self.text.code()};{self.text.log_line()}" for _ in range(size // 90)]
            data = "\n".join(rows).encode()
        else:
            data = r.randbytes(size)
        return ctype, pattern.format(stem=r.choice(STEMS), n=r.randint(1000, 9999)), data

    def html(self, paragraphs: list[str], name: str, org: str, inline_cid: str | None = None) -> str:
        body = "".join(f"<p class=MsoNormal>{p.replace('&', '&amp;').replace('<', '&lt;').replace(chr(10), '<br>')}"
                       f"<o:p></o:p></p>\n" for p in paragraphs)
        img = f'<p><img width=640 height=360 src="cid:{inline_cid[1:-1]}"></p>' if inline_cid else ""
        return (f"<html xmlns:o=\"urn:schemas-microsoft-com:office:office\"><head><meta http-equiv=Content-Type "
                f"content=\"text/html; charset=utf-8\">{CSS}</head><body lang=EN-US link=\"#0563C1\">"
                f"<div class=WordSection1>{body}{img}<table border=0 cellpadding=0><tr><td><b>{name}</b><br>{org}<br>"
                f"Phone +49 89 {self.rng.randint(1000000, 9999999)}</td></tr></table></div></body></html>")

    def build(self, *, sender: tuple[str, str], subject: str, text: str, message_id: str | None,
              cc: list[str] = (), in_reply_to: str | None = None, references: list[str] = (),
              attachments: int = 0, extra: list[tuple[str, str]] = (), org: str = "") -> bytes:
        """A MIME message as real clients send it: plain, HTML-only or alternative, maybe attachments."""
        r = self.rng
        name, addr = sender
        domain = addr.rsplit("@", 1)[1]
        when = self.tick()
        style = r.random()
        if self.plain:
            attachments = 0
        if style < 0.3 and not attachments:
            return self.legacy(sender, subject, text, message_id, cc, in_reply_to, references, extra, when)
        msg = EmailMessage(policy=email.policy.SMTP)
        for line in self.received(domain):
            msg["Received"] = line
        msg["From"] = formataddr((name, addr))
        msg["To"] = DESK_ADDRESS if r.random() < 0.9 else formataddr(("Acme IT Support", DESK_ADDRESS))
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(when)
        if message_id:
            msg["Message-ID"] = message_id
        if in_reply_to:
            msg["In-Reply-To"] = in_reply_to
        if references:
            msg["References"] = " ".join(references)
        mailer = r.choice(MAILERS)
        if mailer:
            msg["X-Mailer"] = mailer
        for key, value in extra:
            msg[key] = value
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        inline = attachments and style < 0.85 and r.random() < 0.3  # an inline image in the HTML
        cid = self.message_id(domain) if inline else None
        if self.plain:
            msg.set_content(text)
        elif style < 0.45:
            msg.set_content(self.html(paragraphs, name, org, cid), subtype="html")  # HTML-only
        else:
            msg.set_content(text)
            if style < 0.85:
                msg.add_alternative(self.html(paragraphs, name, org, cid), subtype="html")
        if cid:
            html_part = msg.get_body(("html",))
            html_part.add_related(r.randbytes(int(2 ** r.uniform(11, 15))), "image", "png", cid=cid,
                                  filename="image001.png", disposition="inline")
        for _ in range(attachments):
            ctype, filename, data = self.attachment()
            maintype, subtype = ctype.split("/", 1)
            if maintype == "text":
                msg.add_attachment(data.decode(), subtype=subtype, filename=filename)
            else:
                msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        return msg.as_bytes()

    def legacy(self, sender, subject, text, message_id, cc, in_reply_to, references, extra, when) -> bytes:
        """A plain text/plain mail written by hand: 8bit, some declared with the wrong charset."""
        r = self.rng
        name, addr = sender
        roll = r.random()
        if roll < 0.35:
            charset, data = "iso-8859-1", text.encode("latin-1", "replace")
        elif roll < 0.55:
            charset, data = "us-ascii", text.encode("utf-8")  # declared wrongly: really UTF-8
        elif roll < 0.65:
            charset, data = "windows-1252", text.encode("cp1252", "replace")
        else:
            charset, data = "utf-8", text.encode("utf-8")
        encoded_subject = subject
        if any(ord(ch) > 127 for ch in subject):
            encoded_subject = email.header.Header(subject, "utf-8").encode()
        shown_name = name if all(ord(ch) < 128 for ch in name) else email.header.Header(name, "utf-8").encode()
        lines = [f"Received: {x}" for x in self.received(addr.rsplit("@", 1)[1])]
        lines += [f"From: {shown_name} <{addr}>", f"To: {DESK_ADDRESS}", f"Subject: {encoded_subject}",
                  f"Date: {format_datetime(when)}"]
        if cc:
            lines.append(f"Cc: {', '.join(cc)}")
        if message_id:
            lines.append(f"Message-ID: {message_id}")
        if in_reply_to:
            lines.append(f"In-Reply-To: {in_reply_to}")
        if references:
            lines.append("References: " + "\r\n ".join(references))
        lines += [f"{k}: {v}" for k, v in extra]
        lines += ["MIME-Version: 1.0", f"Content-Type: text/plain; charset={charset}; format=flowed",
                  "Content-Transfer-Encoding: 8bit"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    # ---------------------------------------------------------------- kinds

    def new(self, i: int, *, subject: str | None = None, sender=None) -> bytes:
        r = self.rng
        rec = self.text.ticket(i)
        email_addr, name, org = sender or (rec["customer"], rec["customer_name"], rec["organisation"])
        domain = email_addr.rsplit("@", 1)[1]
        cc = []
        if r.random() < 0.2:
            colleague = f"{r.choice(sample.FIRST)}.{r.choice(LAST)}@{domain}"
            if colleague != email_addr:
                cc.append(colleague)
        message_id = self.message_id(domain) if r.random() < 0.97 else None  # a few scripts send none
        subject = subject or rec["title"]
        text = rec["body"]
        if r.random() < 0.3:
            text += "\n\n-- \n" + f"{name}\n{org}\nPhone +49 89 {r.randint(1000000, 9999999)}"
        attachments = 0 if self.plain else r.choices([0, 1, 2, 3], weights=[85, 10, 4, 1])[0]
        raw = self.build(sender=(name, email_addr), subject=subject, text=text, message_id=message_id, cc=cc,
                         attachments=attachments, org=org)
        self.threads.append({"ids": [message_id] if message_id else [], "subject": subject, "customer": email_addr,
                             "name": name, "org": org, "cc": cc, "ticket": self.next_ticket, "text": text,
                             "when": self.clock})
        self.next_ticket += 1
        self.dupable.append(raw)
        return raw

    def pick_thread(self) -> dict:
        # Recent threads get more replies than old ones.
        k = len(self.threads)
        return self.threads[min(k - 1, int(k * (1 - self.rng.random() ** 3)))]

    def reply_text(self, t: dict) -> str:
        r = self.rng
        own = [p for p in [r.choice(REPLY_OPENERS)] if p]
        own += [self.text._fill([s]) for s in r.sample(REPLY_SENTENCES, r.randint(1, 3))]
        if r.random() < 0.3:
            own += self.sentences(SENTENCES_IT + SENTENCES_REPAIR + SENTENCES_COMPLAINT + SENTENCES_COMMON,
                                  r.randint(1, 3))
        new = "\n".join(own) + f"\n\n{t['name']}"
        quoted = t["text"].splitlines()
        style = r.random()
        if style < 0.45:
            history = (f"On {format_datetime(t['when'])}, {t['name']} <{t['customer']}> wrote:\n"
                       + "\n".join("> " + line for line in quoted))
        elif style < 0.75:
            history = ("________________________________\n" f"From: {t['name']} <{t['customer']}>\n"
                       f"Sent: {format_datetime(t['when'])}\nTo: {DESK_ADDRESS}\nSubject: {t['subject']}\n\n"
                       + "\n".join(quoted))
        elif style < 0.85:
            history = "-----Original Message-----\n" + "\n".join(quoted)
        else:
            history = ""
        if r.random() < 0.2:
            new += "\n\nSent from my iPhone"
        return new + ("\n\n" + history if history else "")

    def reply(self) -> bytes:
        r = self.rng
        t = self.pick_thread()
        sender = (t["name"], t["customer"])
        if t["cc"] and r.random() < 0.15:
            sender = (t["cc"][0].split("@")[0].replace(".", " ").title(), t["cc"][0])
        domain = sender[1].rsplit("@", 1)[1]
        message_id = self.message_id(domain)
        prefix = r.choice(["Re: ", "RE: ", "AW: ", "Re: ", "Re: Re: "])
        attachments = 1 if r.random() < 0.08 else 0
        raw = self.build(sender=sender, subject=prefix + t["subject"], text=self.reply_text(t), message_id=message_id,
                         cc=t["cc"], in_reply_to=t["ids"][-1] if t["ids"] else None, references=t["ids"][-10:],
                         attachments=attachments, org=t["org"])
        if not t["ids"]:  # a thread whose first mail had no Message-ID: name it by subject tag instead
            raw = raw.replace(b"Subject: " + prefix.encode(), f"Subject: {prefix}[#{t['ticket']}] ".encode(), 1)
        t["ids"].append(message_id)
        t["when"] = self.clock
        self.dupable.append(raw)
        return raw

    def tag_reply(self, stranger: bool = False) -> bytes:
        r = self.rng
        t = self.pick_thread()
        if stranger:
            while True:
                email_addr, name, org = self.text.customer()
                if email_addr != t["customer"] and email_addr not in t["cc"]:
                    break
            sender = (name, email_addr)
        else:
            sender = (t["name"], t["customer"])
            if t["cc"] and r.random() < 0.3:
                sender = (t["cc"][0].split("@")[0].replace(".", " ").title(), t["cc"][0])
        subject = f"Re: [#{t['ticket']}] {t['subject']}"
        domain = sender[1].rsplit("@", 1)[1]
        message_id = self.message_id(domain)
        # Our acknowledgement's Message-ID is unknown here: some clients drop the thread headers entirely,
        # others keep an In-Reply-To that names nothing the desk stored.
        in_reply_to = self.message_id("desk.example") if r.random() < 0.5 else None
        raw = self.build(sender=sender, subject=subject, text=self.reply_text(t), message_id=message_id,
                         in_reply_to=in_reply_to, references=[in_reply_to] if in_reply_to else [], org=t["org"])
        if stranger:
            self.threads.append({"ids": [message_id], "subject": subject, "customer": sender[1], "name": sender[0],
                                 "org": "", "cc": [], "ticket": self.next_ticket, "text": "", "when": self.clock})
            self.next_ticket += 1
        else:
            t["ids"].append(message_id)
        self.dupable.append(raw)
        return raw

    def out_of_office(self) -> bytes:
        r = self.rng
        t = self.pick_thread()
        domain = t["customer"].rsplit("@", 1)[1]
        marker = r.choice([[("Auto-Submitted", "auto-replied")], [("X-Autoreply", "yes")],
                           [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
                           [("Precedence", "auto_reply")], [("X-Autorespond", "yes")]])
        refs = t["ids"][-1:] if t["ids"] and r.random() < 0.5 else []
        subject = r.choice(["Automatic reply: ", "Out of Office: ", "Abwesenheitsnotiz: ", "Réponse automatique : "])
        return self.build(sender=(t["name"], t["customer"]), subject=subject + t["subject"],
                          text=self.text._fill([r.choice(OOO_TEXTS)]), message_id=self.message_id(domain),
                          in_reply_to=refs[0] if refs else None, references=refs, extra=marker, org=t["org"])

    def bulk(self) -> bytes:
        r = self.rng
        org = r.choice(["Vendor News", "Cloud Status", "Security Weekly", "Partner Portal"])
        domain = org.lower().replace(" ", "") + ".example"
        paragraphs = self.sentences(SENTENCES_IT + SENTENCES_COMMON, r.randint(1, 3) if self.plain else r.randint(4, 12))
        return self.build(sender=(org, f"news@{domain}"), subject=f"{org}: {r.choice(['March', 'April'])} update",
                          text="\n\n".join(paragraphs), message_id=self.message_id(domain), org=org,
                          extra=[("List-Id", f"<news.{domain}>"), ("List-Unsubscribe", f"<mailto:unsub@{domain}>"),
                                 ("Precedence", "bulk")])

    def noreply(self) -> bytes:
        r = self.rng
        domain = r.choice(["monitoring.example", "erp.globex.example", "github.example", "backup.example"])
        local = r.choice(["no-reply", "noreply", "do-not-reply", "donotreply"])
        text = f"Job {r.randint(10000, 99999)} finished with status {r.choice(['FAILED', 'WARNING', 'OK'])}.\n\n" + \
            "\n".join(self.text.log_line() for _ in range(r.randint(2, 5) if self.plain else r.randint(2, 20)))
        return self.build(sender=("Monitoring", f"{local}@{domain}"), subject=f"[ALERT] {self.text.host()} "
                          f"{r.choice(['disk usage', 'backup', 'certificate expiry', 'CPU'])}",
                          text=text, message_id=self.message_id(domain))

    def bounce(self) -> bytes:
        r = self.rng
        t = self.pick_thread()
        mta = f"mx{r.randint(1, 5)}.{t['customer'].rsplit('@', 1)[1]}"
        # The message that bounced: one the desk stored (attaches to its ticket) or one it never saw.
        original = t["ids"][-1] if t["ids"] and r.random() < 0.5 else \
            f"<hd.{r.randint(1, 99999)}.{r.getrandbits(24):06x}.{r.getrandbits(48):012x}@desk.example>"
        boundary = f"{r.getrandbits(64):016X}.{self.seq}/{mta}"
        rcpt = t["customer"]
        when = self.tick()
        headers_part = (f"Return-Path: <{DESK_ADDRESS}>\r\nFrom: Acme IT <{DESK_ADDRESS}>\r\nTo: {rcpt}\r\n"
                        f"Subject: [#{t['ticket']}] {t['subject']}\r\nDate: {format_datetime(when)}\r\n"
                        f"Message-ID: {original}\r\nAuto-Submitted: auto-replied\r\n")
        if r.random() < 0.5:
            third = f"Content-Type: text/rfc822-headers\r\n\r\n{headers_part}"
        else:
            third = (f"Content-Type: message/rfc822\r\n\r\n{headers_part}Content-Type: text/plain; charset=utf-8"
                     f"\r\n\r\nHello,\r\n\r\nwe received your request.\r\n")
        parts = [
            "Content-Type: text/plain; charset=us-ascii\r\nContent-Description: Notification\r\n\r\n"
            f"This is the mail system at host {mta}.\r\n\r\nI'm sorry to have to inform you that your message could "
            f"not\r\nbe delivered to one or more recipients.\r\n\r\n<{rcpt}>: host {mta} said: 550 5.1.1 <{rcpt}>: "
            "Recipient address rejected: User unknown in virtual mailbox table\r\n",
            "Content-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n"
            f"Reporting-MTA: dns; {mta}\r\nArrival-Date: {format_datetime(when)}\r\n\r\n"
            f"Final-Recipient: rfc822; {rcpt}\r\nOriginal-Recipient: rfc822;{rcpt}\r\nAction: failed\r\n"
            f"Status: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 <{rcpt}>: Recipient address rejected\r\n",
            third,
        ]
        head = (f"Received: by mail.desk.example (Postfix) id {r.getrandbits(40):010X}; {format_datetime(when)}\r\n"
                f"Return-Path: <>\r\nFrom: MAILER-DAEMON@{mta} (Mail Delivery System)\r\nTo: {DESK_ADDRESS}\r\n"
                f"Subject: {r.choice(['Undelivered Mail Returned to Sender', 'Delivery Status Notification (Failure)', 'Mail delivery failed: returning message to sender'])}\r\n"
                f"Date: {format_datetime(when)}\r\nMessage-ID: {self.message_id(mta)}\r\nAuto-Submitted: auto-replied\r\n"
                f"MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status;\r\n"
                f"\tboundary=\"{boundary}\"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n")
        return (head + "".join(f"--{boundary}\r\n{p}\r\n" for p in parts) + f"--{boundary}--\r\n").encode()

    def duplicate(self) -> bytes:
        r = self.rng
        raw = r.choice(self.dupable[-300:])
        # Delivered twice by two routes: one more Received line, same Message-ID (a mail without one is
        # then new bytes the desk cannot know again, a new ticket: sent as the same bytes instead).
        if r.random() < 0.4 and b"\nMessage-ID:" in raw.split(b"\r\n\r\n", 1)[0]:
            hop = f"Received: from relay{r.randint(1, 9)}.example by mail.desk.example; {format_datetime(self.tick())}\r\n"
            raw = hop.encode() + raw
        return raw

    def garbage(self) -> bytes:
        r = self.rng
        roll = r.random()
        if roll < 0.4:  # random bytes (no NUL, CRLF lines)
            data = bytes(b for b in r.randbytes(r.randint(200, 6000)) if b not in (0, 10, 13))
            return b"\r\n".join(data[i:i + 76] for i in range(0, len(data), 76)) + b"\r\n"
        if roll < 0.7:  # a log pasted into the mailbox, no headers at all
            return ("\r\n".join(self.text.log_line() for _ in range(r.randint(5, 60))) + "\r\n").encode()
        # headers, but no sender at all
        return (f"Subject: {self.text.host()} report\r\nDate: {format_datetime(self.tick())}\r\n"
                f"Message-ID: {self.message_id('scanner.example')}\r\nContent-Type: text/plain\r\n\r\n"
                + self.text.log_line() + "\r\n").encode()

    def generate(self, n: int) -> list[tuple[str, bytes]]:
        # email.generator draws MIME boundaries from the global `random`: seed it too, so that one seed
        # always gives the same bytes.
        random.seed(self.rng.getrandbits(64))
        kinds = list(KINDS)
        weights = [KINDS[k][0] for k in kinds]
        out = []
        for i in range(n):
            kind = "new" if len(self.threads) < 5 or not self.dupable else self.rng.choices(kinds, weights)[0]
            if kind == "new":
                raw = self.new(i)
            elif kind == "reply":
                raw = self.reply()
            elif kind in ("tag_reply", "tag_stranger"):
                raw = self.tag_reply(stranger=kind == "tag_stranger")
            else:
                raw = getattr(self, kind)()
            out.append((kind, raw))
        return out


# What --profile times with thin wrappers: (module, function, label); indented labels run inside the one above.
PHASES = [
    ("fetch", "connect", "IMAP connect + login"),
    ("IMAPClient", "fetch", "IMAP FETCH BODY.PEEK[] (batches of 200)"),
    ("intake", "parse", "parse (helpdesk.mail.parse.parse)"),
    ("intake", "apply", "apply: database work, one transaction each"),
    ("intake", "_is_duplicate", "  duplicate checks"),
    ("intake", "thread", "  threading"),
    ("intake", "_new_ticket", "  new ticket"),
    ("tickets", "intake_many", "    tickets.intake_many"),
    ("outbox", "queue_acknowledgement", "    acknowledgement (outbox)"),
    ("intake", "_store_attachments", "    attachments (files + rows)"),
    ("intake", "_add_reply", "  reply"),
    ("tickets", "write", "    tickets.write (touch ticket)"),
    ("search", "reindex_tickets", "    search.reindex_tickets"),
    ("lifecycle", "customer_answered", "    lifecycle.customer_answered"),
    ("intake", "_bounce", "  bounce"),
    ("audit", "record", "  audit.record (all callers)"),
    ("intake", "_record", "  mail_message record"),
    ("intake", "quarantine", "quarantine"),
    ("fetch", "_dispose", "dispose (STORE +FLAGS \\Seen)"),
]
TOP_PHASES = ("IMAP connect + login", "IMAP FETCH BODY.PEEK[] (batches of 200)", "parse (helpdesk.mail.parse.parse)",
              "apply: database work, one transaction each", "quarantine", "dispose (STORE +FLAGS \\Seen)")


# ====================================================================== the benchmark


class MailBench:
    def __init__(self, args: argparse.Namespace, mix: str = "mixed"):
        self.args = args
        self.mix = mix
        self.n = args.messages
        self.backend = args.backend
        self.home = Path(tempfile.mkdtemp(prefix="helpdesk-mail-bench-"))
        self.dovecot_root = Path("/tmp") / f"helpdesk-bench-dovecot-{os.getpid()}"
        self.dovecot = None
        self.schemas: list[str] = []
        self.cmd = helpdesk_cmd()
        self.results: dict = {"backend": self.backend, "messages": self.n, "mix": mix, "seed": args.seed,
                              "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
                              "machine": f"{platform.machine()} {os.cpu_count()} cpu",
                              "started": time.strftime("%Y-%m-%d %H:%M:%S"), "code": code_state(),
                              "load_before": [round(x, 2) for x in os.getloadavg()]}

    # ---------------------------------------------------------------- environment

    def desk_env(self, home: Path) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("HELPDESK_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        env.update({"HELPDESK_HOME": str(home), "HELPDESK_AGENT": "bench", "NO_COLOR": "1",
                    "PYTHONPYCACHEPREFIX": str(self.home / "pycache")})
        if self.backend == "postgres":
            schema = "bench_mail_" + uuid.uuid4().hex[:10]
            self.schemas.append(schema)
            base = self.args.pg_url
            env["HELPDESK_DATABASE_URL"] = base + ("&" if "?" in base else "?") + f"schema={schema}"
        else:
            env["HELPDESK_DATABASE_URL"] = f"sqlite:///{home / 'helpdesk.db'}"
        return env

    def new_desk(self, name: str) -> dict:
        """A fresh desk: config/helpdesk.toml + the Dovecot mailbox (no [smtp]), `helpdesk init`."""
        home = self.home / name
        home.mkdir()
        config = (ROOT / "config" / "helpdesk.toml").read_text() + "\n" + self.dovecot.config_toml(address=DESK_ADDRESS)
        (home / "config.toml").write_text(config)
        env = self.desk_env(home)
        self.cli(env, "init")
        return env

    def cli(self, env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.cmd + list(args), capture_output=True, text=True, env=env)
        if check and proc.returncode != 0:
            raise RuntimeError(f"helpdesk {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return proc

    def raw_db(self, env: dict):
        url = env["HELPDESK_DATABASE_URL"]
        if url.startswith("sqlite:"):
            conn = sqlite3.connect(url[len("sqlite:///"):], timeout=30, isolation_level=None)
            return conn
        import psycopg2

        from helpdesk.store.db import parse_url

        parsed = parse_url(url)
        params = dict(parsed.params)
        conn = psycopg2.connect(dbname=params.pop("database"), options=f"-c search_path={parsed.schema}", **params)
        conn.autocommit = True
        return conn

    def counts(self, env: dict) -> dict:
        conn = self.raw_db(env)
        cur = conn.cursor()
        out = {}
        for table in ("ticket", "conversation_entry", "mail_message", "quarantined_mail", "outbox", "attachment",
                      "audit_event", "customer", "undeliverable_address", "ticket_contact"):
            cur.execute(f"SELECT COUNT(*) FROM {table}")
            out[table] = cur.fetchone()[0]
        cur.execute("SELECT kind, COUNT(*) FROM conversation_entry GROUP BY kind")
        out["entries_by_kind"] = dict(cur.fetchall())
        conn.close()
        return out

    def drop_schemas(self) -> None:
        if not self.schemas:
            return
        import psycopg2

        from helpdesk.store.db import parse_url

        params = dict(parse_url(self.args.pg_url).params)
        conn = psycopg2.connect(dbname=params.pop("database"), **params)
        conn.autocommit = True
        with conn.cursor() as cur:
            for schema in self.schemas:
                cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()

    # ---------------------------------------------------------------- steps

    def start_server(self) -> None:
        if self.dovecot_root.exists():
            shutil.rmtree(self.dovecot_root)
        t0 = time.perf_counter()
        self.dovecot = start_dovecot(self.dovecot_root)
        log(f"dovecot on 127.0.0.1:{self.dovecot.port} ({self.dovecot_root}), started in {time.perf_counter() - t0:.1f}s")

    def generate_and_append(self) -> None:
        t0 = time.perf_counter()
        messages = MailGen(random.Random(self.args.seed), self.mix).generate(self.n)
        gen_s = time.perf_counter() - t0
        mix: dict[str, int] = {}
        expected: dict[str, int] = {k: 0 for k in OUTCOMES}
        for kind, _ in messages:
            mix[kind] = mix.get(kind, 0) + 1
            expected[KINDS[kind][1]] += 1
        sizes = sorted(len(raw) for _, raw in messages)
        total = sum(sizes)
        log(f"generated {self.n:,} messages (mix {self.mix}) in {gen_s:.1f}s: {human_bytes(total)}, median {human_bytes(sizes[len(sizes) // 2])}, "
            f"max {human_bytes(sizes[-1])}; mix " + ", ".join(f"{k} {v}" for k, v in mix.items()))
        client = self.dovecot.client()
        try:
            multi = b"MULTIAPPEND" in client.capabilities()
            t0 = time.perf_counter()
            if multi:
                for start in range(0, len(messages), APPEND_BATCH):
                    client.multiappend("INBOX", [raw for _, raw in messages[start:start + APPEND_BATCH]])
            else:
                for _, raw in messages:
                    client.append("INBOX", raw)
            append_s = time.perf_counter() - t0
            info = client.select_folder("INBOX", readonly=True)
            stored = int(info[b"EXISTS"])
        finally:
            client.logout()
        if stored != self.n:
            raise RuntimeError(f"appended {self.n} messages, the server holds {stored}")
        log(f"appended with {'MULTIAPPEND' if multi else 'APPEND'} ({APPEND_BATCH}/command) in {append_s:.1f}s: "
            f"{self.n / append_s:,.0f} msg/s")
        self.results["corpus"] = {"bytes": total, "median_bytes": sizes[len(sizes) // 2], "max_bytes": sizes[-1],
                                  "mix": mix, "expected_outcomes": expected, "generate_s": round(gen_s, 2),
                                  "append_s": round(append_s, 2), "multiappend": multi}

    def imap_loop(self, parse: bool) -> dict:
        """Fetch every message (UID FETCH BODY.PEEK[], batches of 200); with `parse`, parse each and extract
        its body with the stdlib email package: the work no intake can avoid."""
        client = self.dovecot.client()
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            client.select_folder("INBOX", readonly=True)
            uids = sorted(client.search(["ALL"]))
            count, nbytes, chars, errors = 0, 0, 0, 0
            for start in range(0, len(uids), FETCH_BATCH):
                batch = uids[start:start + FETCH_BATCH]
                data = client.fetch(batch, [b"BODY.PEEK[]"])
                for uid in batch:
                    raw = data[uid][b"BODY[]"]
                    count += 1
                    nbytes += len(raw)
                    if parse:
                        msg = email.message_from_bytes(raw, policy=email.policy.default)
                        try:
                            body = msg.get_body(preferencelist=("plain", "html"))
                            chars += len(body.get_content()) if body is not None else 0
                        except Exception:  # an unknown charset, a broken part: the intake would quarantine it
                            errors += 1
            seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        finally:
            client.logout()
        return {"messages": count, "bytes": nbytes, "seconds": seconds, "per_second": count / seconds, "cpu_seconds": cpu,
                "body_chars": chars, "errors": errors}

    def baselines(self) -> None:
        runs = self.args.baseline_runs
        self.imap_loop(False)  # warm the server's and the OS's caches once
        for name, parse in (("bare_fetch", False), ("fetch_parse", True)):
            results = [self.imap_loop(parse) for _ in range(runs)]
            rates = sorted(r["per_second"] for r in results)
            median = statistics.median(rates)
            cpu = statistics.median(r["cpu_seconds"] for r in results)
            res = {"runs": runs, "per_second": round(median, 1), "best_per_second": round(rates[-1], 1),
                   "cpu_seconds": round(cpu, 3), "per_cpu_second": round(self.n / cpu, 1),
                   "seconds": round(self.n / median, 3), "MB_per_second": round(results[0]["bytes"] / 1e6 / (self.n / median), 1),
                   "body_errors": results[0]["errors"]}
            self.results[name] = res
            log(f"{name.replace('_', ' + ' if parse else ' ')}: {median:,.0f} msg/s (median of {runs}; best {rates[-1]:,.0f}), "
                f"{res['MB_per_second']} MB/s" + (f", {res['body_errors']} bodies unreadable" if parse else ""))

    def ours(self) -> None:
        env = self.new_desk("desk")
        self.env = env
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = self.cli(env, "mail", "fetch", "--json")
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        report = json.loads(proc.stdout)[0]
        self.results["ours"] = {"seconds": round(wall, 2), "per_second": round(self.n / wall, 1),
                                "cpu_seconds": round(cpu, 2), "fetched": report["fetched"], "report": report}
        log(f"helpdesk mail fetch: {report['fetched']:,} fetched in {wall:.2f}s: {self.n / wall:,.0f} msg/s "
            f"(CLI CPU {cpu:.1f}s); outcomes {report['outcomes']}")

        # Every message accounted for.
        status = json.loads(self.cli(env, "mail", "status", "--json").stdout)[0]
        outcomes = status["outcomes"]
        counted = sum(outcomes.values())
        counts = self.counts(env)
        client = self.dovecot.client()
        try:
            client.select_folder("INBOX", readonly=True)
            unseen = len(client.search(["UNSEEN"]))
        finally:
            client.logout()
        expected = self.results["corpus"]["expected_outcomes"]
        checks = {
            "accounted": counted == self.n,
            "fetched == appended": report["fetched"] == self.n,
            "tickets == new_ticket outcomes": counts["ticket"] == outcomes["new_ticket"],
            "inbound entries == replies": counts["entries_by_kind"].get("inbound", 0) == outcomes["reply"],
            "quarantine rows == quarantined": counts["quarantined_mail"] == outcomes["quarantined"],
            "nothing left unseen on the server": unseen == 0,
        }
        self.results["accounting"] = {"outcomes": outcomes, "sum": counted, "appended": self.n,
                                      "last_uid": status["last_uid"], "expected_outcomes": expected,
                                      "matches_generator": outcomes == expected, "unseen_after": unseen,
                                      "counts": counts, "checks": checks}
        log(f"mail status: {counted:,} accounted for of {self.n:,} appended: " + ", ".join(f"{k} {v}" for k, v in outcomes.items()))
        if outcomes != expected:
            log("  generator expected: " + ", ".join(f"{k} {v}" for k, v in expected.items()))

        # A second fetch creates nothing.
        t0 = time.perf_counter()
        proc = self.cli(env, "mail", "fetch", "--json")
        wall2 = time.perf_counter() - t0
        second = json.loads(proc.stdout)[0]
        counts2 = self.counts(env)
        same = {k: v for k, v in counts.items() if counts2.get(k) != v}
        self.results["second_fetch"] = {"seconds": round(wall2, 2), "fetched": second["fetched"],
                                        "outcomes": second["outcomes"], "changed": same,
                                        "creates_nothing": second["fetched"] == 0 and not same}
        log(f"second fetch: {second['fetched']} fetched in {wall2:.2f}s, "
            + ("nothing created" if not same else f"CHANGED {same}"))
        net = wall - wall2
        self.results["ours"]["net_seconds"] = round(net, 2)
        self.results["ours"]["net_per_second"] = round(self.n / net, 1) if net > 0 else None

    def open_desk_in_process(self, name: str):
        env = self.new_desk(name)
        for key in [k for k in os.environ if k.startswith("HELPDESK_")]:
            del os.environ[key]
        os.environ.update({k: v for k, v in env.items() if k.startswith("HELPDESK_") or k == "NO_COLOR"})
        from helpdesk.domain.desk import open_desk

        return open_desk()

    def phases(self) -> None:
        """fetch_mailbox in-process on a fresh desk, its phases timed by thin wrappers (no profiler:
        shares that cProfile's per-call overhead does not distort)."""
        from imapclient import IMAPClient

        from helpdesk.domain import audit, lifecycle, outbox, tickets
        from helpdesk.mail import fetch as fetch_mod
        from helpdesk.mail import intake
        from helpdesk.store import search

        desk = self.open_desk_in_process("phases")
        totals: dict[str, list] = {}
        patches = []

        def wrap(owner, name: str, label: str) -> None:
            orig = getattr(owner, name)

            def timed(*a, **k):
                t0 = time.perf_counter()
                try:
                    return orig(*a, **k)
                finally:
                    slot = totals.setdefault(label, [0.0, 0])
                    slot[0] += time.perf_counter() - t0
                    slot[1] += 1

            setattr(owner, name, timed)
            patches.append((owner, name, orig, name in vars(owner)))

        for owner, name, label in PHASES:
            owner = {"IMAPClient": IMAPClient, "fetch": fetch_mod, "intake": intake, "tickets": tickets,
                     "outbox": outbox, "audit": audit, "search": search, "lifecycle": lifecycle}[owner]
            wrap(owner, name, label)
        wrap(desk.db, "commit", "commit")
        try:
            t0 = time.perf_counter()
            report = fetch_mod.fetch_mailbox(desk, desk.config.mailboxes[0])
            wall = time.perf_counter() - t0
        finally:
            for owner, name, orig, own in reversed(patches):
                if own or owner is desk.db:
                    setattr(owner, name, orig)
                else:
                    delattr(owner, name)
            desk.close()
        top = sum(totals.get(label, [0.0])[0] for label in TOP_PHASES)
        rows = [{"what": label, "seconds": round(totals[label][0], 3), "share": round(totals[label][0] / wall, 3),
                 "calls": totals[label][1]} for _, _, label in PHASES + [(None, None, "commit")] if label in totals]
        rows.append({"what": "rest (connect, SELECT, record look-up, loop)", "seconds": round(wall - top, 3),
                     "share": round((wall - top) / wall, 3), "calls": 0})
        self.results["phases"] = {"wall_seconds": round(wall, 2), "per_second": round(self.n / wall, 1),
                                  "fetched": report.fetched, "rows": rows}
        log(f"phases: fetch_mailbox in-process {report.fetched:,} in {wall:.1f}s: {self.n / wall:,.0f} msg/s")

    def profile(self) -> None:
        """cProfile of helpdesk.mail.fetch.fetch_mailbox on another fresh desk, in-process."""
        import cProfile
        import io
        import pstats

        from helpdesk.mail.fetch import fetch_mailbox

        desk = self.open_desk_in_process("profiled")
        try:
            mailbox = desk.config.mailboxes[0]
            prof = cProfile.Profile()
            t0 = time.perf_counter()
            prof.enable()
            report = fetch_mailbox(desk, mailbox)
            prof.disable()
            wall = time.perf_counter() - t0
        finally:
            desk.close()
        stats = pstats.Stats(prof)
        total = stats.total_tt
        wanted = {  # (file suffix, function) -> label
            ("imapclient/imapclient.py", "fetch"): "IMAP fetch (imapclient)",
            ("helpdesk/mail/parse.py", "parse"): "parse (helpdesk.mail.parse.parse)",
            ("email/parser.py", "parsebytes"): "  of which stdlib MIME parse",
            ("helpdesk/mail/quotes.py", "html_text_and_reply"): "  of which HTML to text and its reply (quotes.py)",
            ("helpdesk/mail/quotes.py", "visible_text"): "  of which quote stripping (quotes.visible_text)",
            ("helpdesk/mail/parse.py", "_bounce_details"): "  of which _bounce_details",
            ("helpdesk/mail/intake.py", "apply"): "apply (database work)",
            ("helpdesk/mail/intake.py", "_is_duplicate"): "  of which duplicate checks",
            ("helpdesk/mail/intake.py", "thread"): "  of which threading",
            ("helpdesk/mail/intake.py", "_new_ticket"): "  of which new ticket",
            ("helpdesk/domain/tickets.py", "intake_many"): "    of which tickets.intake_many",
            ("helpdesk/domain/outbox.py", "queue_acknowledgement"): "    of which the acknowledgement (outbox)",
            ("helpdesk/mail/intake.py", "_store_attachments"): "    of which attachments",
            ("helpdesk/mail/intake.py", "_add_reply"): "  of which reply",
            ("helpdesk/mail/intake.py", "_bounce"): "  of which bounce",
            ("helpdesk/mail/intake.py", "_record"): "  of which the mail_message record",
            ("helpdesk/mail/intake.py", "quarantine"): "quarantine",
            ("peewee.py", "commit"): "commits (all)",
            ("peewee.py", "execute_sql"): "SQL statements (all)",
            ("helpdesk/mail/fetch.py", "_dispose"): "dispose (flag \\Seen)",
        }
        breakdown = []
        for (path, func), label in wanted.items():
            hits = [(k, v) for k, v in stats.stats.items() if k[0].endswith(path) and k[2] == func]
            cum = sum(v[3] for _, v in hits)
            calls = sum(v[1] for _, v in hits)
            if hits:
                breakdown.append({"what": label, "seconds": round(cum, 3), "share": round(cum / total, 3), "calls": calls})
        # MailMessage.get per message after process() (fetch.py)
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
        top_tottime = out.getvalue()
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(45)
        top_cum = out.getvalue()
        self.args.out.mkdir(parents=True, exist_ok=True)
        prof_path = self.args.out / f"{time.strftime('%Y%m%d-%H%M%S')}-mail-{self.mix}-{self.backend}-{self.n}.prof"
        prof.dump_stats(str(prof_path))
        self.results["profile"] = {"wall_seconds": round(wall, 2), "profiled_seconds": round(total, 2),
                                   "per_second_profiled": round(self.n / wall, 1), "fetched": report.fetched,
                                   "breakdown": breakdown, "prof_file": str(prof_path),
                                   "top_tottime": top_tottime, "top_cumulative": top_cum}
        log(f"profiled fetch_mailbox: {report.fetched:,} in {wall:.1f}s under cProfile; {prof_path}")

    def run(self) -> dict:
        try:
            self.start_server()
            self.generate_and_append()
            self.baselines()
            self.ours()
            if self.args.profile:
                self.phases()
                self.profile()
            self.results["load_after"] = [round(x, 2) for x in os.getloadavg()]
            return self.results
        finally:
            if self.dovecot is not None:
                self.dovecot.stop()
            shutil.rmtree(self.dovecot_root, ignore_errors=True)
            try:
                from helpdesk.store.db import database

                if database.obj is not None and not database.obj.is_closed():
                    database.obj.close()
            except Exception:
                pass
            if self.args.keep:
                log(f"kept: {self.home}" + (f" (schemas {', '.join(self.schemas)})" if self.schemas else ""))
            else:
                self.drop_schemas()
                shutil.rmtree(self.home, ignore_errors=True)


# ====================================================================== report


def report(res: dict) -> str:
    lines = []
    title = f"helpdesk mail benchmark: {res['messages']:,} messages, mix {res['mix']} ({MIXES[res['mix']]}), {res['backend']} desk"
    lines += [title, "=" * len(title),
              f"python {res['python']}, sqlite {res['sqlite']}, {res['machine']}, started {res['started']}",
              f"code: commit {res['code']['commit']}" + (f" + uncommitted helpdesk/ changes (diff {res['code']['diff_sha1']})"
                                                         if res['code']['helpdesk_dirty'] else "")
              + f"; load average before/after {res['load_before'][0]} / {res.get('load_after', ['?'])[0]}"]
    c = res["corpus"]
    lines.append(f"corpus: {human_bytes(c['bytes'])} (median {human_bytes(c['median_bytes'])}, max "
                 f"{human_bytes(c['max_bytes'])}); " + ", ".join(f"{k} {v}" for k, v in c["mix"].items()))
    lines.append("")
    bare, fp, ours = res["bare_fetch"], res["fetch_parse"], res["ours"]
    ratio = ours["per_second"] / fp["per_second"]
    res["ratio"] = round(ratio, 3)
    rows = [
        ("bare fetch (imapclient, BODY.PEEK[], 200/batch)", f"{bare['per_second']:,.0f} msg/s", "", ""),
        ("fetch + parse (email, policy.default, get_body)", f"{fp['per_second']:,.0f} msg/s", "", ""),
        ("helpdesk mail fetch (CLI subprocess, whole run)", f"{ours['per_second']:,.0f} msg/s", "", ""),
        ("  wall / CLI CPU time", f"{ours['seconds']:.2f} s / {ours['cpu_seconds']:.2f} s", "", ""),
    ]
    if ours.get("net_per_second"):
        rows.append(("  minus a no-op fetch's time (start-up etc.)", f"{ours['net_per_second']:,.0f} msg/s", "", ""))
    rows.append(("ours / (fetch + parse)", f"{ratio:.0%}", f">= {TARGET_RATIO:.0%}",
                 "ok" if ratio >= TARGET_RATIO else "MISSED"))
    if fp.get("per_cpu_second") and ours.get("cpu_seconds"):
        cpu_ratio = (fp["cpu_seconds"] / ours["cpu_seconds"])  # same message count: a ratio of CPU rates
        res["cpu_ratio"] = round(cpu_ratio, 3)
        rows.append(("  by CPU time (client side; less load-sensitive)",
                     f"{cpu_ratio:.0%} ({res['messages'] / ours['cpu_seconds']:,.0f} vs {fp['per_cpu_second']:,.0f} msg/CPU-s)", "", ""))
    acc = res["accounting"]
    o = acc["outcomes"]
    rows.append(("every message accounted for", f"{acc['sum']:,} of {acc['appended']:,}", "all",
                 "ok" if all(acc["checks"].values()) else "FAILED"))
    second = res["second_fetch"]
    rows.append(("second `mail fetch` creates nothing", f"{second['fetched']} fetched, "
                 + ("no change" if not second["changed"] else f"changed {second['changed']}"), "nothing",
                 "ok" if second["creates_nothing"] else "FAILED"))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("measure", "measured", "target", "")
    w = [max(w[i], len(head[i])) for i in range(4)]
    lines.append("  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
    lines.append("  ".join("-" * w[i] for i in range(4)))
    for r in rows:
        lines.append("  ".join(r[i].ljust(w[i]) for i in range(4)).rstrip())
    lines.append("")
    lines.append(f"accounting (mail status --json): {o['new_ticket']} new tickets + {o['reply']} replies + "
                 f"{o['automated']} automated ignored + {o['bounce']} bounces + {o['duplicate']} duplicates + "
                 f"{o['quarantined']} quarantined = {acc['sum']} (appended {acc['appended']}, last UID {acc['last_uid']})")
    e = acc["expected_outcomes"]
    lines.append("generator expected: " + ", ".join(f"{k} {e[k]}" for k in OUTCOMES)
                 + ("  (same)" if acc["matches_generator"] else "  (DIFFERENT: see outcomes above)"))
    for name, ok in acc["checks"].items():
        lines.append(f"  check {name}: {'ok' if ok else 'FAILED'}")
    cnt = acc["counts"]
    lines.append("desk after the fetch: " + ", ".join(f"{k} {v}" for k, v in cnt.items() if k != "entries_by_kind"))
    ph = res.get("phases")
    if ph:
        lines.append("")
        lines.append(f"phases: fetch_mailbox in-process (no profiler), {ph['fetched']:,} messages in {ph['wall_seconds']} s "
                     f"= {ph['per_second']:,.0f} msg/s")
        for b in ph["rows"]:
            lines.append(f"  {b['what']:48} {b['seconds']:8.2f} s  {b['share']:6.1%}  {b['calls']:>7,} calls")
    prof = res.get("profile")
    if prof:
        lines.append("")
        lines.append(f"profile: fetch_mailbox in-process under cProfile, {prof['fetched']:,} messages in "
                     f"{prof['wall_seconds']} s (profiled time {prof['profiled_seconds']} s; cProfile adds overhead)")
        for b in prof["breakdown"]:
            lines.append(f"  {b['what']:48} {b['seconds']:8.2f} s  {b['share']:6.1%}  {b['calls']:>7,} calls")
        lines.append("")
        lines.append("top functions by own time:")
        lines += ["  " + line for line in prof["top_tottime"].splitlines() if line.strip()][:40]
    return "\n".join(lines)


def summary(results: list[dict]) -> str:
    """The mixes side by side (--mix both)."""
    lines = [f"mail intake by mix: {results[0]['messages']:,} messages, {results[0]['backend']} desk", ""]
    head = ("mix", "corpus", "fetch + parse", "mail fetch", "ours / (f + p)", "by CPU time", "checks")
    rows = []
    for res in results:
        ok = all(res["accounting"]["checks"].values()) and res["second_fetch"]["creates_nothing"]
        c = res["corpus"]
        rows.append((res["mix"], f"{human_bytes(c['bytes'])}, median {human_bytes(c['median_bytes'])}",
                     f"{res['fetch_parse']['per_second']:,.0f} msg/s", f"{res['ours']['per_second']:,.0f} msg/s",
                     f"{res['ratio']:.0%}", f"{res['cpu_ratio']:.0%}" if "cpu_ratio" in res else "-",
                     "ok" if ok else "FAILED"))
    w = [max(len(x[i]) for x in rows + [head]) for i in range(len(head))]
    lines.append("  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
    lines.append("  ".join("-" * x for x in w))
    lines += ["  ".join(x[i].ljust(w[i]) for i in range(len(head))).rstrip() for x in rows]
    lines.append(f"(target: ours >= {TARGET_RATIO:.0%} of fetch + parse)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=2000, help="messages to append (default 2000)")
    ap.add_argument("--mix", choices=[*MIXES, "both"], default="mixed",
                    help="the corpus: " + "; ".join(f"{k}: {v}" for k, v in MIXES.items())
                    + "; both: one run of each, then the two side by side (default mixed)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("HELPDESK_TEST_PG_URL", DEFAULT_PG_URL),
                    help=f"PostgreSQL server/database (schemas bench_mail_xxx are made and dropped; default {DEFAULT_PG_URL})")
    ap.add_argument("--baseline-runs", type=int, default=3, help="runs of each baseline loop; the median counts (default 3)")
    ap.add_argument("--profile", action="store_true",
                    help="also profile helpdesk.mail.fetch.fetch_mailbox in-process (cProfile) on another fresh desk")
    ap.add_argument("--seed", type=int, default=20260302)
    ap.add_argument("--keep", action="store_true", help="keep the temp homes (and PostgreSQL schemas)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="where the results go (default bench/out/)")
    args = ap.parse_args(argv)
    if args.messages < 50:
        ap.error("--messages must be at least 50")
    ok = True
    results = []
    for mix in (list(MIXES) if args.mix == "both" else [args.mix]):
        res = MailBench(args, mix).run()
        text = report(res)
        print(text)
        args.out.mkdir(parents=True, exist_ok=True)
        stem = f"{time.strftime('%Y%m%d-%H%M%S')}-mail-{mix}-{args.backend}-{args.messages}"
        slim = {k: v for k, v in res.items() if k != "profile"}
        if "profile" in res:
            slim["profile"] = {k: v for k, v in res["profile"].items() if not k.startswith("top_")}
        (args.out / f"{stem}.json").write_text(json.dumps(slim, indent=2, default=str))
        (args.out / f"{stem}.txt").write_text(text + "\n")
        log(f"results: {args.out / stem}.json / .txt")
        ok = ok and all(res["accounting"]["checks"].values()) and res["second_fetch"]["creates_nothing"]
        results.append(res)
    if len(results) > 1:
        print()
        print(summary(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
