"""Database URLs: `sqlite:///PATH` or `postgresql://USER@HOST:PORT/DB[?schema=NAME]`.

Kept apart from the driver code so that deciding which database to open imports no driver.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from helpdesk.core import locations
from helpdesk.core.errors import ConfigError

if TYPE_CHECKING:
    from helpdesk.config import Config


@dataclass(frozen=True)
class DatabaseUrl:
    backend: str  # "sqlite" | "postgresql"
    path: Path | None = None
    params: dict | None = None
    schema: str | None = None

    def display(self) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.path}"
        p = self.params or {}
        shown = f"postgresql://{p.get('user') or ''}@{p.get('host') or ''}:{p.get('port') or 5432}/{p.get('database')}"
        return shown + (f"?schema={self.schema}" if self.schema else "")


def parse_url(url: str) -> DatabaseUrl:
    if url.startswith("sqlite:"):
        rest = url[len("sqlite:"):]
        if not rest.startswith("//"):
            raise ConfigError(f"database url {url!r}: write sqlite:///PATH")
        path = rest[2:]
        if path.startswith("//"):  # sqlite:////abs/path, the SQLAlchemy spelling
            path = path[1:]
        if not path or path == "/":
            raise ConfigError(f"database url {url!r} names no file")
        return DatabaseUrl("sqlite", path=Path(path).expanduser())
    if url.startswith(("postgresql:", "postgres:")):
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        schema = query.pop("schema", None)
        if schema is not None and not re.match(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$", schema):
            raise ConfigError(f"database url: schema {schema!r} is not a plain identifier")
        params = {
            "database": unquote(parts.path.lstrip("/")) or "postgres",
            "user": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "host": parts.hostname,
            "port": _port(parts, url),
            **query,
        }
        return DatabaseUrl("postgresql", params={k: v for k, v in params.items() if v is not None}, schema=schema)
    raise ConfigError(f"database url {url!r}: expected sqlite:///PATH or postgresql://USER@HOST:PORT/DB")


def _port(parts, url: str) -> int:
    try:
        return parts.port or 5432
    except ValueError:  # not a number, or out of range
        raise ConfigError(f"database url {url!r}: the port is not a number from 1 to 65535") from None


def database_url(cfg: Config) -> DatabaseUrl:
    """HELPDESK_DATABASE_URL, else `[database] url`, else the SQLite file in the data directory."""
    url = os.environ.get("HELPDESK_DATABASE_URL") or cfg.database_url
    if url:
        return parse_url(url)
    return DatabaseUrl("sqlite", path=locations.default_database_path())
