"""Attachments: metadata in the database, bytes in a content-addressed store under the data directory.

The same file attached twice (or to two tickets) is stored once. Filenames are made safe before they
are kept: no directories, no control characters, no leading dots.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

from helpdesk import audit, locations
from helpdesk.errors import InvalidInput, NotFound
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


def add(desk, number: int, filename: str, data: bytes, *, content_type: str = "application/octet-stream",
        entry: int | None = None) -> AttachmentView:
    """Attach bytes to a ticket. The bytes are written before the row, so a row never names missing bytes."""
    from helpdesk import tickets

    digest = store_bytes(data)
    name = safe_filename(filename)
    with desk.db.atomic():
        tickets.fetch(number)
        row = Attachment.create(ticket=number, entry=entry, filename=name, content_type=content_type,
                                size=len(data), sha256=digest, created_at=desk.now())
        audit.record(desk, number, "attached", filename=name, size=len(data), sha256=digest)
    return view(row)


def view(row: Attachment) -> AttachmentView:
    return AttachmentView(id=row.id, ticket=row.ticket_id, filename=row.filename, content_type=row.content_type,
                          size=row.size, sha256=row.sha256)


def list_for(number: int) -> list[AttachmentView]:
    return [view(a) for a in Attachment.select().where(Attachment.ticket == number).order_by(Attachment.id)]


def read(attachment_id: int) -> tuple[AttachmentView, bytes]:
    row = Attachment.get_or_none(Attachment.id == attachment_id)
    if row is None:
        raise NotFound(f"attachment {attachment_id} not found")
    path = blob_path(row.sha256)
    if not path.exists():
        raise InvalidInput(f"attachment {attachment_id}: its bytes are missing from {path.parent}")
    return view(row), path.read_bytes()
