"""Labelled texts from CSV files (`text,label`), for `ai eval` and for training outside a desk."""

from __future__ import annotations

import csv
from pathlib import Path

from helpdesk.core.errors import InvalidInput
from helpdesk.core.limits import BODY_MAX
from helpdesk.core.sanitise import inert

LABEL_COLUMNS = ("label", "category")  # "category": public intent sets name the column so


def read_labelled_csv(path: str | Path) -> list[tuple[str, str]]:
    """(text, label) rows of a UTF-8 CSV with a header naming `text` and `label` (or `category`); other
    columns are ignored, blank lines skipped. A row without text or label is refused with its line."""
    path = Path(path)
    shown = inert(str(path), layout=False)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InvalidInput(f"cannot read {shown}: {inert(exc.strerror or exc, layout=False)}") from None
    rows: list[tuple[str, str]] = []
    with handle:
        try:
            reader = csv.DictReader(handle)
            columns = [c.strip().lower() for c in reader.fieldnames or []]
            reader.fieldnames = columns
            label_column = next((c for c in LABEL_COLUMNS if c in columns), None)
            if "text" not in columns or label_column is None:
                raise InvalidInput(f"{shown}: the first line must name the columns text and label "
                                   f"(found: {inert(', '.join(columns), layout=False) or 'nothing'})")
            for record in reader:
                text, label = (record.get("text") or ""), (record.get(label_column) or "").strip()
                if not text.strip() and not label:
                    continue
                line = reader.line_num
                if not text.strip():
                    raise InvalidInput(f"{shown}:{line}: the text is empty")
                if not label:
                    raise InvalidInput(f"{shown}:{line}: the label is empty")
                if len(text) > BODY_MAX:
                    raise InvalidInput(f"{shown}:{line}: the text is longer than {BODY_MAX:,} characters")
                rows.append((text, label))
        except UnicodeDecodeError:
            raise InvalidInput(f"{shown}: not UTF-8 text") from None
        except csv.Error as exc:
            raise InvalidInput(f"{shown}:{reader.line_num}: {inert(exc, layout=False)}") from None
    if not rows:
        raise InvalidInput(f"{shown}: no labelled rows")
    return rows
