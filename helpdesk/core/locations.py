"""Where config and data live: HELPDESK_HOME, else the XDG directories; and how they are created.

What the desk writes is private to its owner whatever the umask: directories 0700, files 0600 (the
config may hold mail passwords, the database holds the Message-ID signing key, attachments are
customers' files).
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600

APP_NAME = "helpdesk"


def home_override() -> Path | None:
    home = os.environ.get("HELPDESK_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    home = home_override()
    if home:
        return home

    from platformdirs import user_config_path  # lazy: not needed when HELPDESK_HOME says where

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    home = home_override()
    if home:
        return home

    from platformdirs import user_data_path  # lazy: not needed when HELPDESK_HOME says where

    return user_data_path(APP_NAME)


def config_file() -> Path:
    return config_dir() / "config.toml"


def default_database_path() -> Path:
    return data_dir() / "helpdesk.db"


def attachments_dir() -> Path:
    return data_dir() / "attachments"


def default_config_source() -> Path:
    """The shipped default configuration: inside the wheel, or `config/` in a source checkout."""
    here = Path(__file__).resolve().parent.parent  # the helpdesk package (this file is in helpdesk/core)
    for candidate in (here / "_config" / "helpdesk.toml", here.parent / "config" / "helpdesk.toml"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("the default configuration (config/helpdesk.toml) is missing from this install")


def make_private_dirs(path: Path) -> list[Path]:
    """Create `path` and its missing parents 0700; returns the directories created, outermost first."""
    missing = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    created: list[Path] = []
    try:
        for directory in reversed(missing):
            try:
                directory.mkdir(mode=DIR_MODE)
            except FileExistsError:
                if not directory.is_dir():
                    raise
                continue  # made by another process meanwhile: not ours
            created.append(directory)
            os.chmod(directory, DIR_MODE)  # mkdir's mode is masked by the umask
    except OSError:
        for directory in reversed(created):  # a failure halfway leaves no folder behind
            try:
                directory.rmdir()
            except OSError:
                pass
        raise
    return created


def create_private_file(path: Path, data: bytes = b"") -> None:
    """A new file, 0600 whatever the umask; FileExistsError if it is there already."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        path.unlink(missing_ok=True)
        raise
    os.close(fd)
