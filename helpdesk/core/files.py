"""Files a user names on the command line: written all or nothing, read only when they are plain files.

A file is written to a temporary file beside its target and renamed over it only once complete, so a
failure half-way (a bad query found late, a full disk, Ctrl-C) leaves the target exactly as it was. A
file to read must be a regular file: a directory, a FIFO or a device (`/dev/zero` never ends) is
refused before a byte is read.
"""

from __future__ import annotations

import os
import stat
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from helpdesk.core.errors import InvalidInput


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device"),
                       (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _os_error(path: Path, exc: OSError) -> InvalidInput:
    return InvalidInput(f"{path}: {exc.strerror or exc.__class__.__name__}")


@contextmanager
def replacing(path: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """A temporary path beside `path` to write; when the block ends without an error it becomes `path`
    (replacing it, or refusing to if `overwrite` is false), else it is removed and `path` is untouched.

    A new file gets the usual permissions (0666 less the umask); a replaced one keeps its own."""
    path = Path(path)
    if path.is_dir():
        raise InvalidInput(f"{path} is a directory")
    if not overwrite and (path.exists() or path.is_symlink()):
        raise InvalidInput(f"{path} exists: use --force to overwrite it")
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:100]}.", suffix=".part")
    except OSError as exc:
        raise _os_error(path, exc) from None
    os.close(fd)
    tmp = Path(name)
    try:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        yield tmp
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # never replaces: fails if the name appeared meanwhile (or is a symlink)
            except FileExistsError:
                raise InvalidInput(f"{path} exists: use --force to overwrite it") from None
            except OSError as exc:
                raise _os_error(path, exc) from None
            tmp.unlink()
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def writing(path: Path, *, binary: bool = False, overwrite: bool = True) -> Iterator[IO]:
    """`replacing`, opened: a text (UTF-8, newlines as written) or binary file object."""
    with replacing(path, overwrite=overwrite) as tmp:
        with (tmp.open("wb") if binary else tmp.open("w", encoding="utf-8", newline="")) as fh:
            yield fh


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; anything else is a clear error."""
    path = Path(path)
    try:
        # O_NONBLOCK: opening a FIFO nobody writes to would wait for ever; it is refused below instead.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such file") from None
    except OSError as exc:
        raise _os_error(path, exc) from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InvalidInput(f"{path}: not a regular file ({_kind(info.st_mode)})")
    with os.fdopen(fd, "rb") as fh:
        if info.st_size > limit:
            raise InvalidInput(f"{path}: {info.st_size:,} bytes is over the limit of {limit:,} bytes")
        data = fh.read(limit + 1)
    if len(data) > limit:  # it grew while being read
        raise InvalidInput(f"{path}: over the limit of {limit:,} bytes")
    return data


def read_limited(stream: IO[bytes], limit: int, what: str) -> bytes:
    """At most `limit` bytes from a stream (stdin); more is a clear error, not a full memory."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise InvalidInput(f"{what}: over the limit of {limit:,} bytes")
    return data
