"""The new-ticket form and macros on a real desk (both backends): a ticket of an extension type with bad
fields refused (each message beside its field, nothing stored), then fixed and stored with its fields and
shown in the queue; the form from its key and from the palette; a macro chosen by a completed name and
applied; hostile type labels, field labels, choice options and macro names shown inert."""

from __future__ import annotations

import datetime as dt

import pytest
from textual.widgets import Input, Select

from helpdesk.services import tickets
from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.desk import TicketDesk
from helpdesk.tui.screens.detail import DetailScreen
from helpdesk.tui.screens.new_ticket import NewTicketScreen
from helpdesk.tui.screens.prompts import MacroScreen
from test_tui_desk import HOSTILE, open_ticket, queue_ready, shown, until
from tui_screen import screen_lines, screen_text

pytestmark = pytest.mark.anyio

SIZE = (150, 44)
MACROS = """
[[macro]]
name = "need-logs"
body = "Hello {customer}, could you send us the log files of the problem on #{number}?"
status = "pending"

[[macro]]
name = "reminder"
body = "We are still waiting for your answer on #{number}."
"""
# A type whose label, field label and choice options are hostile text (TOML escapes: ESC, BEL, RLO, CSI).
HOSTILE_TOML = HOSTILE.replace("\x1b", "\\u001b").replace("\x07", "\\u0007").replace(
    "\u202e", "\\u202e").replace("\x9b", "\\u009b")
HOSTILE_CONFIG = f"""
[[type]]
name = "odd"
label = "{HOSTILE_TOML}"
fields = {{ mood = {{ kind = "choice", options = ["[/]", "[b]bold[/b]", "{HOSTILE_TOML}"], label = "{HOSTILE_TOML}" }} }}

[[macro]]
name = "{HOSTILE_TOML}"
body = "[/] {HOSTILE_TOML}"
note = true
"""


def open_desk_with(home, extra: str):
    """A desk with the shipped types and queues plus `extra` configuration (macros, a type)."""
    from conftest import make_desk
    from helpdesk.core.clock import FixedClock
    from helpdesk.domain import agents
    from helpdesk.domain.desk import open_desk

    home.write_config(home.default_config() + extra)
    make_desk()
    desk = open_desk(clock=FixedClock(dt.datetime(2026, 3, 2, 9, 0, 0)))
    agents.update(desk, "tester", skills=["it", "repair", "care"])
    return desk


@pytest.fixture
def macro_desk(home):
    desk = open_desk_with(home, MACROS)
    yield desk
    desk.close()


@pytest.fixture
def hostile_desk(home):
    desk = open_desk_with(home, HOSTILE_CONFIG)
    yield desk
    desk.close()


async def open_form(pilot) -> NewTicketScreen:
    await until(pilot, lambda: queue_ready(pilot.app))
    await pilot.press("ctrl+n")
    await until(pilot, lambda: isinstance(pilot.app.screen, NewTicketScreen) and pilot.app.screen.form is not None)
    return pilot.app.screen


async def choose_type(pilot, form: NewTicketScreen, name: str) -> None:
    """Choose a type; back once its fields are drawn."""
    form.query_one("#type", Select).value = name
    await until(pilot, lambda: any(key.startswith("field.") for key in form.inputs))
    last = [key for key in form.inputs if key.startswith("field.")][-1].removeprefix("field.")
    await until(pilot, lambda: last in screen_text(pilot.app))


def line_with(app, words: str) -> str:
    """The screen line holding `words` (a field's row: its label, input and message side by side)."""
    return next(line for line in screen_lines(app) if words in line)


async def test_an_extension_type_with_bad_fields_is_refused_then_fixed_and_stored(desk):
    tickets.create(desk, title="Printer on 3rd floor jams", customer="ana@example.com")
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        form = await open_form(pilot)
        assert "Choose a type above" in screen_text(app)
        await choose_type(pilot, form, "equipment_repair")
        text = screen_text(app)
        # the T-shape: the common fields, then the type's own with their kinds, the required one marked
        assert "Every ticket" in text and "Fields of Equipment repair (equipment_repair)" in text
        assert "serial_number *  text" in text and "purchase_date  date" in text and "under_warranty  bool" in text

        form.query_one("#customer", Input).value = "not-an-address"
        form.inputs["field.purchase_date"].widget.value = "2026-13-45"
        form.inputs["field.fault_code"].widget.value = "E42"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "must be a date YYYY-MM-DD, not '2026-13-45'" in shown(app))
        assert isinstance(app.screen, NewTicketScreen)  # the form stays, with what was typed
        assert "a ticket needs a title" in line_with(app, "Title")
        assert "is not an email address" in line_with(app, "Customer email")
        assert "✗ field 'purchase_date' of type 'equipment_repair' must be" in line_with(app, "purchase_date")
        assert "is required" in line_with(app, "serial_number")
        assert "Not created" in screen_text(app)
        assert tickets.count(desk) == 1  # nothing stored

        form.query_one("#title", Input).value = "Laptop screen flickers [/]"
        form.query_one("#customer", Input).value = "Bo@Example.com"
        form.inputs["field.serial_number"].widget.value = "SN-7781"
        form.inputs["field.purchase_date"].widget.value = "2025-11-03"
        form.inputs["field.under_warranty"].widget.value = "true"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.screen_stack[0] and queue_ready(app)
                    and "Laptop screen flickers [/]" in screen_text(app))
        assert "Ticket #2 created: Laptop screen flickers [/]" in shown(app)
        assert app.queue.cursor_row.number == 2  # on top of every ticket, the cursor on it
    view = tickets.show(desk, 2)
    assert (view.title, view.type, view.queue, view.customer) == (
        "Laptop screen flickers [/]", "equipment_repair", "repairs", "bo@example.com")
    assert view.fields["serial_number"] == "SN-7781" and view.fields["fault_code"] == "E42"
    assert str(view.fields["purchase_date"]) == "2025-11-03" and view.fields["under_warranty"] is True


async def test_the_form_opens_from_the_palette_and_a_choice_field_is_a_list(desk):
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await pilot.press("ctrl+p", *"create a ticket")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, NewTicketScreen) and app.screen.form is not None)
        form = app.screen
        await choose_type(pilot, form, "complaint")
        severity = form.inputs["field.severity"].widget
        assert isinstance(severity, Select)
        assert [value for _, value in severity._options if isinstance(value, str)] == ["low", "medium", "high"]
        form.query_one("#title", Input).value = "Order arrived broken"
        severity.value = "high"
        form.inputs["field.compensation_offered"].widget.value = "many"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "must be a number, not 'many'" in shown(app))
        assert "✗ field 'compensation_offered' of type 'complaint'" in line_with(app, "compensation_offered  number")
        assert tickets.count(desk) == 0
        form.inputs["field.compensation_offered"].widget.value = "12.5"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
    view = tickets.show(desk, 1)
    assert view.fields["severity"] == "high" and view.fields["compensation_offered"] == 12.5
    assert view.queue == "care" and view.priority == "P2"  # the type's queue, the desk's default priority


async def test_a_macro_is_chosen_by_its_completed_name_and_applied(macro_desk):
    tickets.create(macro_desk, title="VPN drops", customer="ana@example.com")
    app = HelpdeskApp(desk=TicketDesk(macro_desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 1)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, MacroScreen) and app.screen.macros)
        prompt = app.screen
        assert "need-logs" in screen_text(app) and "reminder" in screen_text(app)
        await pilot.press(*"zz", "enter")
        await until(pilot, lambda: "No macro is called 'zz' (macros: need-logs, reminder)" in screen_text(app))
        assert app.screen is prompt
        name = prompt.query_one("#macro-name", Input)
        name.value = ""
        await pilot.press(*"ne")
        await pilot.pause(0.2)  # the suggester answers in a worker
        await pilot.press("right")  # takes the completion
        assert name.value == "need-logs"
        await pilot.press("enter")  # a new ticket cannot be pending: refused, said in the prompt, nothing stored
        await until(pilot, lambda: "Macro need-logs not applied: ticket #1 cannot move from new to pending" in shown(app))
        assert app.screen is prompt and tickets.show(macro_desk, 1).conversation == []
        await pilot.press("escape")
        await pilot.press("c")  # claimed: now it may wait for the customer
        await until(pilot, lambda: screen.view.status == "assigned")
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, MacroScreen) and app.screen.macros)
        await pilot.press(*"need", "enter")  # the only macro that begins so
        await until(pilot, lambda: isinstance(app.screen, DetailScreen)
                    and "Macro need-logs applied: public reply queued in the outbox, status pending" in shown(app))
        await until(pilot, lambda: screen.view.status == "pending")
    view = tickets.show(macro_desk, 1)
    assert view.status == "pending"
    assert [(e.kind, e.body) for e in view.conversation if e.kind == "reply"] == [
        ("reply", "Hello ana@example.com, could you send us the log files of the problem on #1?")]


async def test_hostile_type_labels_options_and_macro_names_are_inert(hostile_desk):
    tickets.create(hostile_desk, title="Plain", customer="ana@example.com")
    app = HelpdeskApp(desk=TicketDesk(hostile_desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        form = await open_form(pilot)
        await choose_type(pilot, form, "odd")
        text = screen_text(app)
        assert "Fields of [/] [link=https://evil.example]x[/link]" in text
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        mood = form.inputs["field.mood"].widget
        mood.focus()
        await pilot.press("enter")  # the list of options, drawn
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "[b]bold[/b]" in text and "\x1b" not in text and "\u202e" not in text
        await pilot.press("escape")
        mood.value = HOSTILE
        form.query_one("#title", Input).value = "Odd one"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: app.screen is app.screen_stack[0])
        assert "href" not in app.export_screenshot()

        await until(pilot, lambda: queue_ready(app))
        await open_ticket(pilot, 1)
        await pilot.press("ctrl+o")
        await until(pilot, lambda: isinstance(app.screen, MacroScreen) and app.screen.macros)
        text = screen_text(app)
        assert "[/] [link=https://evil.example]x[/link]" in text
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        await pilot.press("down", "enter")
        await until(pilot, lambda: "internal note added" in shown(app))
        assert "href" not in app.export_screenshot()
    assert tickets.show(hostile_desk, 2).fields["mood"] == HOSTILE
    notes = [e.body for e in tickets.show(hostile_desk, 1).conversation if e.kind == "note"]
    assert notes == ["[/] " + HOSTILE]


async def test_compose_in_the_editor_from_the_detail_screen_through_a_replaced_runner(desk):
    """ctrl+e in the compose prompt hands the text to the editor runner (the text area would take it as
    'end of line'); the real suspend runs in tests/test_tui_terminal.py."""
    from pathlib import Path

    def person(path: str) -> None:
        Path(path).write_text("Toner replaced [/]\n" + Path(path).read_text())

    tickets.create(desk, title="Printer offline", customer="ana@example.com")
    app = HelpdeskApp(desk=TicketDesk(desk), editor_runner=person)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 1)
        await pilot.press("n", "ctrl+e")
        await until(pilot, lambda: any(e.kind == "note" for e in (screen.view.conversation or [])))
    assert [(e.kind, e.body) for e in tickets.show(desk, 1).conversation] == [("note", "Toner replaced [/]")]
