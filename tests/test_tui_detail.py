"""The ticket detail on a real desk (both backends): the description and the type's labelled fields;
transfer, return to the queue, tags, editing fields (a bad value said in the form, nothing stored),
merge (bad targets refused, a confirmation asked), next / previous ticket of the queue's view, saving an
attachment (a hostile stored name made safe, an existing file kept without confirmation), a 300-entry
conversation read newest page first with older pages on request; AI suggestions shown and accepted or
changed, similar solved tickets, a reply drafted by the loopback Ollama stand-in filling the compose box
(never sent by itself), the offline fallback and AI turned off said in words; hostile text inert."""

from __future__ import annotations

import pytest

from helpdesk.services import lifecycle, tickets
from helpdesk.tui.app import HelpdeskApp
from helpdesk.tui.desk import TicketDesk
from helpdesk.tui.screens.detail import DetailScreen
from helpdesk.tui.screens.ticket_forms import DraftComposeScreen, EditFieldsScreen, SimilarScreen
from helpdesk.tui.screens.prompts import AskScreen, ChoiceScreen, ComposeScreen
from test_ai_desk import INJECTION, free_port, new_ticket, open_ai_desk, standin  # noqa: F401 - fixtures
from test_tui_desk import HOSTILE, SIZE, make_tickets, open_ticket, queue_ready, shown, until
from tui_screen import screen_text

pytestmark = pytest.mark.anyio


@pytest.fixture
def app(desk):
    make_tickets(desk)
    return HelpdeskApp(desk=TicketDesk(desk))


def conversation_bodies(screen) -> list[str]:
    return [e.body for e in screen.view.conversation or []]


async def choose(pilot, starting: str) -> None:
    """Pick the choice of the open ChoiceScreen that starts with `starting`."""
    await until(pilot, lambda: isinstance(pilot.app.screen, ChoiceScreen))
    chooser = pilot.app.screen
    chooser.query_one("#choices").highlighted = next(i for i, c in enumerate(chooser.choices) if c.startswith(starting))
    await pilot.press("enter")


async def answer(pilot, text: str) -> None:
    """Type `text` into the open AskScreen (replacing what it holds) and press enter."""
    await until(pilot, lambda: isinstance(pilot.app.screen, AskScreen))
    pilot.app.screen.query_one("#answer").value = text
    await pilot.press("enter")


async def test_description_and_the_types_fields_are_shown_labelled(desk):
    tickets.create(desk, title="Laptop screen flickers", body="It flickers when on battery.\nSince Monday.",
                   type="it_support", fields=["category=hardware", "affected_users=3"], customer="bo@example.com")
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=(140, 60), notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await open_ticket(pilot, 1)
        text = screen_text(app)
        assert "IT support fields" in text and "Description" in text
        assert "It flickers when on battery." in text and "Since Monday." in text
        lines = text.splitlines()
        assert any("Category" in line and "hardware" in line for line in lines)
        assert any("Affected users" in line and "3" in line for line in lines)
        assert "Asset tag" in text  # an empty field is still shown, by its label


async def test_transfer_return_to_queue_and_tags(app, desk):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 5)
        await pilot.press("t")
        await choose(pilot, "agent tester")
        await until(pilot, lambda: screen.view.assignee == "tester")
        await pilot.press("t")
        await choose(pilot, "queue care")
        await until(pilot, lambda: screen.view.queue == "care")
        assert screen.view.assignee is None and tickets.show(desk, 5).queue == "care"

        await pilot.press("c")
        await until(pilot, lambda: screen.view.assignee == "tester")
        await pilot.press("u")
        await until(pilot, lambda: screen.view.assignee is None and screen.view.status == "new")
        assert "Returned to the queue" in shown(app)

        await pilot.press("g")
        await answer(pilot, "urgent, vip")
        await until(pilot, lambda: screen.view.tags == ["urgent", "vip"])
        await pilot.press("g")
        await answer(pilot, "-vip")
        await until(pilot, lambda: screen.view.tags == ["urgent"])
        assert tickets.show(desk, 5).tags == ["urgent"]
        await pilot.press("g")
        await answer(pilot, "not/a;tag")
        await until(pilot, lambda: "Tags +not/a;tag:" in shown(app))
        assert tickets.show(desk, 5).tags == ["urgent"]


async def test_edit_fields_a_bad_value_is_said_and_nothing_stored(desk):
    make_tickets(desk, 2)
    tickets.create(desk, title="Docking station dead", type="it_support", fields=["category=hardware"])
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 3)
        version = screen.view.version
        await pilot.press("e")
        form = app.screen
        assert isinstance(form, EditFieldsScreen)
        assert "Affected users" in screen_text(app) and "one of account, software" in screen_text(app)
        form.query_one("#edit-title").value = "Docking station still dead"
        users = next(i for i, s in enumerate(form.specs) if s.name == "affected_users")
        form.query_one(f"#edit-field-{users}").value = "many"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "must be a whole number" in str(form.query_one("#edit-error").render()))
        assert app.screen is form  # the form stays, with the reason beside it
        stored = tickets.show(desk, 3)
        assert stored.title == "Docking station dead" and stored.version == version  # nothing stored
        category = next(i for i, s in enumerate(form.specs) if s.name == "category")
        form.query_one(f"#edit-field-{category}").value = "toaster"
        form.query_one(f"#edit-field-{users}").value = "12"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "is not one of" in str(form.query_one("#edit-error").render()))
        assert tickets.show(desk, 3).fields["category"] == "hardware"
        form.query_one(f"#edit-field-{category}").value = "network"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.view.title == "Docking station still dead")
        assert screen.view.fields["affected_users"] == 12 and screen.view.fields["category"] == "network"
        assert app.screen is screen


async def test_merge_refuses_bad_targets_and_asks_before_merging(app, desk):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 5)
        await pilot.press("M")
        await answer(pilot, "abc")
        await until(pilot, lambda: "Merge:" in shown(app) and "abc" in shown(app))
        await pilot.press("M")
        await answer(pilot, "999")
        await until(pilot, lambda: "Merge:" in shown(app) and "999" in shown(app))
        await pilot.press("M")
        await answer(pilot, "#5")
        await until(pilot, lambda: "is this ticket" in shown(app))
        assert isinstance(app.screen, DetailScreen)
        await pilot.press("M")
        await answer(pilot, "3")
        await choose(pilot, "No")
        await pilot.pause(0.2)
        assert tickets.show(desk, 5).merged_into is None
        await pilot.press("M")
        await answer(pilot, "3")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        assert "VPN down 3" in screen_text(app)  # the target is named in the question
        await choose(pilot, "Yes")
        await until(pilot, lambda: screen.view.merged_into == 3)
        assert screen.view.status == "closed" and "Merged into" in screen_text(app)


async def test_next_and_previous_follow_the_queues_view_and_order(app):
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await pilot.press("slash", *"VPN", "enter")
        await until(pilot, lambda: queue_ready(app) and app.queue.count == 4)
        screen = await open_ticket(pilot, 9)  # the view: 12, 9, 6, 3 (newest first)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.view is not None and screen.view.number == 6)
        assert "#6  VPN down 6" in screen_text(app)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.view is not None and screen.view.number == 3)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: "last ticket of the view" in shown(app))
        assert screen.number == 3
        for expected in (6, 9, 12):
            await pilot.press("left_square_bracket")
            await until(pilot, lambda: screen.view is not None and screen.view.number == expected)
        await pilot.press("left_square_bracket")
        await until(pilot, lambda: "first ticket of the view" in shown(app))
        for expected in (9, 6):
            await pilot.press("right_square_bracket")
            await until(pilot, lambda: screen.view is not None and screen.view.number == expected)
        # back in the queue (opened on #9), the cursor is on the ticket the detail showed last
        await pilot.press("escape")
        assert app.queue.visible_rows()[app.queue.cursor - app.queue.scroll_offset.y].number == 6
        # another order of the queue is the order of the detail's moves
        await pilot.press("s")  # sort by the next column (number)
        await until(pilot, lambda: queue_ready(app) and app.queue.sort is not None)
        first = app.queue.visible_rows()[0].number
        second = app.queue.visible_rows()[1].number
        screen = await open_ticket(pilot, first)
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: screen.view is not None and screen.view.number == second)


async def test_an_attachment_is_saved_under_a_safe_name_and_never_over_a_file_unasked(desk, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tickets.create(desk, title="Log attached")
    tickets.attach(desk, 1, [("../../evil\x1b[31m.txt", b"first version")])
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await open_ticket(pilot, 1)
        await pilot.press("w")
        await until(pilot, lambda: isinstance(app.screen, AskScreen))
        default = app.screen.query_one("#answer").value
        assert default == str(tmp_path / "evil[31m.txt")  # no directory, no control character
        assert "\x1b" not in screen_text(app)
        await pilot.press("enter")
        target = tmp_path / "evil[31m.txt"
        await until(pilot, lambda: target.exists() and "Saved" in shown(app))
        assert target.read_bytes() == b"first version"
        assert not (tmp_path.parent.parent / "evil.txt").exists()

        target.write_bytes(b"the agent's own file")
        await pilot.press("w")
        await answer(pilot, str(target))
        await choose(pilot, "No")
        await until(pilot, lambda: "Not saved" in shown(app))
        assert target.read_bytes() == b"the agent's own file"
        await pilot.press("w")
        await answer(pilot, str(tmp_path))  # a folder: the safe name inside it
        await choose(pilot, "Yes")
        await until(pilot, lambda: target.read_bytes() == b"first version")


async def test_a_long_conversation_shows_the_newest_entries_and_loads_earlier_on_request(desk):
    make_tickets(desk, 1)
    for i in range(1, 301):
        tickets.note(desk, 1, f"message {i}")
    page = tickets.conversation(desk, 1, limit=50)  # the service reads one page, not 300 bodies
    assert len(page.entries) == 50 and page.earlier == 250
    assert [e.body for e in page.entries][-1] == "message 300"
    older = tickets.conversation(desk, 1, before=page.entries[0].id, limit=50)
    assert [e.body for e in older.entries] == [f"message {i}" for i in range(201, 251)] and older.earlier == 200
    shown = tickets.detail(desk, 1, newest=50, events=10)  # what the page shows, in one call
    assert [e.body for e in shown.view.conversation] == [e.body for e in page.entries] and shown.earlier == 250
    assert [e.id for e in shown.events] == [e.id for e in tickets.history(desk, 1)[-10:]]
    assert tickets.detail(desk, 1, newest=400).earlier == 0 and len(tickets.detail(desk, 1, newest=400).view.conversation) == 300

    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 1)
        assert conversation_bodies(screen) == [f"message {i}" for i in range(251, 301)]
        # the history too shows its newest events only (a note is an event); the CLI lists them all
        assert "older events not shown: `helpdesk ticket history 1`" in str(screen.query_one("#history").render())
        assert "250 earlier messages not shown" in screen_text(app) or "250 earlier messages" in str(
            screen.query_one("#earlier").render())
        await pilot.press("o")
        await until(pilot, lambda: len(conversation_bodies(screen)) == 100)
        assert conversation_bodies(screen)[0] == "message 201" and screen.earlier == 200
        for _ in range(4):
            await pilot.press("o")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause(0.05)
        await until(pilot, lambda: len(conversation_bodies(screen)) == 300 and screen.earlier == 0)
        assert conversation_bodies(screen)[0] == "message 1"
        assert not screen.query_one("#earlier").has_class("-shown")
        # a new entry read again keeps what was loaded
        await pilot.press("n")
        await pilot.press(*"one more", "ctrl+s")
        await until(pilot, lambda: conversation_bodies(screen)[-1:] == ["one more"])
        assert len(conversation_bodies(screen)) == 301


async def test_a_remapped_detail_key_works_and_the_screen_names_it(desk):
    from helpdesk.tui.settings import TuiSettings

    make_tickets(desk, 1)
    for i in range(1, 61):
        tickets.note(desk, 1, f"message {i}")
    app = HelpdeskApp(desk=TicketDesk(desk), settings=TuiSettings(keys={"load_earlier": "L"}))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 1)
        assert "10 earlier messages not shown: press L" in str(screen.query_one("#earlier").render())
        await pilot.press("o")  # no longer the key
        await pilot.pause(0.1)
        assert len(conversation_bodies(screen)) == 50
        await pilot.press("L")
        await until(pilot, lambda: len(conversation_bodies(screen)) == 60)


async def test_the_palette_over_a_ticket_offers_the_tickets_actions(app):
    from textual.command import CommandPalette

    from helpdesk.tui import keys
    from helpdesk.tui.palette import HelpdeskCommands

    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 4)
        texts = [hit.text async for hit in HelpdeskCommands(screen).discover()]
        assert texts == [s.description for s in keys.CATALOGUE if s.scope in (keys.APP, keys.DETAIL) and s.id != "palette"]
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette))
        await pilot.press(*"Add or remove tags")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await answer(pilot, "from-palette")
        await until(pilot, lambda: screen.view.tags == ["from-palette"])


async def test_a_field_edit_of_a_ticket_changed_meanwhile_is_refused_and_read_again(desk):
    make_tickets(desk, 2)
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 2)
        screen._stop_listening()  # the screen has not heard of the other agent's change
        await pilot.press("e")
        app.screen.query_one("#edit-title").value = "My new title"
        tickets.update(desk, 2, title="Their new title")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: screen.banner.shown and screen.view.title == "Their new title")
        assert "changed by someone else" in screen.banner.message and app.screen is screen
        assert tickets.show(desk, 2).title == "Their new title"


async def test_hostile_text_in_the_conversation_and_fields_is_inert(desk):
    tickets.create(desk, title=HOSTILE, body=HOSTILE, customer="evil@example.com", type="it_support",
                   fields=[f"asset_tag={HOSTILE}"])
    tickets.note(desk, 1, HOSTILE)
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=(140, 70), notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await open_ticket(pilot, 1)
        text = screen_text(app)
        assert text.count("[/] [link=https://evil.example]x[/link]") >= 3  # title, description, note
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        assert "href" not in app.export_screenshot()
        await pilot.press("e")
        assert isinstance(app.screen, EditFieldsScreen)
        assert "\x1b" not in app.screen.query_one("#edit-title").value


# ---------------------------------------------------------------- AI on the detail screen


def ai_app(desk) -> HelpdeskApp:
    return HelpdeskApp(desk=TicketDesk(desk))


def classified_ticket(open_ai_desk, standin):
    """A desk where nothing the model suggests applies by itself (the agent decides), and a ticket the
    model has classified: priority P1 and category printing suggested, sentiment negative."""
    from helpdesk.services import ai

    desk = open_ai_desk(apply=[])
    number = new_ticket(desk, "Printer prints blank pages", "Since the toner change only blank pages come out",
                        priority="P3")
    standin.script({"answer": {"category": "printing", "priority": "P1", "sentiment": "negative",
                               "confidence": "high"}})
    ai.classify_ticket(desk, number)
    return desk, number


async def test_ai_suggestions_are_shown_and_accepted_or_changed(open_ai_desk, standin):
    from helpdesk.services import ai

    desk, number = classified_ticket(open_ai_desk, standin)
    app = ai_app(desk)
    async with app.run_test(size=(140, 60), notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, number)
        text = screen_text(app)
        assert "AI suggestions" in text
        lines = text.splitlines()
        assert any("priority" in line and "P1" in line and "high" in line and "llm" in line for line in lines)
        assert any("category" in line and "printing" in line for line in lines)
        await pilot.press("i")
        await choose(pilot, "priority")
        await choose(pilot, "Accept priority P1")
        await until(pilot, lambda: screen.view.priority == "P1")
        assert [s.status for s in ai.suggestions_of(desk, number) if s.kind == "priority"] == ["accepted"]
        await pilot.press("i")
        await choose(pilot, "sentiment")
        await choose(pilot, "Change sentiment to neutral")
        await until(pilot, lambda: any(s.kind == "sentiment" and s.status == "changed" for s in screen.suggestions))
        assert any("changed to neutral by tester" in line for line in screen_text(app).splitlines())


async def test_accepting_a_suggestion_on_a_ticket_changed_meanwhile_is_refused_and_read_again(open_ai_desk, standin):
    from helpdesk.services import ai

    desk, number = classified_ticket(open_ai_desk, standin)
    app = ai_app(desk)
    async with app.run_test(size=(140, 60), notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, number)
        screen._stop_listening()  # the screen has not heard of the other agent's change
        await pilot.press("i")
        await choose(pilot, "priority")
        tickets.update(desk, number, title="Printer prints blank pages on floor 3")  # another agent, meanwhile
        await choose(pilot, "Accept priority P1")
        await until(pilot, lambda: screen.banner.shown and screen.view.title.endswith("on floor 3"))
        assert "changed by someone else" in screen.banner.message and app.screen is screen
        assert tickets.show(desk, number).priority == "P3" and screen.view.priority == "P3"
        assert [s.status for s in ai.suggestions_of(desk, number) if s.kind == "priority"] == ["offered"]
        await pilot.press("i")  # on the ticket read again, the same choice goes through
        await choose(pilot, "priority")
        await choose(pilot, "Accept priority P1")
        await until(pilot, lambda: screen.view.priority == "P1")
        assert [s.status for s in ai.suggestions_of(desk, number) if s.kind == "priority"] == ["accepted"]


async def test_an_injection_flag_and_hostile_suggestion_text_are_shown_inert(open_ai_desk, standin):
    from helpdesk.domain import suggestions
    from helpdesk.services import ai
    from helpdesk.services.work import unit

    desk = open_ai_desk(apply=[])
    number = new_ticket(desk, "urgent", INJECTION)
    ai.classify_ticket(desk, number)
    with unit(desk):  # a stored value as hostile as any text (the language field is free text)
        suggestions.record(desk, number, {"language": {"value": HOSTILE, "confidence": 0.5, "level": "medium",
                                                       "source": "offline"}})
    app = ai_app(desk)
    async with app.run_test(size=(140, 60), notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await open_ticket(pilot, number)
        text = screen_text(app)
        assert "Likely injection attempt" in text
        assert "[/] [link=https://evil" in text
        assert "\x1b" not in text and "\x9b" not in text and "\u202e" not in text
        assert "href" not in app.export_screenshot()


async def test_similar_solved_tickets_are_listed_with_their_resolution(open_ai_desk, standin):
    desk = open_ai_desk()
    solved = new_ticket(desk, "Printer prints blank pages", "Blank pages from the printer after toner change",
                        customer="ann@example.com")
    tickets.reply(desk, solved, "Remove the toner seal strip, then print a cleaning page.")
    lifecycle.change_status(desk, solved, "resolved", reason="done")
    number = new_ticket(desk, "Blank pages", "Our printer prints blank pages since we changed the toner.")
    app = ai_app(desk)
    async with app.run_test(size=(140, 40), notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, number)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(app.screen, SimilarScreen), seconds=60)
        text = screen_text(app)
        assert f"#{solved}  Printer prints blank pages" in text and "Remove the toner seal strip" in text
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen) and app.screen is not screen
                    and app.screen.view is not None)
        assert app.screen.view.number == solved


async def test_a_draft_from_the_model_fills_the_compose_box_and_is_sent_only_by_the_agent(open_ai_desk, standin):
    desk = open_ai_desk()
    number = new_ticket(desk, "Printer", "My printer prints blank pages. Is it the toner?",
                        customer="ann@example.com")
    app = ai_app(desk)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, number)
        standin.script({"sleep": 1.0, "content": "Hello Ann,\n\nPlease replace the toner [/]\x1b[31m now.\n\nRegards"})
        await pilot.press("d")
        assert screen.banner.shown and "Drafting a reply" in screen.banner.message  # progress, at once
        assert app.screen is screen  # nothing waits: the screen still answers keys
        await until(pilot, lambda: isinstance(app.screen, DraftComposeScreen), seconds=30)
        compose = app.screen
        body = compose.query_one("#body").text
        assert body.startswith("Hello Ann,") and "Please replace the toner [/]" in body and "\x1b" not in body
        assert "DRAFT" in screen_text(app)
        assert standin.chat_requests()[-1]["messages"][0]["role"] == "system"
        await pilot.press("escape")  # dropped: nothing is sent
        await until(pilot, lambda: app.screen is screen)
        assert [e for e in tickets.show(desk, number).conversation if e.kind == "reply"] == []

        standin.script({"content": "Hello Ann,\n\nA new toner is on its way.\n\nRegards"})
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DraftComposeScreen), seconds=30)
        await pilot.press("ctrl+s")  # the agent sends it
        await until(pilot, lambda: any(e.kind == "reply" for e in screen.view.conversation or []))
        sent = [e.body for e in tickets.show(desk, number).conversation if e.kind == "reply"]
        assert sent == ["Hello Ann,\n\nA new toner is on its way.\n\nRegards"]


async def test_without_a_model_the_draft_is_written_offline_and_said_so(open_ai_desk, standin):
    desk = open_ai_desk(ollama_host=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    number = new_ticket(desk, "Printer", "My printer prints blank pages.")
    app = ai_app(desk)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        await open_ticket(pilot, number)
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DraftComposeScreen), seconds=30)
        assert "Draft written offline" in shown(app) and "not reachable" in shown(app)
        assert app.screen.query_one("#body").text.startswith("Hello,")
        assert "written offline" in screen_text(app)


async def test_with_ai_turned_off_the_ai_keys_say_so(desk):
    make_tickets(desk, 2)
    app = HelpdeskApp(desk=TicketDesk(desk))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: queue_ready(app))
        screen = await open_ticket(pilot, 1)
        await pilot.press("d")
        await until(pilot, lambda: "AI assistance is off on this desk" in shown(app))
        assert app.screen is screen and not isinstance(app.screen, ComposeScreen)
        await pilot.press("i")
        await until(pilot, lambda: "#1 has no AI suggestions: AI assistance is off" in shown(app))
        await pilot.press("f")
        await pilot.pause(0.1)
        assert app.screen is screen
        headings = [line.strip() for line in screen_text(app).splitlines()]
        assert "SLA" in headings and "AI suggestions" not in headings  # no section on a desk without AI
