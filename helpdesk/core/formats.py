"""Machine output: JSON arrays, NDJSON and CSV, streamed; shared by the CLI and exports.

Every value goes through the one sanitiser: JSON escapes control, bidi and invisible characters,
CSV cells are made visible and formula-proof unless `raw` asks for the bytes as stored.
"""

from __future__ import annotations

import csv
import sys
from typing import Any, Iterable

from helpdesk.core.sanitise import csv_cell, json_dumps


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json_dumps(value, sort_keys=True)
    if value is None:
        return ""
    if isinstance(value, bool):  # as `ticket import` reads them back
        return "true" if value else "false"
    return value


def emit_rows(rows: Iterable[dict], fmt: str, columns: list[str], stream=None, *, raw: bool = False) -> None:
    """Write rows as JSON (an array), NDJSON or CSV, streaming. `raw`: CSV cells exactly as stored
    (no formula guard, controls kept); JSON is always escaped, which loses nothing."""
    out = stream or sys.stdout
    if fmt == "json":
        out.write("[")
        first = True
        for row in rows:
            out.write(("\n" if first else ",\n") + json_dumps(row))
            first = False
        out.write("\n]\n" if not first else "]\n")
    elif fmt == "nl":
        for row in rows:
            out.write(json_dumps(row) + "\n")
    elif fmt == "csv":
        # Raw cells may hold a bare CR, which the csv module leaves unquoted (a reader would split the row
        # there): raw output quotes every cell.
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL if raw else csv.QUOTE_MINIMAL)
        writer.writerow([csv_cell(name, raw=raw) for name in columns])
        for row in rows:
            writer.writerow([csv_cell(_csv_value(row.get(k)), raw=raw) for k in columns])
    else:
        raise ValueError(fmt)
