"""Machine output: JSON arrays, NDJSON and CSV, streamed; shared by the CLI and exports."""

from __future__ import annotations

import csv
import json
import sys
from typing import Any, Iterable


def _csv_value(value: Any) -> Any:
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if value is None:
        return ""
    return value


def emit_rows(rows: Iterable[dict], fmt: str, columns: list[str], stream=None) -> None:
    """Write rows as JSON (an array), NDJSON or CSV, streaming."""
    out = stream or sys.stdout
    if fmt == "json":
        out.write("[")
        first = True
        for row in rows:
            out.write(("\n" if first else ",\n") + json.dumps(row, ensure_ascii=False))
            first = False
        out.write("\n]\n" if not first else "]\n")
    elif fmt == "nl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    else:
        raise ValueError(fmt)
