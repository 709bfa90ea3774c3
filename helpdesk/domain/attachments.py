"""Attachments: metadata in the database, bytes in a content-addressed store under the data directory.

The same file attached twice (or to two tickets) is stored once, and listed once per ticket. Filenames
are made safe before they are kept (no directories, no control characters, no leading dots), and again
before one decides a path to write: a name that came from a mail or a restored backup never does.
Attachments are at most `limits.ATTACHMENT_MAX_BYTES` each.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from helpdesk.core import locations
from helpdesk.core.errors import InvalidInput, NotFound
from helpdesk.core.limits import ATTACHMENT_MAX_BYTES
from helpdesk.domain import audit
from helpdesk.store import queries
from helpdesk.store.models import Attachment

MAX_FILENAME = 200


@dataclass
class AttachmentView:
    id: int
    ticket: int
    filename: str
    content_type: str
    size: int
    sha256: str
    index: int = 0  # its place in the ticket's list (1, 2, ...): how `attachment save` names it

    def to_dict(self) -> dict:
        return asdict(self)


def safe_filename(name: str | None, default: str = "attachment") -> str:
    """A filename that cannot escape a folder or confuse a terminal."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").split("/")[-1]  # drop any path, Windows or POSIX
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")  # control/format characters
    name = re.sub(r"[<>:\"|?*]", "_", name).strip().lstrip(".").strip()
    if not name or name in (".", ".."):
        name = default
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        ext = ext[:16] if dot else ""
        name = (stem if dot else name)[: MAX_FILENAME - len(ext) - 1] + ("." + ext if ext else "")
    return name


def blob_path(sha256: str, root: Path | None = None) -> Path:
    root = root or locations.attachments_dir()
    return root / sha256[:2] / sha256[2:4] / sha256


def store_bytes(data: bytes, root: Path | None = None) -> str:
    """Write bytes to the content-addressed store (atomically); returns their SHA-256."""
    digest = hashlib.sha256(data).hexdigest()
    path = blob_path(digest, root)
    if not path.exists():
        locations.make_private_dirs(path.parent)  # 0700: customers' files
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
    return digest


def check_size(size: int, what: str) -> None:
    if size > ATTACHMENT_MAX_BYTES:
        raise InvalidInput(f"{what}: {size:,} bytes is over the attachment limit of {ATTACHMENT_MAX_BYTES:,} bytes")


def add(desk, number: int, filename: str, data: bytes, *, content_type: str = "application/octet-stream",
        entry: int | None = None) -> tuple[AttachmentView, bool]:
    """Attach bytes to a ticket; returns the attachment and whether it is new (the same file under the
    same name is attached once). The bytes are written before the row, so a row never names missing
    bytes."""
    name = safe_filename(filename)
    check_size(len(data), name)
    digest = store_bytes(data)
    with desk.db.atomic():
        queries.ticket_row(number)
        for existing in list_for(number):
            if existing.sha256 == digest and existing.filename == name:
                return existing, False
        row = Attachment.create(ticket=number, entry=entry, filename=name, content_type=content_type,
                                size=len(data), sha256=digest, created_at=desk.now())
        audit.record(desk, number, "attached", filename=name, size=len(data), sha256=digest)
    found = view(row)
    found.index = len(list_for(number))
    return found, True


def view(row: Attachment, index: int = 0) -> AttachmentView:
    return AttachmentView(id=row.id, ticket=row.ticket_id, filename=row.filename, content_type=row.content_type,
                          size=row.size, sha256=row.sha256, index=index)


def list_for(number: int) -> list[AttachmentView]:
    """A ticket's attachments, oldest first, each file once: the same bytes under the same name (a
    signature logo in every mail, a file attached twice) are one entry, the first."""
    out: list[AttachmentView] = []
    seen: set[tuple[str, str]] = set()
    for row in Attachment.select().where(Attachment.ticket == number).order_by(Attachment.id):
        if (row.sha256, row.filename) not in seen:
            seen.add((row.sha256, row.filename))
            out.append(view(row, len(out) + 1))
    return out


def find(number: int, name_or_index: str) -> AttachmentView:
    """One attachment of a ticket, by its exact filename or by its place in the list (1, 2, ...)."""
    queries.ticket_row(number)
    listed = list_for(number)
    if not listed:
        raise NotFound(f"ticket #{number} has no attachments")
    named = [a for a in listed if a.filename == name_or_index]
    if len(named) > 1:
        raise InvalidInput(f"ticket #{number} has {len(named)} different attachments named {name_or_index!r}: "
                           f"name one by its number ({', '.join(str(a.index) for a in named)})")
    if named:
        return named[0]
    text = name_or_index.strip().lstrip("#")
    if text.isascii() and text.isdigit() and 1 <= int(text) <= len(listed):
        return listed[int(text) - 1]
    names = ", ".join(f"{a.index}: {a.filename!r}" for a in listed[:20])
    raise NotFound(f"ticket #{number} has no attachment {name_or_index!r} (attachments: {names}"
                   f"{', ...' if len(listed) > 20 else ''})")


def content(found: AttachmentView) -> bytes:
    """An attachment's bytes, checked against their SHA-256 (a damaged store is an error, not a file)."""
    path = blob_path(found.sha256)
    if not path.exists():
        raise InvalidInput(f"attachment {found.filename!r}: its bytes are missing from {path.parent}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != found.sha256:
        raise InvalidInput(f"attachment {found.filename!r}: the stored bytes do not match their SHA-256 ({path})")
    return data


def save_path(found: AttachmentView, target: Path | None) -> Path:
    """Where `attachment save` writes: the target, a safe form of the stored name inside a target
    directory, or that name in the current directory. The stored name never brings a directory along."""
    name = Path(safe_filename(found.filename))
    if target is None:
        return name
    return target / name if target.is_dir() else target


def read(attachment_id: int) -> tuple[AttachmentView, bytes]:
    row = Attachment.get_or_none(Attachment.id == attachment_id)
    if row is None:
        raise NotFound(f"attachment {attachment_id} not found")
    found = view(row)
    return found, content(found)
