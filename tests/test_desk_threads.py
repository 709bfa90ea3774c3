"""One desk, several threads: the desk is immutable (acting as someone else is a new desk) and each
thread works on its own connection (Peewee's are per thread). Runs on both backends."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from helpdesk.domain import agents, lifecycle, tickets
from helpdesk.store import cache


def test_acting_as_is_a_new_desk_and_leaves_the_original_unchanged(desk):
    agents.add(desk, "ann")
    as_ann = desk.acting_as("ann", source="a test")
    assert (as_ann.actor, as_ann.actor_source) == ("ann", "a test")
    assert (desk.actor, desk.rules_muted) == ("tester", False)
    assert as_ann.db is desk.db and as_ann.config is desk.config
    with pytest.raises(dataclasses.FrozenInstanceError):
        desk.actor = "ann"  # type: ignore[misc]
    # Work done through the new desk is done by ann; the original still acts as tester.
    number = tickets.intake(desk, tickets.TicketInput(title="Printer"))[0].number
    lifecycle.assign(as_ann, number, "me", force=True)
    reply = tickets.reply(desk, number, "On it", note=True)
    assert tickets.get(desk, number).assignee == "ann"
    assert reply.author == "tester"


def test_two_threads_read_and_write_through_one_desk(desk):
    existing = [tickets.intake(desk, tickets.TicketInput(title=f"Old {i}"))[0].number for i in range(5)]
    errors: list[BaseException] = []
    connections: dict[str, int] = {}
    start = threading.Barrier(2)

    def work(name, step):
        try:
            start.wait(timeout=30)
            connections[name] = id(desk.db.connection())  # this thread's own connection
            for i in range(20):
                step(i)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            desk.db.close()  # this thread's connection only

    def write(i):
        tickets.intake(desk, tickets.TicketInput(title=f"New {i}", key=f"thread-{i}"))
        tickets.reply(desk, existing[i % 5], f"note {i}", note=True)

    def read(i):
        assert len(tickets.list_tickets(desk, "title", limit=None)) >= 0
        assert tickets.get(desk, existing[i % 5], conversation=True).number == existing[i % 5]
        assert tickets.count_tickets(desk, "") >= 5

    threads = [threading.Thread(target=work, args=("writer", write)),
               threading.Thread(target=work, args=("reader", read))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert connections["writer"] != connections["reader"]
    assert tickets.count_tickets(desk, "") == 25
    assert sum(len(tickets.get(desk, n, conversation=True).conversation) for n in existing) == 20
    # What is read once per database is shared by the threads, not kept on the desk.
    assert cache.for_database(desk.db).get("message_id_secret")
