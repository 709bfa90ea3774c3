"""T-shaped data: a type is configuration plus an extension table, created and migrated by the product."""

from __future__ import annotations

import json

import pytest

from helpdesk.domain import tickets
from helpdesk.core.errors import ConfigError, InvalidInput
from helpdesk.store import extensions

NEW_TYPE = '''
[[type]]
name = "facilities"
label = "Facilities request"
fields = { room = "text", floor = "int", urgent = "bool", due = "date", area = { kind = "choice", options = ["office", "lab"] }, budget = "number" }
'''


def _columns(desk, table):
    return {c.name for c in desk.db.get_columns(table)}


def test_shipped_types_have_extension_tables(desk):
    tables = set(desk.db.get_tables())
    for name in ("it_support", "equipment_repair", "complaint"):
        assert f"ext_{name}" in tables
    assert {"serial_number", "fault_code", "spare_parts", "under_warranty"} <= _columns(desk, "ext_equipment_repair")


def test_new_type_by_configuration_alone(configured, cli):
    """Adding a [[type]] to config.toml is all it takes: table, fields, validation, queries."""
    configured.write_config(configured.default_config() + NEW_TYPE)
    r = cli("ticket", "create", "--title", "Broken blind in 3.12", "--type", "facilities", "--field", "room=3.12",
            "--field", "floor=3", "--field", "urgent=yes", "--field", "due=2026-04-01", "--field", "area=office",
            "--field", "budget=120.5", "--json")
    assert r.exit_code == 0, r.stderr
    created = r.json()
    assert created["fields"] == {"room": "3.12", "floor": 3, "urgent": True, "due": "2026-04-01",
                                 "area": "office", "budget": 120.5}
    r = cli("ticket", "list", "type:facilities", "field.floor:3", "--json")
    assert [t["number"] for t in r.json()] == [created["number"]]
    r = cli("ticket", "create", "--title", "x", "--type", "facilities", "--field", "floor=third")
    assert r.exit_code == 1
    assert "field 'floor' of type 'facilities'" in r.stderr


def test_main_table_unchanged_by_types(desk):
    before = _columns(desk, "ticket")
    cfg = desk.config
    from helpdesk.config import parse_type

    extensions.sync_types(list(cfg.types) + [parse_type({"name": "extra", "fields": {"a": "text"}})])
    assert _columns(desk, "ticket") == before
    assert "ext_extra" in desk.db.get_tables()


def test_added_field_adds_column_and_removed_field_is_hidden_not_dropped(configured, cli):
    r = cli("ticket", "create", "--title", "Pump leak", "--type", "equipment_repair", "--field", "serial_number=SN-1",
            "--field", "fault_code=E17", "--json")
    number = r.json()["number"]
    text = configured.default_config().replace(
        'fault_code = "text", ', '').replace('purchase_date = "date" }', 'purchase_date = "date", site = "text" }')
    configured.write_config(text)
    r = cli("db", "migrate", "--json")
    assert r.exit_code == 0, r.stderr
    changes = r.json()["types"]
    assert any("added field 'site'" in c for c in changes)
    assert any("field 'fault_code'" in c and "hidden" in c for c in changes)
    shown = cli("ticket", "show", str(number), "--json").json()
    assert "fault_code" not in shown["fields"] and "site" in shown["fields"]
    # The data is still there: bring the field back and it reappears with its value.
    configured.write_config(configured.default_config())
    cli("db", "migrate")
    assert cli("ticket", "show", str(number), "--json").json()["fields"]["fault_code"] == "E17"


def test_changing_a_field_kind_is_refused(configured, cli):
    cli("ticket", "list")
    configured.write_config(configured.default_config().replace("affected_users = \"int\"", "affected_users = \"date\""))
    r = cli("ticket", "list")
    assert r.exit_code == 1
    assert "affected_users" in r.stderr and "kind" in r.stderr


def test_removed_type_keeps_its_tickets(configured, cli):
    number = cli("ticket", "create", "--title", "Late parcel", "--type", "complaint", "--field", "severity=high",
                 "--json").json()["number"]
    text = configured.default_config()
    start = text.index('[[type]]\nname = "complaint"')
    end = text.index("# [[mailbox]]")
    configured.write_config(text[:start] + text[end:])
    shown = cli("ticket", "show", str(number), "--json")
    assert shown.exit_code == 0
    assert shown.json()["type"] == "complaint"
    r = cli("ticket", "create", "--title", "New one", "--type", "complaint")
    assert r.exit_code == 1 and "unknown type 'complaint'" in r.stderr


@pytest.mark.parametrize("kind,good,bad", [
    ("int", "42", "4.5"), ("number", "1.5", "abc"), ("bool", "no", "perhaps"), ("date", "2026-01-31", "31.01.2026"),
])
def test_field_kinds_are_checked(desk, kind, good, bad):
    from helpdesk.config import FieldSpec, TicketType

    ttype = TicketType(name="t", label="t", fields=(FieldSpec("f", kind),))
    assert tickets.coerce_field(ttype, ttype.fields[0], good) is not None
    with pytest.raises(InvalidInput, match="field 'f' of type 't'"):
        tickets.coerce_field(ttype, ttype.fields[0], bad)


def test_choice_and_required_fields(desk):
    with pytest.raises(InvalidInput, match="severity"):
        tickets.intake(desk, tickets.TicketInput(title="x", type="complaint", fields={"severity": "extreme"}))
    with pytest.raises(InvalidInput, match="serial_number.*required"):
        tickets.intake(desk, tickets.TicketInput(title="x", type="equipment_repair"))
    assert tickets.list_tickets(desk) == []


@pytest.mark.parametrize("snippet,message", [
    ('[[type]]\nname = "Bad Name"\n', "not a valid name"),
    ('[[type]]\nname = "t"\nfields = { f = "blob" }\n', "unknown kind 'blob'"),
    ('[[type]]\nname = "t"\nfields = { f = "choice" }\n', "needs options"),
    ('[[type]]\nname = "t"\ncolour = "red"\n', "unknown key 'colour'"),
    ('[[type]]\nname = "t"\nfields = { title = "text" }\n', "reserved"),
    ('[desk]\nnmae = "x"\n', "unknown key 'nmae'"),
    ('[[type]]\nname = "t"\nqueue = "nowhere"\n', "unknown queue"),
    ('this is not toml', "not valid TOML"),
])
def test_bad_configuration_is_a_clear_error(home, cli, snippet, message):
    home.write_config(snippet)
    r = cli("ticket", "list")
    assert r.exit_code == 1
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_type_records_keep_hidden_fields(desk):
    record = extensions.type_records()["equipment_repair"]
    names = [f["name"] for f in json.loads(record.fields)]
    assert "serial_number" in names


def test_a_form_learns_every_problem_by_input_from_the_rules_intake_applies(desk):
    """`check_new` names each problem by the input it concerns (a form shows it there); `create` refuses
    the same ticket with the first of them: one set of rules."""
    from helpdesk.services import tickets as ticket_service

    form = ticket_service.new_ticket_form(desk)
    repair = next(t for t in form.types if t.name == "equipment_repair")
    assert [(f.name, f.kind, f.required) for f in repair.fields][:2] == [("serial_number", "text", True),
                                                                         ("fault_code", "text", False)]
    assert next(f for t in form.types for f in t.fields if f.name == "severity").options == ["low", "medium", "high"]
    assert form.queues == ["it", "repairs", "care"] and form.default_priority == "P2"

    bad = dict(title=" ", customer="not-an-address", type="equipment_repair", priority="P9",
               fields={"purchase_date": "2026-13-45", "colour": "red"})
    problems = ticket_service.check_new(desk, **bad)
    assert set(problems) == {"title", "customer", "priority", "field.purchase_date", "field.colour",
                             "field.serial_number"}
    assert problems["field.purchase_date"] == ("field 'purchase_date' of type 'equipment_repair' must be a date "
                                               "YYYY-MM-DD, not '2026-13-45'")
    assert problems["field.serial_number"] == "field 'serial_number' of type 'equipment_repair' is required"
    with pytest.raises(InvalidInput) as refused:
        ticket_service.create(desk, **{**bad, "fields": [f"{k}={v}" for k, v in bad["fields"].items()]})
    assert str(refused.value) == next(iter(problems.values()))
    assert ticket_service.count(desk) == 0
    # an unknown type: said once, its fields not checked against nothing; fields without a type: said
    assert set(ticket_service.check_new(desk, title="x", type="nope", fields={"a": "1"})) == {"type"}
    assert "needs a ticket type" in ticket_service.check_new(desk, title="x", fields={"a": "1"})["type"]
    assert ticket_service.check_new(desk, title="Fine", type="equipment_repair",
                                    fields={"serial_number": "SN-1"}) == {}
