"""The unit of work (services/work.py) and the change notifications it publishes (store/notify.py):
effects after the outermost commit only, in order, failures kept; nothing on rollback; never holding
the write lock while an effect runs; a listener in another thread or process hears the changed tickets."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from conftest import ROOT
from writeprobe import write_now


def new_ticket(desk, title="Printer") -> int:
    from helpdesk.domain import tickets

    view, _ = tickets.intake(desk, tickets.TicketInput(title=title, customer="ann@globex.example"))
    return view.number


def title_of(number: int) -> str:
    from helpdesk.store.models import Ticket

    return Ticket.get_by_id(number).title


# ---------------------------------------------------------------- effects


def test_effects_run_after_the_commit_in_order(desk):
    from helpdesk.services.work import unit

    seen = []
    with unit(desk) as work:
        number = new_ticket(desk)
        work.after_commit(lambda: seen.append(("first", desk.db.in_transaction(), title_of(number))))
        work.after_commit(lambda: seen.append(("second", desk.db.in_transaction(), title_of(number))))
        assert seen == []
    assert seen == [("first", False, "Printer"), ("second", False, "Printer")]
    assert work.committed and work.failures == []


def test_a_failing_effect_is_logged_and_the_others_still_run(desk, caplog):
    from helpdesk.services.work import unit

    seen = []

    def broken():
        raise OSError("smtp down")

    with unit(desk) as work:
        work.after_commit(lambda: seen.append(1))
        work.after_commit(broken)
        work.after_commit(lambda: seen.append(3))
    assert seen == [1, 3]
    [failure] = work.failures
    assert failure.effect is broken and isinstance(failure.error, OSError)
    assert "smtp down" in str(failure) and "smtp down" in caplog.text


def test_nothing_runs_when_the_transaction_rolls_back(desk, home):
    from helpdesk.services.work import unit
    from helpdesk.store import notify
    from helpdesk.store.models import Ticket

    seen = []
    before = Ticket.select().count()
    with notify.listen(home.url) as listener:
        with pytest.raises(ZeroDivisionError):
            with unit(desk) as work:
                number = new_ticket(desk)
                work.changed(number)
                work.after_commit(lambda: seen.append("sent"))
                1 / 0
        assert seen == [] and Ticket.select().count() == before
        assert not listener.poll(0.3)


def test_a_joined_unit_runs_its_effects_after_the_outermost_commit(desk):
    from helpdesk.services.work import unit

    seen = []
    with unit(desk) as outer:
        with unit(desk) as inner:
            assert inner is outer
            inner.after_commit(lambda: seen.append("inner"))
        assert seen == []  # the inner block ended, but nothing is committed yet
        outer.after_commit(lambda: seen.append("outer"))
    assert seen == ["inner", "outer"]


def test_a_failed_inner_unit_drops_its_writes_and_effects_the_outer_one_commits(desk):
    from helpdesk.services.work import unit
    from helpdesk.store.models import Ticket

    seen = []
    with unit(desk) as outer:
        kept = new_ticket(desk, "Kept")
        outer.changed(kept)
        outer.after_commit(lambda: seen.append("kept"))
        try:
            with unit(desk) as inner:
                dropped = new_ticket(desk, "Dropped")
                inner.changed(dropped)
                inner.after_commit(lambda: seen.append("dropped"))
                raise ValueError("refused")
        except ValueError:
            pass
    assert seen == ["kept"] and outer.changed_tickets == {kept}
    assert Ticket.get_or_none(Ticket.number == dropped) is None and title_of(kept) == "Kept"


def test_an_effect_may_open_a_unit_of_its_own(desk):
    """A mail sent after the commit records that it went out: in a new transaction, with its own effects."""
    from helpdesk.services.work import unit

    seen = []

    def record_it():
        with unit(desk) as second:
            number = new_ticket(desk, "Recorded")
            second.after_commit(lambda: seen.append(title_of(number)))

    with unit(desk) as first:
        first.after_commit(record_it)
    assert seen == ["Recorded"] and first.failures == []


def test_a_unit_inside_a_foreign_transaction_is_refused(desk):
    from helpdesk.services.work import unit

    with desk.db.atomic():
        with pytest.raises(RuntimeError, match="inside a transaction"):
            with unit(desk):
                pass


def test_a_sleeping_effect_does_not_hold_the_write_lock(desk, home):
    """While an after-commit effect takes its time (an SMTP server, Ollama), another connection writes
    the same rows at once: the unit's transaction is over."""
    from helpdesk.services.work import unit
    from helpdesk.store import sql

    number = new_ticket(desk)
    probe: dict = {}
    started = threading.Event()

    def slow_effect():
        started.set()
        time.sleep(2)

    def other_writer():
        started.wait(10)
        try:
            probe["seconds"] = write_now(home.url, 'UPDATE "ticket" SET "title" = ? WHERE "number" = ?',
                                         ("Written meanwhile", number))
        except Exception as exc:  # reported below
            probe["error"] = exc

    writer = threading.Thread(target=other_writer)
    writer.start()
    with unit(desk) as work:
        sql.execute(desk.db, 'UPDATE "ticket" SET "title" = ? WHERE "number" = ?', ("Ours", number))
        work.after_commit(slow_effect)
    writer.join(10)
    assert "error" not in probe, probe.get("error")
    assert probe["seconds"] < 1.0
    assert title_of(number) == "Written meanwhile"


# ---------------------------------------------------------------- change notifications


def test_a_listener_in_another_thread_hears_the_changed_tickets(desk, home):
    from helpdesk.services.work import unit
    from helpdesk.store import notify

    heard = []
    ready = threading.Event()

    def listener_thread():
        with notify.listen(home.url) as listener:
            ready.set()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not heard:
                changes = listener.poll(0.5)
                if changes:
                    heard.append(changes)

    thread = threading.Thread(target=listener_thread)
    thread.start()
    assert ready.wait(10)
    with unit(desk) as work:
        a, b = new_ticket(desk, "A"), new_ticket(desk, "B")
        work.changed(a, b)
    thread.join(15)
    assert heard == [notify.Changes(frozenset({a, b}))]


LISTENER = """
import json, sys
from helpdesk.store import notify
with notify.listen(sys.argv[1]) as listener:
    print("ready", flush=True)
    got = listener.poll(20)
    print(json.dumps({"tickets": sorted(got.tickets), "everything": got.everything}), flush=True)
"""


def test_a_listener_in_another_process_hears_a_commit_and_nothing_before(desk, home):
    from helpdesk.services.work import unit

    proc = subprocess.Popen([sys.executable, "-c", LISTENER, home.url], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with unit(desk) as work:
            number = new_ticket(desk)
            work.changed(number)
            time.sleep(0.5)  # the listener must not hear it before the commit
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert json.loads(out) == {"tickets": [number], "everything": False}


def test_desks_in_two_schemas_have_their_own_channels():
    from helpdesk.store import notify
    from helpdesk.store.urls import parse_url

    plain = notify.channel(parse_url("postgresql://u@h/db"))
    one = notify.channel(parse_url("postgresql://u@h/db?schema=desk_one"))
    long = notify.channel(parse_url("postgresql://u@h/db?schema=" + "s" * 63))
    assert plain == "helpdesk_changes" and one == "helpdesk_changes_desk_one"
    assert len(long) <= 63 and long != plain


def test_too_many_tickets_for_one_notification_say_everything(desk, home):
    from helpdesk.store import notify

    with notify.listen(home.url) as listener:
        notify.publish(desk, range(1, 5000))
        notify.publish(desk, [7])
        assert listener.poll(5) | listener.poll(0.5) == notify.Changes(frozenset({7}), everything=True)


def test_sqlite_change_log_polls_cheaply_and_survives_its_restart(desk, home, monkeypatch):
    from helpdesk.store import notify

    if desk.url.backend != "sqlite":
        pytest.skip("the change log is SQLite's")
    token = notify.current_token(desk)
    assert notify.changes_since(desk, token) == (notify.NOTHING, token)
    notify.publish(desk, [3, 1])
    changes, token = notify.changes_since(desk, token)
    assert changes == notify.Changes(frozenset({1, 3}))
    assert notify.changes_since(desk, token)[0] == notify.NOTHING
    # A line still being written is not read half.
    with open(notify.change_log(desk.url), "ab") as f:
        f.write(b"[4")
    assert notify.changes_since(desk, token)[0] == notify.NOTHING
    with open(notify.change_log(desk.url), "ab") as f:
        f.write(b"2]\n")
    changes, token = notify.changes_since(desk, token)
    assert changes == notify.Changes(frozenset({42}))
    # Past its limit the log starts again; a listener that was behind is told to reload everything.
    monkeypatch.setattr(notify, "LOG_LIMIT", 10)
    notify.publish(desk, [5, 6, 7])
    assert notify.change_log(desk.url).stat().st_size == 0
    notify.publish(desk, [8])
    changes, token = notify.changes_since(desk, token)
    assert changes.everything and 8 in changes.tickets


def test_mail_fetched_by_the_intake_is_announced(mail_desk, desk, imap, home):
    """The intake commits message by message outside any unit of work: it announces what it changed."""
    from helpdesk.mail import fetch
    from helpdesk.store import notify
    from helpdesk.store.models import Ticket

    raw = (b"From: Ann <ann@globex.example>\r\nTo: support@desk.example\r\nSubject: Printer\r\n"
           b"Message-ID: <announce@globex.example>\r\n\r\nIt is jammed.\r\n")
    with notify.listen(home.url) as listener:
        imap.append(raw)
        report = fetch.fetch_mailbox(desk, desk.config.mailboxes[0])
        assert report.outcomes == {"new_ticket": 1}
        number = Ticket.select().order_by(Ticket.number.desc()).first().number
        assert listener.poll(5) == notify.Changes(frozenset({number}))
        imap.append(raw)  # the same mail again: a duplicate changes no ticket, and says nothing
        assert fetch.fetch_mailbox(desk, desk.config.mailboxes[0]).outcomes == {"duplicate": 1}
        assert not listener.poll(0.5)
