"""Turn raw RFC 5322 bytes into what the desk needs: who, what, which thread, which attachments.

The stdlib `email` package with the modern policy does the MIME work; this module adds what real mail
needs on top: charsets declared wrongly (or not at all), HTML-only mail made readable, quoted history
and signatures cut from replies (the full text is kept too), safe attachment names, and the signs of
automated mail and bounces.
"""

from __future__ import annotations

import email
import email.headerregistry
import email.policy
import functools
import hashlib
import re
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr

from helpdesk.domain.attachments import safe_filename
from helpdesk.mail import quotes

MESSAGE_ID_RE = re.compile(r"<[^<>\s]+>")
MAX_MESSAGE_ID = 500


class _CachedHeaderFactory:
    """The modern policy's header registry, parsing each distinct (name, value) once.

    The modern policy parses a header afresh on every access, and a part's Content-Type is read a dozen
    times (type, charset, filename, boundary, ...): that was most of the parsing time. Header objects are
    immutable, so one parse can serve every access, in this message and the next."""

    def __init__(self, registry):
        self.registry = registry
        self._parse = functools.lru_cache(maxsize=4096)(self._parse_header)
        self._unstructured = email.headerregistry.HeaderRegistry(use_default_map=False)

    def __call__(self, name: str, value: str):
        return self._parse(name, value)

    def _parse_header(self, name: str, value: str):
        try:
            return self.registry(name, value)
        except Exception:
            # The stdlib's structured parsers raise on some malformed values (`From: "` is an
            # IndexError, `From: <` too): such a header is read as plain text, like any unknown one,
            # and the caller's own lenient parsing (parseaddr, the Message-ID pattern) takes it from there.
            try:
                return self._unstructured(name, value)
            except Exception:
                return self._unstructured(name, value.encode("ascii", "replace").decode("ascii"))

    def __getitem__(self, name: str):  # the policy asks the registry for a header's class (max_count)
        return self.registry[name]


POLICY = email.policy.default.clone(header_factory=_CachedHeaderFactory(email.policy.default.header_factory))


class ParseError(Exception):
    """The bytes are not a mail we can read; the message goes to quarantine, whole."""


@dataclass
class MailAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str | None = None


@dataclass
class ParsedMail:
    message_id: str | None  # normalised: lower-case inside <>, or None
    sha256: str
    subject: str
    from_addr: str  # lower-cased address
    from_name: str
    to: list[str]
    cc: list[str]
    reply_to: str | None
    in_reply_to: list[str]
    references: list[str]
    date: str | None
    text: str  # the whole body as text
    reply_text: str  # what the sender wrote: quoted history and signature hidden (quotes.py)
    attachments: list[MailAttachment] = field(default_factory=list)
    automated: str | None = None  # why we think no person wrote it (never auto-answer)
    bounce: bool = False
    bounced_message_ids: list[str] = field(default_factory=list)
    bounced_recipients: list[str] = field(default_factory=list)
    return_path: str | None = None

    @property
    def thread_ids(self) -> list[str]:
        """Message-IDs this mail answers, most specific first."""
        seen = []
        for mid in self.in_reply_to + list(reversed(self.references)):
            if mid not in seen:
                seen.append(mid)
        return seen


def normalise_message_id(value: str | None) -> str | None:
    if not value:
        return None
    match = MESSAGE_ID_RE.search(str(value))
    if match:
        found = match.group(0).lower()
    else:
        text = str(value).strip().strip("<>").strip()
        found = f"<{text.lower()}>" if text and " " not in text else None
    # Longer than the columns that store it (no real mailer makes one): as if absent, the hash dedups.
    return found if found is not None and len(found) <= MAX_MESSAGE_ID else None


def message_ids(value: str | None) -> list[str]:
    return [m.lower() for m in MESSAGE_ID_RE.findall(str(value or ""))]


# ---------------------------------------------------------------- text


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Bytes to text, surviving a wrong or missing charset declaration."""
    declared = (declared or "").strip().strip('"').lower() or None
    if declared in ("us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", None):
        # Mail declared as ASCII or Latin-1 is very often UTF-8 in truth: valid UTF-8 is never an accident.
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if declared in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
        # Windows-1252 is what mail declared as Latin-1 (or ASCII) really is (as browsers assume): its
        # punctuation (0x80-0x9f) would otherwise become invisible control characters.
        declared = "cp1252"
    if declared:
        try:
            return data.decode(declared)
        except (LookupError, ValueError):  # unknown, wrong, or not a name at all (a NUL inside)
            pass
    for fallback in ("utf-8", "cp1252"):
        try:
            return data.decode(fallback)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


# ---------------------------------------------------------------- automation and bounces

AUTOMATED_SENDERS = re.compile(r"^(mailer-daemon|postmaster|no-?reply|do-?not-?reply|bounces?)([+\-.@]|$)", re.I)


def automated_reason(msg: Message, from_addr: str, return_path: str | None) -> str | None:
    auto = str(msg.get("Auto-Submitted", "")).strip().lower()
    if auto and auto != "no":
        return f"Auto-Submitted: {auto}"
    precedence = str(msg.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"Precedence: {precedence}"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress", "X-Autoresponder"):
        if msg.get(header) is not None:
            return header
    if msg.get("List-Id") is not None or msg.get("List-Unsubscribe") is not None:
        return "mailing list"
    if return_path is not None and return_path.strip() in ("", "<>"):
        return "empty Return-Path"
    if from_addr and AUTOMATED_SENDERS.match(from_addr.split("@")[0] + "@"):
        return f"sender {from_addr}"
    if msg.get_content_type() == "multipart/report":
        return "delivery report"
    return None


def _bounce_details(msg: Message) -> tuple[bool, list[str], list[str]]:
    """(is a bounce, Message-IDs of the mail that bounced, recipients that failed)."""
    is_report = msg.get_content_type() == "multipart/report" and \
        str(msg.get_param("report-type", "")).lower() == "delivery-status"
    ids: list[str] = []
    recipients: list[str] = []
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            if part.is_multipart():  # a parsed message/rfc822: its headers
                inner = part.get_payload()
                if inner:
                    ids += message_ids(inner[0].get("Message-ID"))
            else:
                raw = (_payload_bytes(part) or b"").decode("utf-8", "replace")
                match = re.search(r"^Message-ID:\s*(<[^>]+>)", raw, re.I | re.M)
                if match:
                    ids.append(match.group(1).lower())
        elif ctype == "message/delivery-status":
            for block in part.get_payload() if part.is_multipart() else []:
                for key in ("Final-Recipient", "Original-Recipient"):
                    value = block.get(key)
                    if value and ";" in str(value):
                        addr = str(value).split(";", 1)[1].strip().lower()
                        if addr and addr not in recipients:
                            recipients.append(addr)
    sender = parseaddr(str(msg.get("From", "")))[1].lower()
    if not is_report and ids and AUTOMATED_SENDERS.match(sender.split("@")[0] + "@"):
        is_report = True  # an old-style bounce: a mailer-daemon returning the original message
    return is_report, ids, recipients


# ---------------------------------------------------------------- the whole message


def _payload_bytes(part: Message) -> bytes | None:
    """A leaf part's content, transfer-decoded; as it came when the stdlib cannot decode it (8-bit text
    under a charset name Python refuses raises ValueError there). None for a multipart."""
    if part.is_multipart():
        return None
    try:
        return part.get_payload(decode=True)
    except Exception:
        raw = part._payload  # the text the parser stored (get_payload() would decode it again)
        # The parser keeps undecodable bytes as surrogates: this gives the original bytes back.
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else None


def _part_text(part: Message) -> str:
    return decode_bytes(_payload_bytes(part) or b"", _charset(part))


def _charset(part: Message) -> str | None:
    try:
        return part.get_content_charset()
    except Exception:  # a charset parameter the stdlib cannot read: guessed from the bytes instead
        return None


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the modern policy cannot parse: take it raw
        value = None
        for key, raw in msg.raw_items() if hasattr(msg, "raw_items") else []:
            if key.lower() == name.lower():
                value = raw
                break
    return str(value) if value is not None else ""


_HEADER_END_RE = re.compile(rb"\r?\n\r?\n")
_FIELD_RE = re.compile(rb"[\x21-\x39\x3b-\x7e]+:|[ \t]|From ")  # a field, a folded line, an mbox "From "
_SPACED_NAME_RE = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]+:", re.M)


def repair_header_block(raw: bytes) -> bytes:
    """Two things the stdlib parser ends the header block at, so that From and Subject below them are
    lost: a field name followed by spaces before its colon (`Subject  : x`, RFC 5322's obsolete syntax,
    which readers must accept) and a stray line between fields (`quite Delivered-To: x`). The first
    is rewritten (`Subject: x`); the second is dropped when more fields follow it (else it is where the
    body starts, as the stdlib reads it). The message's hash is taken from the bytes as they came."""
    end = _HEADER_END_RE.search(raw)
    block, rest = (raw[:end.start()], raw[end.start():]) if end else (raw, b"")
    lines = block.splitlines(keepends=True)
    if all(_FIELD_RE.match(line) for line in lines):
        return raw
    lines = [_SPACED_NAME_RE.sub(rb"\1:", line, count=1) for line in lines]
    kept = []
    for i, line in enumerate(lines):
        if _FIELD_RE.match(line):
            kept.append(line)
        elif any(_FIELD_RE.match(later) and not later[:1] in b" \t" for later in lines[i + 1:]):
            continue  # a stray line among the fields
        else:
            kept.extend(lines[i:])  # the body starts here (no blank line before it)
            break
    return b"".join(kept) + rest


def parse(raw: bytes) -> ParsedMail:
    if not raw or not raw.strip():
        raise ParseError("empty message")
    sha = hashlib.sha256(raw).hexdigest()
    try:
        msg: EmailMessage = email.message_from_bytes(repair_header_block(raw), policy=POLICY)
    except Exception as exc:  # pragma: no cover - the parser is very lenient
        raise ParseError(f"unreadable MIME: {exc}") from None
    headers = {k.lower() for k in msg.keys()}
    if not headers & {"from", "subject", "message-id", "date", "to"}:
        raise ParseError("no mail headers (From, To, Subject, Date, Message-ID)")

    from_name, from_addr = parseaddr(_header(msg, "From"))
    from_addr = from_addr.strip().lower()
    return_path = None
    if "return-path" in headers:
        return_path = _header(msg, "Return-Path").strip()

    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[MailAttachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get_content_disposition() or "").lower()
        try:
            filename = part.get_filename()
        except Exception:
            filename = None
        if ctype in ("message/delivery-status", "text/rfc822-headers", "message/rfc822-headers"):
            continue
        if disposition != "attachment" and not filename and ctype == "text/plain":
            texts.append(_part_text(part))
        elif disposition != "attachment" and not filename and ctype == "text/html":
            htmls.append(_part_text(part))
        else:
            data = _payload_bytes(part)
            if data is None:
                continue
            cid = part.get("Content-ID")
            default = "inline" if ctype.startswith("image/") else "attachment"
            ext = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "application/pdf": ".pdf",
                   "text/plain": ".txt", "text/html": ".html"}.get(ctype, "")
            attachments.append(MailAttachment(
                filename=safe_filename(filename, default=default + ext), content_type=ctype, data=data,
                inline=disposition == "inline" or (disposition == "" and cid is not None),
                content_id=normalise_message_id(str(cid)) if cid else None))
    subject = " ".join(_header(msg, "Subject").split())
    text = "\n\n".join(t.strip() for t in texts if t.strip()).replace("\r\n", "\n").replace("\x00", "")
    if text:
        reply_text = quotes.visible_text(text, subject=subject)
    elif htmls:
        # HTML only (webmail): its quotes are found in its structure, before it is flattened to text.
        converted = [quotes.html_text_and_reply(h.replace("\x00", ""), subject) for h in htmls]
        text = "\n\n".join(whole for whole, _ in converted).replace("\r\n", "\n")
        reply_text = "\n\n".join(reply for _, reply in converted if reply)
    else:
        reply_text = ""

    is_bounce, bounced_ids, bounced_rcpts = _bounce_details(msg)
    return ParsedMail(
        message_id=normalise_message_id(_header(msg, "Message-ID")),
        sha256=sha,
        subject=subject,
        from_addr=from_addr,
        from_name=from_name,
        to=[a.lower() for _, a in getaddresses([_header(msg, "To")]) if a],
        cc=[a.lower() for _, a in getaddresses([_header(msg, "Cc")]) if a],
        reply_to=(parseaddr(_header(msg, "Reply-To"))[1].lower() or None),
        in_reply_to=message_ids(_header(msg, "In-Reply-To")),
        references=message_ids(_header(msg, "References")),
        date=_header(msg, "Date") or None,
        text=text,
        reply_text=reply_text,
        attachments=attachments,
        automated=automated_reason(msg, from_addr, return_path),
        bounce=is_bounce,
        bounced_message_ids=bounced_ids,
        bounced_recipients=bounced_rcpts,
        return_path=return_path,
    )
