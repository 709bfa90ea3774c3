"""Where config and data live: HELPDESK_HOME, else the XDG directories."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "helpdesk"


def home_override() -> Path | None:
    home = os.environ.get("HELPDESK_HOME")
    return Path(home).expanduser() if home else None


def config_dir() -> Path:
    home = home_override()
    if home:
        return home
    from platformdirs import user_config_path

    return user_config_path(APP_NAME)


def data_dir() -> Path:
    home = home_override()
    if home:
        return home
    from platformdirs import user_data_path

    return user_data_path(APP_NAME)


def config_file() -> Path:
    return config_dir() / "config.toml"


def default_database_path() -> Path:
    return data_dir() / "helpdesk.db"


def attachments_dir() -> Path:
    return data_dir() / "attachments"


def default_config_source() -> Path:
    """The shipped default configuration: inside the wheel, or `config/` in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_config" / "helpdesk.toml", here.parent / "config" / "helpdesk.toml"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError("the default configuration (config/helpdesk.toml) is missing from this install")
