"""Where the desk is, decided from the configuration alone: no database driver, no domain loaded, so
the console script can ask before it imports anything heavy (a SQLite desk never loads psycopg2)."""

from __future__ import annotations

from helpdesk import config
from helpdesk.core import locations
from helpdesk.store.urls import database_url


def backend() -> str:
    """'sqlite' or 'postgresql': the database the configuration points at."""
    return database_url(config.load()).backend


def locate() -> dict:
    """The config file, data directory and database in use."""
    cfg = config.load()
    return {
        "config": str(locations.config_file()),
        "config_dir": str(locations.config_dir()),
        "data_dir": str(locations.data_dir()),
        "database": database_url(cfg).display(),
        "attachments": str(locations.attachments_dir()),
    }
