"""The ticket lifecycle: every legal and illegal move, assignment, transfer, return, reopen, merge,
routing, and the CLI commands that drive them. Runs on SQLite and PostgreSQL (HELPDESK_TEST_DB)."""

from __future__ import annotations

import io
import itertools

import pytest

from helpdesk.domain import agents, routing as assignment, audit, lifecycle, tickets, import_export as transfer
from helpdesk.core.errors import IllegalTransition, InvalidInput, NotFound, StaleVersion
from helpdesk.domain.lifecycle import NEEDS_ASSIGNEE, TRANSITIONS
from helpdesk.core.vocabulary import STATES
from helpdesk.store.models import ConversationEntry, Ticket

LEGAL = [(a, b) for a, targets in TRANSITIONS.items() for b in targets]
ILLEGAL = [(a, b) for a, b in itertools.product(STATES, STATES) if (a, b) not in LEGAL]

# What an agent would call each move (the audit action), from the lifecycle's contract.
EXPECTED_ACTION = {
    ("new", "assigned"): "status_changed",
    ("new", "in_progress"): "status_changed",
    ("new", "resolved"): "resolved",
    ("assigned", "in_progress"): "status_changed",
    ("assigned", "pending"): "status_changed",
    ("assigned", "resolved"): "resolved",
    ("assigned", "new"): "returned",
    ("in_progress", "pending"): "status_changed",
    ("in_progress", "resolved"): "resolved",
    ("in_progress", "new"): "returned",
    ("pending", "in_progress"): "status_changed",
    ("pending", "resolved"): "resolved",
    ("resolved", "closed"): "closed",
    ("resolved", "in_progress"): "reopened",
    ("resolved", "new"): "reopened",
}


# ---------------------------------------------------------------- helpers



def lifecycle_events(desk, number):
    """The ticket's audit events without the SLA clocks' own (pause/resume/stop), which every move
    may add and which tests/test_sla.py checks."""
    return [e for e in audit.history(desk, number) if not e.action.startswith("sla_")]

def new_ticket(desk, title="Printer jams on tray 2", **kw) -> int:
    view, created = tickets.intake(desk, tickets.TicketInput(title=title, **kw))
    assert created
    return view.number


def new_owned_ticket(desk, owner="tester") -> int:
    """A `new` ticket that already has an owner: only an import can make one."""
    data = f"title,assignee\nImported with owner,{owner}\n".encode()
    report = transfer.import_file(desk, io.BytesIO(data), format="csv")
    assert not report.errors and report.created == 1
    number = report.numbers[0]
    view = tickets.get(desk, number)
    assert (view.status, view.assignee) == ("new", owner)
    return number


def ticket_in(desk, state: str, *, owner: str | None = "tester", **kw) -> int:
    """A ticket brought into `state` through the services; owned by `owner` where the state allows."""
    number = new_ticket(desk, **kw)
    if state == "new":
        return number
    if owner is None:
        assert state in ("resolved", "closed"), "only resolved/closed can be reached without an owner"
        lifecycle.change_status(desk, number, "resolved")
        if state == "closed":
            lifecycle.change_status(desk, number, "closed")
        return number
    lifecycle.assign(desk, number, owner)
    path = {
        "assigned": [],
        "in_progress": ["in_progress"],
        "pending": ["in_progress", "pending"],
        "resolved": ["in_progress", "resolved"],
        "closed": ["in_progress", "resolved", "closed"],
    }[state]
    for step in path:
        lifecycle.change_status(desk, number, step)
    view = tickets.get(desk, number)
    assert view.status == state
    return number


def actions(desk, number: int) -> list[str]:
    return [e.action for e in lifecycle_events(desk, number)]


def snapshot(desk, number: int):
    """Everything a refused move must leave alone (the SLA clocks as stored: their derived 'used'
    minutes move with the test clock)."""
    from helpdesk.store.models import SlaClock

    view = tickets.get(desk, number, conversation=True).to_dict()
    view.pop("sla", None)
    clocks = [tuple(c) for c in SlaClock.select().where(SlaClock.ticket == number).order_by(SlaClock.id).tuples()]
    events = [(e.id, e.action) for e in lifecycle_events(desk, number)]
    return view, events, clocks


def add_agent(desk, login, **kw):
    return agents.add(desk, login, **kw)


def routing_pool_without_tester(desk):
    """Routing tests build their own pool of agents: the test agent (who has every skill) stays out."""
    agents.update(desk, "tester", skills=[])


# ---------------------------------------------------------------- the transition table


def test_transition_table_names_only_real_states():
    assert set(TRANSITIONS) == set(STATES)
    for source, targets in TRANSITIONS.items():
        assert source not in targets
        assert set(targets) <= set(STATES)
    assert TRANSITIONS["closed"] == ()
    assert len(LEGAL) + len(ILLEGAL) == len(STATES) ** 2
    assert set(EXPECTED_ACTION) == set(LEGAL)


@pytest.mark.parametrize("source,target", LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_every_legal_transition(desk, source, target):
    if source == "new" and target in NEEDS_ASSIGNEE:
        number = new_owned_ticket(desk)
    else:
        number = ticket_in(desk, source)
    before = tickets.get(desk, number)
    events_before = lifecycle_events(desk, number)
    now = desk.clock.advance(minutes=5)

    after = lifecycle.change_status(desk, number, target, reason="because")

    assert after.status == target
    assert after.version == before.version + 1
    assert after.updated_at == now
    if target == "new":
        assert after.assignee is None
    else:
        assert after.assignee == before.assignee
    if target == "resolved":
        assert after.resolved_at == now
    elif source == "resolved" and target != "closed":
        assert after.resolved_at is None
    else:
        assert after.resolved_at == before.resolved_at
    if target == "closed":
        assert after.closed_at == now
        assert after.resolved_at == before.resolved_at is not None
    stored = Ticket.get(Ticket.number == number)
    assert (stored.status, stored.version) == (target, before.version + 1)

    events = lifecycle_events(desk, number)
    assert len(events) == len(events_before) + 1
    event = events[-1]
    assert event.action == EXPECTED_ACTION[(source, target)]
    assert event.data == {"from": source, "to": target, "reason": "because"}
    assert event.actor == "tester"
    assert event.created_at == now


@pytest.mark.parametrize("source,target", ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_every_illegal_transition_changes_nothing(desk, source, target):
    number = ticket_in(desk, source)
    before = snapshot(desk, number)
    desk.clock.advance(minutes=5)

    with pytest.raises(IllegalTransition) as exc:
        lifecycle.change_status(desk, number, target)

    message = str(exc.value)
    assert f"#{number}" in message
    if source == target:
        assert "already" in message
    else:
        assert f"from {source} to {target}" in message
    assert snapshot(desk, number) == before


def test_moves_needing_an_owner_are_refused_without_one(desk):
    number = new_ticket(desk)
    before = snapshot(desk, number)
    targets = [t for t in TRANSITIONS["new"] if t in NEEDS_ASSIGNEE]
    assert targets == ["assigned", "in_progress"]
    for target in targets:
        with pytest.raises(IllegalTransition, match="no assignee"):
            lifecycle.change_status(desk, number, target)
    assert snapshot(desk, number) == before


def test_resolved_without_owner_cannot_go_back_to_in_progress(desk):
    number = ticket_in(desk, "resolved", owner=None)
    before = snapshot(desk, number)
    with pytest.raises(IllegalTransition, match="no assignee"):
        lifecycle.change_status(desk, number, "in_progress")
    assert snapshot(desk, number) == before


def test_unknown_status_and_unknown_ticket(desk):
    number = new_ticket(desk)
    before = snapshot(desk, number)
    with pytest.raises(InvalidInput, match="unknown status 'done'"):
        lifecycle.change_status(desk, number, "done")
    with pytest.raises(NotFound, match="#999"):
        lifecycle.change_status(desk, 999, "resolved")
    assert snapshot(desk, number) == before


def test_a_full_life_is_one_event_per_move(desk):
    number = new_ticket(desk)
    lifecycle.assign(desk, number, "tester")
    lifecycle.change_status(desk, number, "in_progress")
    lifecycle.change_status(desk, number, "pending", reason="waiting for logs")
    lifecycle.change_status(desk, number, "in_progress")
    lifecycle.change_status(desk, number, "resolved")
    lifecycle.change_status(desk, number, "closed")
    assert actions(desk, number) == ["created", "status_changed", "assigned", "status_changed",
                                     "status_changed", "status_changed", "resolved", "closed"]
    view = tickets.get(desk, number)
    assert view.version == 7  # created at 1, six writes
    pending = lifecycle_events(desk, number)[4]
    assert pending.data == {"from": "in_progress", "to": "pending", "reason": "waiting for logs"}


# ---------------------------------------------------------------- assign


def test_assign_new_ticket(desk):
    add_agent(desk, "bob")
    number = new_ticket(desk)
    view = lifecycle.assign(desk, number, "bob")
    assert (view.status, view.assignee, view.version) == ("assigned", "bob", 2)
    events = lifecycle_events(desk, number)
    assert [(e.action, e.data) for e in events[1:]] == [
        ("status_changed", {"from": "new", "to": "assigned"}),
        ("assigned", {"to": "bob"}),
    ]


def test_assign_me_names_the_acting_agent(desk):
    number = new_ticket(desk)
    assert lifecycle.assign(desk, number, "me").assignee == "tester"


def test_assign_an_owned_ticket_is_a_transfer(desk):
    add_agent(desk, "bob")
    for state, after in [("assigned", "assigned"), ("in_progress", "assigned"), ("pending", "pending")]:
        number = ticket_in(desk, state)
        before = tickets.get(desk, number)
        events_before = len(lifecycle_events(desk, number))
        view = lifecycle.assign(desk, number, "bob")
        assert (view.assignee, view.status, view.version) == ("bob", after, before.version + 1), state
        events = lifecycle_events(desk, number)
        assert len(events) == events_before + 1
        assert (events[-1].action, events[-1].data) == ("transferred", {"from": "tester", "to": "bob"})


def test_assign_refused_on_finished_tickets(desk):
    add_agent(desk, "bob")
    for state in ("resolved", "closed"):
        number = ticket_in(desk, state)
        before = snapshot(desk, number)
        with pytest.raises(IllegalTransition, match=state):
            lifecycle.assign(desk, number, "bob")
        assert snapshot(desk, number) == before


def test_assign_refusals_change_nothing(desk):
    add_agent(desk, "bob")
    add_agent(desk, "gone")
    agents.update(desk, "gone", active=False)
    number = ticket_in(desk, "assigned", owner="bob")
    before = snapshot(desk, number)
    with pytest.raises(IllegalTransition, match="already assigned to bob"):
        lifecycle.assign(desk, number, "bob")
    with pytest.raises(InvalidInput, match="not active"):
        lifecycle.assign(desk, number, "gone")
    with pytest.raises(NotFound, match="nobody"):
        lifecycle.assign(desk, number, "nobody")
    assert snapshot(desk, number) == before


def test_assign_respects_capacity_unless_forced(desk):
    add_agent(desk, "bob", capacity=2)
    first, second, third = (new_ticket(desk, title=f"t{i}") for i in range(3))
    lifecycle.assign(desk, first, "bob")
    lifecycle.assign(desk, second, "bob")
    before = snapshot(desk, third)
    with pytest.raises(IllegalTransition, match=r"capacity \(2/2"):
        lifecycle.assign(desk, third, "bob")
    assert snapshot(desk, third) == before
    view = lifecycle.assign(desk, third, "bob", force=True)
    assert (view.assignee, view.status) == ("bob", "assigned")
    assert agents.get(desk, "bob").open_tickets == 3


def test_capacity_counts_only_open_tickets(desk):
    add_agent(desk, "bob", capacity=1)
    done = new_ticket(desk)
    lifecycle.assign(desk, done, "bob")
    lifecycle.change_status(desk, done, "resolved")
    number = new_ticket(desk)
    assert lifecycle.assign(desk, number, "bob").assignee == "bob"


# ---------------------------------------------------------------- transfer to a queue, return


def test_transfer_to_queue_unassigns_and_renews(desk):
    number = ticket_in(desk, "in_progress", type="it_support")
    assert tickets.get(desk, number).queue == "it"
    view = lifecycle.transfer_to_queue(desk, number, "repairs")
    assert (view.queue, view.assignee, view.status) == ("repairs", None, "new")
    last = lifecycle_events(desk, number)[-1]
    assert last.action == "transferred"
    assert last.data == {"queue": {"from": "it", "to": "repairs"},
                         "status": {"from": "in_progress", "to": "new"},
                         "assignee": {"from": "tester", "to": None}}


def test_transfer_new_ticket_to_queue_keeps_status(desk):
    number = new_ticket(desk)  # no type: the default queue (the first configured)
    view = lifecycle.transfer_to_queue(desk, number, "care")
    assert (view.queue, view.status, view.version) == ("care", "new", 2)
    assert lifecycle_events(desk, number)[-1].data == {"queue": {"from": "it", "to": "care"}}


def test_transfer_to_queue_refusals(desk):
    number = ticket_in(desk, "assigned", type="complaint")
    resolved = ticket_in(desk, "resolved", type="complaint")
    before = snapshot(desk, number), snapshot(desk, resolved)
    with pytest.raises(IllegalTransition, match="already in queue care"):
        lifecycle.transfer_to_queue(desk, number, "care")
    with pytest.raises(InvalidInput, match="unknown queue 'nowhere'"):
        lifecycle.transfer_to_queue(desk, number, "nowhere")
    with pytest.raises(IllegalTransition, match="reopen it"):
        lifecycle.transfer_to_queue(desk, resolved, "it")
    assert (snapshot(desk, number), snapshot(desk, resolved)) == before


def test_return_to_queue_clears_the_owner(desk):
    for state in ("assigned", "in_progress"):
        number = ticket_in(desk, state, type="it_support")
        view = lifecycle.return_to_queue(desk, number, reason="not my area")
        assert (view.status, view.assignee, view.queue) == ("new", None, "it")
        last = lifecycle_events(desk, number)[-1]
        assert (last.action, last.data) == ("returned", {"from": state, "to": "new", "reason": "not my area"})


def test_return_refused_where_the_table_forbids_it(desk):
    for state in ("new", "pending", "resolved", "closed"):
        number = ticket_in(desk, state)
        before = snapshot(desk, number)
        if state == "resolved":
            # resolved -> new is a legal move, but it is a reopen and recorded as one
            lifecycle.return_to_queue(desk, number)
            assert lifecycle_events(desk, number)[-1].action == "reopened"
            continue
        with pytest.raises(IllegalTransition):
            lifecycle.return_to_queue(desk, number)
        assert snapshot(desk, number) == before, state


# ---------------------------------------------------------------- reopen


def test_reopen_goes_back_to_the_owner(desk):
    number = ticket_in(desk, "resolved")
    assert tickets.get(desk, number).resolved_at is not None
    view = lifecycle.reopen(desk, number, reason="still broken")
    assert (view.status, view.assignee, view.resolved_at) == ("in_progress", "tester", None)
    last = lifecycle_events(desk, number)[-1]
    assert (last.action, last.data) == ("reopened", {"from": "resolved", "to": "in_progress",
                                                     "reason": "still broken"})


def test_reopen_without_owner_goes_to_the_queue(desk):
    number = ticket_in(desk, "resolved", owner=None)
    view = lifecycle.reopen(desk, number)
    assert (view.status, view.assignee, view.resolved_at) == ("new", None, None)
    assert lifecycle_events(desk, number)[-1].data == {"from": "resolved", "to": "new"}


def test_reopen_refused(desk):
    for state, why in [("closed", "final"), ("new", "not resolved"), ("assigned", "not resolved"),
                       ("in_progress", "not resolved"), ("pending", "not resolved")]:
        number = ticket_in(desk, state)
        before = snapshot(desk, number)
        with pytest.raises(IllegalTransition, match=why):
            lifecycle.reopen(desk, number)
        assert snapshot(desk, number) == before, state


# ---------------------------------------------------------------- merge


def _conversation(desk, number):
    return [(e.kind, e.body) for e in tickets.entries(number)]


def test_merge_moves_conversation_and_tags_and_closes_source(desk):
    source = new_ticket(desk, title="VPN drops every hour", body="since Monday", tags=["vpn", "network"],
                        customer="ann@globex.example")
    target = new_ticket(desk, title="VPN unstable", tags=["network", "urgent"], customer="bob@globex.example")
    tickets.reply(desk, source, "Have you tried reconnecting zanzibar?")
    tickets.reply(desk, source, "internal: vendor case 77", note=True)
    tickets.reply(desk, target, "Looking into it")
    target_before = tickets.get(desk, target)
    source_before = tickets.get(desk, source)
    now = desk.clock.advance(hours=1)

    view = lifecycle.merge(desk, source, target, reason="duplicate")

    assert view.number == target
    assert set(view.tags) == {"vpn", "network", "urgent"}
    assert view.version == target_before.version + 1
    convo = _conversation(desk, target)
    assert ("reply", "Looking into it") in convo
    assert ("reply", "Have you tried reconnecting zanzibar?") in convo
    assert ("note", "internal: vendor case 77") in convo
    assert any(kind == "note" and body.startswith(f"Merged from #{source}: VPN drops every hour")
               and "since Monday" in body for kind, body in convo)
    assert _conversation(desk, source) == []
    assert ConversationEntry.select().where(ConversationEntry.ticket == target).count() == 4

    src = tickets.get(desk, source)
    assert (src.status, src.merged_into, src.closed_at) == ("closed", target, now)
    assert src.version == source_before.version + 1
    assert src.resolved_at == now

    src_event = audit.history(desk, source)[-1]
    dst_event = audit.history(desk, target)[-1]
    assert (src_event.action, src_event.data) == ("merged", {"into": target, "reason": "duplicate"})
    assert (dst_event.action, dst_event.data) == ("merged_from", {"source": source, "entries": 2})

    # What was said on the source is now found on the target.
    found = [t.number for t in tickets.list_tickets(desk, "zanzibar")]
    assert found == [target]


def test_merge_of_a_resolved_source_keeps_its_resolution_time(desk):
    source = ticket_in(desk, "resolved")
    resolved_at = tickets.get(desk, source).resolved_at
    target = new_ticket(desk)
    desk.clock.advance(hours=3)
    lifecycle.merge(desk, source, target)
    src = tickets.get(desk, source)
    assert src.status == "closed" and src.resolved_at == resolved_at and src.closed_at > resolved_at


def test_merge_refusals_change_nothing(desk):
    a = new_ticket(desk, title="a", tags=["x"], customer="ann@globex.example")
    b = new_ticket(desk, title="b", tags=["y"])
    closed = ticket_in(desk, "closed", title="closed")
    tickets.reply(desk, a, "hello")
    before = [snapshot(desk, n) for n in (a, b, closed)]
    with pytest.raises(InvalidInput, match="itself"):
        lifecycle.merge(desk, a, a)
    with pytest.raises(IllegalTransition, match="merge into an open ticket"):
        lifecycle.merge(desk, a, closed)
    with pytest.raises(IllegalTransition, match="closed and cannot be merged"):
        lifecycle.merge(desk, closed, b)
    with pytest.raises(NotFound):
        lifecycle.merge(desk, a, 999)
    seen = tickets.get(desk, a).version  # someone replies after the person read the ticket
    tickets.reply(desk, a, "one more thing")
    before[0] = snapshot(desk, a)
    with pytest.raises(StaleVersion, match=f"you had {seen}"):
        lifecycle.merge(desk, a, b, expected_version=seen)
    assert [snapshot(desk, n) for n in (a, b, closed)] == before


def test_merged_ticket_cannot_be_merged_again(desk):
    a, b, c = new_ticket(desk, title="a"), new_ticket(desk, title="b"), new_ticket(desk, title="c")
    lifecycle.merge(desk, a, b)
    before = snapshot(desk, c), snapshot(desk, a)
    with pytest.raises(IllegalTransition):
        lifecycle.merge(desk, c, a)  # a is closed, merged into b
    with pytest.raises(IllegalTransition):
        lifecycle.merge(desk, a, c)
    assert (snapshot(desk, c), snapshot(desk, a)) == before


# ---------------------------------------------------------------- auto-assign (routing)


def test_auto_assign_needs_the_skills(desk):
    routing_pool_without_tester(desk)
    add_agent(desk, "ann", skills=["it"])
    add_agent(desk, "bob", skills=["repair"])
    repair = new_ticket(desk, type="equipment_repair", fields={"serial_number": "SN-1"})
    it = new_ticket(desk, type="it_support")
    assert assignment.auto_assign(desk, repair).assignee == "bob"
    assert assignment.auto_assign(desk, it).assignee == "ann"
    assert audit.history(desk, repair)[-1].data == {"to": "bob"}


def test_auto_assign_respects_queue_membership(desk):
    routing_pool_without_tester(desk)
    add_agent(desk, "ann", skills=["repair", "it"], queues=["it"])  # has the skill, works another queue
    add_agent(desk, "bob", skills=["repair", "it"], queues=["repairs"])
    add_agent(desk, "cat", skills=["it"])  # no queues listed: works every queue
    repair = new_ticket(desk, type="equipment_repair", fields={"serial_number": "SN-1"})
    assert [a.login for a in assignment.candidates(desk, Ticket.get_by_id(repair))] == ["bob"]
    assert assignment.auto_assign(desk, repair).assignee == "bob"
    it = new_ticket(desk, type="it_support")
    assert [a.login for a in assignment.candidates(desk, Ticket.get_by_id(it))] == ["ann", "cat"]


def test_auto_assign_skips_agents_at_capacity_and_inactive_ones(desk):
    routing_pool_without_tester(desk)
    add_agent(desk, "ann", skills=["care"], capacity=1)
    add_agent(desk, "bob", skills=["care"])
    add_agent(desk, "cat", skills=["care"])
    agents.update(desk, "bob", active=False)
    first = new_ticket(desk, type="complaint")
    lifecycle.assign(desk, first, "ann")
    number = new_ticket(desk, type="complaint")
    assert assignment.auto_assign(desk, number).assignee == "cat"

    agents.update(desk, "cat", capacity=1)
    third = new_ticket(desk, type="complaint")
    before = snapshot(desk, third)
    with pytest.raises(IllegalTransition, match="no agent can take"):
        assignment.auto_assign(desk, third)
    assert snapshot(desk, third) == before


def test_auto_assign_picks_the_least_loaded_by_priority_weight(desk):
    routing_pool_without_tester(desk)
    add_agent(desk, "ann", skills=["it"])
    add_agent(desk, "bob", skills=["it"])
    urgent = new_ticket(desk, type="it_support", priority="P0")
    lifecycle.assign(desk, urgent, "ann")  # ann: weight 4 from one ticket
    for i in range(2):
        low = new_ticket(desk, type="it_support", priority="P3", title=f"low {i}")
        lifecycle.assign(desk, low, "bob")  # bob: weight 2 from two tickets
    assert assignment.weighted_loads()[tickets.agent_row(desk, "ann").id] == (4, 1)
    assert assignment.weighted_loads()[tickets.agent_row(desk, "bob").id] == (2, 2)
    number = new_ticket(desk, type="it_support")
    assert assignment.auto_assign(desk, number).assignee == "bob"


def test_auto_assign_breaks_ties_round_robin(desk):
    routing_pool_without_tester(desk)
    for login in ("ann", "bob", "cat"):
        add_agent(desk, login, skills=["it"])
    given = []
    for i in range(6):
        number = new_ticket(desk, type="it_support", title=f"t{i}")
        given.append(assignment.auto_assign(desk, number).assignee)
        lifecycle.change_status(desk, number, "resolved")  # loads stay equal: only the order decides
    assert given == ["ann", "bob", "cat", "ann", "bob", "cat"]


def test_auto_assign_of_an_owned_ticket_transfers_to_someone_else(desk):
    routing_pool_without_tester(desk)
    add_agent(desk, "ann", skills=["it"])
    add_agent(desk, "bob", skills=["it"])
    number = new_ticket(desk, type="it_support")
    lifecycle.assign(desk, number, "ann")
    view = assignment.auto_assign(desk, number)
    assert view.assignee == "bob"
    assert lifecycle_events(desk, number)[-1].data == {"from": "ann", "to": "bob"}


# ---------------------------------------------------------------- the CLI


def _only_error_line(run):
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in run.stderr
    return lines[0]


def test_cli_status_moves_and_history(desk, cli):
    number = new_ticket(desk)
    r = cli("ticket", "assign", str(number), "me")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"#{number} assigned to tester (assigned)"
    r = cli("ticket", "status", f"#{number}", "in_progress")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"#{number} is in_progress"
    r = cli("ticket", "status", str(number), "pending", "--reason", "waiting for logs", "--json")
    assert r.exit_code == 0, r.stderr
    assert (r.json()["status"], r.json()["version"]) == ("pending", 4)

    r = cli("ticket", "history", str(number), "--json")
    assert r.exit_code == 0, r.stderr
    events = [e for e in r.json() if not e["action"].startswith("sla_")]
    assert [e["action"] for e in events] == ["created", "status_changed", "assigned", "status_changed",
                                             "status_changed"]
    assert events[-1]["data"] == {"from": "in_progress", "to": "pending", "reason": "waiting for logs"}
    assert [e["action"] for e in events] == actions(desk, number)

    r = cli("ticket", "history", str(number))
    assert r.exit_code == 0 and "pending" in r.stdout


def test_cli_illegal_status_exits_1_and_changes_nothing(desk, cli):
    for source, target in [("new", "closed"), ("new", "pending"), ("pending", "new"),
                           ("closed", "in_progress"), ("resolved", "resolved"), ("new", "in_progress")]:
        number = ticket_in(desk, source)
        before = snapshot(desk, number)
        r = cli("ticket", "status", str(number), target)
        assert r.exit_code == 1, (source, target)
        assert r.stdout == ""
        line = _only_error_line(r)
        assert f"#{number}" in line
        assert snapshot(desk, number) == before, (source, target)


def test_cli_status_errors(desk, cli):
    number = new_ticket(desk)
    before = snapshot(desk, number)
    r = cli("ticket", "status", str(number), "done")
    assert r.exit_code == 1 and "unknown status 'done'" in _only_error_line(r)
    r = cli("ticket", "status", "4242", "resolved")
    assert r.exit_code == 1 and "#4242 not found" in _only_error_line(r)
    r = cli("ticket", "status", "abc", "resolved")
    assert r.exit_code == 1 and "not a ticket number" in _only_error_line(r)
    assert snapshot(desk, number) == before


def test_cli_assign_capacity_force_and_auto(desk, cli):
    routing_pool_without_tester(desk)
    add_agent(desk, "bob", skills=["repair"], capacity=1)
    first = new_ticket(desk, type="equipment_repair", fields={"serial_number": "SN-1"})
    second = new_ticket(desk, type="equipment_repair", fields={"serial_number": "SN-2"})
    r = cli("ticket", "assign", str(first), "--auto")
    assert r.exit_code == 0, r.stderr
    assert tickets.get(desk, first).assignee == "bob"

    before = snapshot(desk, second)
    r = cli("ticket", "assign", str(second), "bob")
    assert r.exit_code == 1 and "capacity" in _only_error_line(r)
    r = cli("ticket", "assign", str(second), "--auto")
    assert r.exit_code == 1 and "no agent can take" in _only_error_line(r)
    assert snapshot(desk, second) == before

    r = cli("ticket", "assign", str(second), "bob", "--force", "--json")
    assert r.exit_code == 0, r.stderr
    assert (r.json()["assignee"], r.json()["status"]) == ("bob", "assigned")

    r = cli("ticket", "assign", str(second))
    assert r.exit_code == 2 and _only_error_line(r)
    r = cli("ticket", "assign", str(second), "bob", "--auto")
    assert r.exit_code == 2


def test_cli_transfer_to_agent_and_queue(desk, cli):
    add_agent(desk, "bob", skills=["it"])
    number = ticket_in(desk, "in_progress", type="it_support")
    r = cli("ticket", "transfer", str(number), "bob")
    assert r.exit_code == 0, r.stderr
    view = tickets.get(desk, number)
    assert (view.assignee, view.status) == ("bob", "assigned")
    assert lifecycle_events(desk, number)[-1].data == {"from": "tester", "to": "bob"}

    r = cli("ticket", "transfer", str(number), "--queue", "repairs")
    assert r.exit_code == 0, r.stderr
    view = tickets.get(desk, number)
    assert (view.assignee, view.status, view.queue) == (None, "new", "repairs")

    before = snapshot(desk, number)
    r = cli("ticket", "transfer", str(number), "--queue", "repairs")
    assert r.exit_code == 1 and "already in queue repairs" in _only_error_line(r)
    r = cli("ticket", "transfer", str(number), "--queue", "nowhere")
    assert r.exit_code == 1 and "unknown queue" in _only_error_line(r)
    r = cli("ticket", "transfer", str(number))
    assert r.exit_code == 2
    assert snapshot(desk, number) == before


def test_cli_return_and_reopen(desk, cli):
    number = ticket_in(desk, "in_progress", type="complaint")
    r = cli("ticket", "return", str(number), "--reason", "wrong desk")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"#{number} returned to queue care (new)"
    assert lifecycle_events(desk, number)[-1].data["reason"] == "wrong desk"

    before = snapshot(desk, number)
    r = cli("ticket", "return", str(number))
    assert r.exit_code == 1 and "already new" in _only_error_line(r)
    assert snapshot(desk, number) == before

    resolved = ticket_in(desk, "resolved")
    r = cli("ticket", "reopen", str(resolved), "--reason", "still broken")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"#{resolved} reopened (in_progress)"

    closed = ticket_in(desk, "closed")
    before = snapshot(desk, closed)
    r = cli("ticket", "reopen", str(closed))
    assert r.exit_code == 1 and "final" in _only_error_line(r)
    assert snapshot(desk, closed) == before


def test_cli_merge(desk, cli):
    source = new_ticket(desk, title="dup", tags=["a"])
    target = new_ticket(desk, title="orig", tags=["b"])
    r = cli("ticket", "merge", str(source), f"#{target}")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip() == f"#{source} merged into #{target}"
    assert tickets.get(desk, source).merged_into == target
    assert set(tickets.get(desk, target).tags) == {"a", "b"}

    r = cli("ticket", "history", str(source), "--json")
    assert r.json()[-1]["action"] == "merged" and r.json()[-1]["data"] == {"into": target}

    before = snapshot(desk, target)
    r = cli("ticket", "merge", str(target), str(target))
    assert r.exit_code == 1 and "itself" in _only_error_line(r)
    r = cli("ticket", "merge", str(target), str(source))
    assert r.exit_code == 1 and "closed" in _only_error_line(r)
    other = new_ticket(desk, title="another dup")
    r = cli("ticket", "merge", str(other), str(target), "--if-version", "99")
    assert r.exit_code == 1 and "you had 99" in _only_error_line(r)
    assert tickets.get(desk, other).merged_into is None
    assert snapshot(desk, target) == before


def test_cli_history_of_unknown_ticket(desk, cli):
    r = cli("ticket", "history", "77", "--json")
    assert r.exit_code == 1 and "#77 not found" in _only_error_line(r)


def test_round_robin_order_of_an_older_desk_comes_from_its_audit_trail(desk):
    # A desk created before agents carried their round-robin place: migration 0013 reads it back from
    # the assignment events, so the next tie goes where it would have gone before the upgrade.
    from helpdesk.store import migrations
    from helpdesk.store.models import Agent, SchemaMigration

    routing_pool_without_tester(desk)
    for login in ("ann", "bob", "cat"):
        add_agent(desk, login, skills=["it"])
    for login in ("cat", "ann", "bob"):
        number = new_ticket(desk, type="it_support", title=f"for {login}")
        lifecycle.assign(desk, number, login)
        lifecycle.change_status(desk, number, "resolved")
    Agent.update(last_assigned=0).execute()
    SchemaMigration.delete().where(SchemaMigration.name == "0013_agent_last_assigned").execute()
    assert migrations.migrate(desk.db) == ["0013_agent_last_assigned"]
    order = [a.login for a in Agent.select().where(Agent.login.in_(["ann", "bob", "cat"])).order_by(Agent.last_assigned)]
    assert order == ["cat", "ann", "bob"]
    assert assignment.auto_assign(desk, new_ticket(desk, type="it_support")).assignee == "cat"
