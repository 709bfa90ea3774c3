"""Plain SQL for the hot paths (the mail intake runs ~20 statements per message): composing a small
Peewee query costs 250-350 us of Python, executing the same SQL directly about 20 us.

Statements are written once, portable to SQLite and PostgreSQL: identifiers in double quotes, `?` for
every parameter (and nowhere else: no `?` or `%` in literals). `compiled` turns them into the
backend's placeholder style once and caches the result per placeholder style. Values are passed as the
columns' Python values (naive datetimes, bools, ints, str); convert what is read back with the field's
`python_value` where the backend returns raw text (SQLite datetimes).
"""

from __future__ import annotations

from typing import Any, Sequence

import peewee as pw

_compiled: dict[tuple[str, str], str] = {}
_insert_texts: dict[tuple, str] = {}


def compiled(db: pw.Database, text: str) -> str:
    """`text` with `?` replaced by the database's placeholder (cached per placeholder style)."""
    param = db.param
    key = (param, text)
    sql = _compiled.get(key)
    if sql is None:
        sql = text if param == "?" else text.replace("?", param)
        _compiled[key] = sql
    return sql


def marks(n: int) -> str:
    """`?, ?, ?` for an IN list of n values."""
    return ", ".join("?" * n)


def execute(db: pw.Database, text: str, params: Sequence[Any] = ()):
    """Run one statement; returns the cursor."""
    return db.execute_sql(compiled(db, text), params)


def one(db: pw.Database, text: str, params: Sequence[Any] = ()) -> tuple | None:
    """The first row (or None)."""
    return execute(db, text, params).fetchone()


def rows(db: pw.Database, text: str, params: Sequence[Any] = ()) -> list[tuple]:
    return execute(db, text, params).fetchall()


def in_parts(db: pw.Database, statement: str, head: Sequence[Any], ids: Sequence[Any], size: int = 500,
             tail: str = "") -> list[tuple]:
    """Run `statement (?, ?, ...) tail` (a statement ending in `IN`, its own parameters `head`; `tail`,
    say a RETURNING clause, without parameters) for every `size` of `ids`; returns the rows of a SELECT
    (or RETURNING) from all the parts."""
    out: list[tuple] = []
    for start in range(0, len(ids), size):
        part = list(ids[start:start + size])
        cursor = execute(db, f"{statement} ({marks(len(part))}){tail}", [*head, *part])
        if cursor.description:
            out.extend(cursor.fetchall())
    return out


def insert(db: pw.Database, table: str, columns: Sequence[str], values: Sequence[Any],
           returning: str | None = None) -> Any:
    """INSERT one row (columns are column names); with `returning`, that column's new value."""
    key = (table, tuple(columns), returning)
    text = _insert_texts.get(key)
    if text is None:
        names = ", ".join(f'"{c}"' for c in columns)
        suffix = f' RETURNING "{returning}"' if returning else ""
        text = _insert_texts[key] = f'INSERT INTO "{table}" ({names}) VALUES ({marks(len(columns))}){suffix}'
    cursor = execute(db, text, values)
    if returning:
        return cursor.fetchone()[0]
    return None


_selects: dict[type, tuple[str, list]] = {}


def model_rows(model: type[pw.Model], where: str, params: Sequence[Any] = ()) -> list[pw.Model]:
    """`model.select().where(...)` without composing the query: `where` is plain SQL (see above)."""
    found = _selects.get(model)
    if found is None:
        fields = model._meta.sorted_fields
        names = ", ".join(f'"{f.column_name}"' for f in fields)
        found = _selects[model] = (f'SELECT {names} FROM "{model._meta.table_name}" WHERE ', fields)
    head, fields = found
    out = []
    for row in rows(model._meta.database, head + where, params):
        # As Peewee builds a row it read: no defaults, nothing dirty.
        obj = model(__no_default__=1, **{f.name: f.python_value(v) for f, v in zip(fields, row)})
        obj._dirty.clear()
        out.append(obj)
    return out


def get_row(model: type[pw.Model], key: Any) -> pw.Model | None:
    """`model.get_or_none(primary key == key)` without composing the query each time."""
    found = model_rows(model, f'"{model._meta.primary_key.column_name}" = ?', (key,))
    return found[0] if found else None


_updates: dict[tuple, tuple[str, list]] = {}


def update_row(model: type[pw.Model], key: Any, **values: Any) -> int:
    """`model.update(**values).where(primary key == key)` without composing it; returns rows changed."""
    names = tuple(values)
    found = _updates.get((model, names))
    if found is None:
        fields = [model._meta.fields[n] for n in names]
        text = (f'UPDATE "{model._meta.table_name}" SET ' + ", ".join(f'"{f.column_name}" = ?' for f in fields)
                + f' WHERE "{model._meta.primary_key.column_name}" = ?')
        found = _updates[(model, names)] = (text, fields)
    text, fields = found
    return execute(model._meta.database, text, [f.db_value(v) for f, v in zip(fields, values.values())] + [key]).rowcount
