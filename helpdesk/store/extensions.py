"""T-shaped data: one extension table per configured ticket type.

`sync_types` creates and migrates the tables from configuration alone: a new type creates a table, a new
field adds a column, a removed field is hidden (column and data kept), a removed type is deactivated.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Iterable

import peewee as pw

from helpdesk.config import FieldSpec, TicketType
from helpdesk.core.errors import ConfigError
from helpdesk.store import cache
from helpdesk.store.db import database, is_postgres
from helpdesk.store.migrations import add_column_if_missing
from helpdesk.store.models import Setting, Ticket, TicketTypeRecord


def table_name(type_name: str) -> str:
    return f"ext_{type_name}"


def _peewee_field(kind: str) -> pw.Field:
    return {
        "text": lambda: pw.TextField(null=True),
        "choice": lambda: pw.TextField(null=True),
        "int": lambda: pw.BigIntegerField(null=True),
        "number": lambda: pw.DoubleField(null=True),
        "bool": lambda: pw.BooleanField(null=True),
        "date": lambda: pw.DateField(null=True),
    }[kind]()


def _model_for(type_name: str, fields: tuple[tuple[str, str], ...]) -> type[pw.Model]:
    attrs = {
        "ticket": pw.ForeignKeyField(Ticket, primary_key=True, on_delete="CASCADE", column_name="ticket_id"),
        "Meta": type("Meta", (), {"database": database, "table_name": table_name(type_name)}),
    }
    for name, kind in fields:
        attrs[name] = _peewee_field(kind)
    return type(f"Ext_{type_name}", (pw.Model,), attrs)


@lru_cache(maxsize=256)
def _cached_model(type_name: str, fields: tuple[tuple[str, str], ...]) -> type[pw.Model]:
    return _model_for(type_name, fields)


def stored_fields(record: TicketTypeRecord) -> list[dict]:
    return json.loads(record.fields)


def extension_model(type_name: str, fields: Iterable[dict]) -> type[pw.Model]:
    """The Peewee model of a type's extension table, with every column it has (hidden ones too)."""
    return _cached_model(type_name, tuple((f["name"], f["kind"]) for f in fields))


def _spec_dict(spec: FieldSpec, hidden: bool = False) -> dict:
    return {"name": spec.name, "kind": spec.kind, "options": list(spec.options), "required": spec.required,
            "label": spec.label, "hidden": hidden}


def _lock(db: pw.Database) -> None:
    if is_postgres(db):
        db.execute_sql("SELECT pg_advisory_xact_lock(727274001)")


def sync_types(types: Iterable[TicketType], fingerprint: str | None = None) -> list[str]:
    """Bring the extension tables in line with the configured types. Returns what changed, in words."""
    global _generation
    db = database.obj
    changes: list[str] = []
    _generation += 1
    if fingerprint:
        # Nothing to do (every command but the first after a config change): decide that with a plain
        # read, so opening the desk to read never waits for the write lock behind another writer.
        row = Setting.get_or_none(Setting.key == "types_fingerprint")
        if row and row.value == fingerprint:
            return changes
    with db.atomic():
        _lock(db)
        if fingerprint:
            row = Setting.get_or_none(Setting.key == "types_fingerprint")
            if row and row.value == fingerprint:
                return changes
        configured = {t.name: t for t in types}
        existing = {r.name: r for r in TicketTypeRecord.select()}
        for name, ttype in configured.items():
            record = existing.get(name)
            if record is None:
                fields = [_spec_dict(f) for f in ttype.fields]
                model = extension_model(name, fields)
                db.create_tables([model], safe=True)
                TicketTypeRecord.create(name=name, label=ttype.label, table_name=table_name(name),
                                        fields=json.dumps(fields), active=True)
                changes.append(f"created table {table_name(name)} for type '{name}'")
                continue
            old = {f["name"]: f for f in stored_fields(record)}
            new_fields = []
            for spec in ttype.fields:
                before = old.pop(spec.name, None)
                if before is None:
                    _add_column(db, name, spec)
                    changes.append(f"added field '{spec.name}' to type '{name}'")
                elif before["kind"] != spec.kind and {before["kind"], spec.kind} != {"text", "choice"}:
                    raise ConfigError(
                        f"config: field '{spec.name}' of type '{name}' was {before['kind']}, now {spec.kind}: "
                        "a field's kind cannot change (its data would not fit); add a field with a new name")
                elif before.get("hidden"):
                    changes.append(f"field '{spec.name}' of type '{name}' is shown again")
                new_fields.append(_spec_dict(spec))
            for gone in old.values():  # removed from config: hidden, never dropped
                if not gone.get("hidden"):
                    changes.append(f"field '{gone['name']}' of type '{name}' hidden (its data is kept)")
                new_fields.append({**gone, "hidden": True})
            if not record.active:
                changes.append(f"type '{name}' active again")
            TicketTypeRecord.update(label=ttype.label, fields=json.dumps(new_fields), active=True).where(
                TicketTypeRecord.id == record.id).execute()
        for name, record in existing.items():
            if name not in configured and record.active:
                TicketTypeRecord.update(active=False).where(TicketTypeRecord.id == record.id).execute()
                changes.append(f"type '{name}' no longer configured: hidden, its tickets and data are kept")
        if fingerprint:
            Setting.insert(key="types_fingerprint", value=fingerprint).on_conflict(
                conflict_target=[Setting.key], update={Setting.value: fingerprint}).execute()
    return changes


def _add_column(db: pw.Database, type_name: str, spec: FieldSpec) -> None:
    add_column_if_missing(db, table_name(type_name), spec.name, _peewee_field(spec.kind))


_generation = 0  # bumped by every sync_types: cached type records older than that are read again


TYPE_RECORDS = "type_records"  # their key in the database's cache (`store.cache`)


def type_records(desk=None) -> dict[str, TicketTypeRecord]:
    """The type records by name; with a desk, cached for its database until the next `sync_types`."""
    if desk is None:
        return {r.name: r for r in TicketTypeRecord.select()}
    cached = cache.for_database(desk.db).get(TYPE_RECORDS)
    if cached is not None and cached[0] == _generation:
        return cached[1]
    generation = _generation
    records = {r.name: r for r in TicketTypeRecord.select()}
    cache.for_database(desk.db).put(TYPE_RECORDS, (generation, records))
    return records
