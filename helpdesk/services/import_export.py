"""Import tickets (spreadsheets, JSON, a backup) and export them (CSV, JSON, NDJSON, SQLite)."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from helpdesk.domain import import_export, tickets
from helpdesk.core.errors import RowsRefused
from helpdesk.services.work import unit


def import_file(desk, source: Path | IO[bytes], *, dry_run: bool = False, format: str | None = None,
                delimiter: str | None = None, allow_duplicates: bool = False, on_progress=None):
    """Every row checked, then all stored or none (RowsRefused lists each bad row); a backup written by
    `export` (json or nl) is restored whole into an empty desk instead. Returns the import report."""
    # No unit of work around the whole: the rows are read and checked before the domain opens its one
    # write transaction, so a large file does not hold the database's write lock while it is checked.
    report = import_export.import_file(desk, source, dry_run=dry_run, format=format, delimiter=delimiter,
                                       allow_duplicates=allow_duplicates, on_progress=on_progress)
    if report.errors:
        raise RowsRefused(report.errors, f"{len(report.errors)} of {report.rows} rows refused: nothing imported"
                          if not report.restored else "the backup was not restored: nothing stored")
    if report.numbers and not dry_run:
        with unit(desk) as work:
            work.changed(*report.numbers)
    return report


def export(desk, query: str, format: str, stream, *, raw: bool = False, progress=None, count: bool = False) -> int:
    """Tickets matching `query`, newest first, as csv, json or nl to `stream`; how many. `progress(total)`
    gives a context manager whose `advance(n)` follows the export (total: how many match, counted first
    only with `count`, else None)."""
    if progress is None:
        return import_export.export(desk, query, format, stream, raw=raw)
    total = tickets.count_tickets(desk, query) if count else None
    with progress(total) as bar:
        return import_export.export(desk, query, format, stream, raw=raw, on_progress=bar.advance)


def export_sqlite(desk, query: str, path: Path) -> int:
    """Tickets matching `query` into a standalone SQLite file with full-text search; how many."""
    return import_export.export_sqlite(desk, query, path)
