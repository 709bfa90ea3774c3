"""SLA: policies per priority (optionally per type and organisation), clocks on business calendars,
and the sweep that marks at-risk and breached clocks and escalates, exactly once.

Clocks: first_response (stops at the first public reply by an agent), next_update (runs from the
customer's latest message to the next public reply) and resolution (stops at resolved, resumes on
reopen keeping the time used). All pause while the ticket is pending. Every start, pause, resume and
stop is an audit event, so a clock can be explained minute by minute.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import peewee as pw

from helpdesk.config.sla import (  # noqa: F401 - part of this module's interface
    DEFAULT_POLICIES, Policy, SlaSettings, parse_duration, parse_settings,
)
from helpdesk.core.errors import StaleVersion
from helpdesk.core.views import _plain
from helpdesk.core.vocabulary import SLA_KINDS
from helpdesk.domain import audit, calendar, events, outbox
from helpdesk.domain.calendar import Calendar
from helpdesk.store import queries, sql
from helpdesk.store.bulk import insert_rows
from helpdesk.store.models import Agent, Queue, SlaClock, Ticket

KINDS = SLA_KINDS


def settings(desk) -> SlaSettings:
    """The desk's SLA policies and calendars (parsed once, with its configuration)."""
    return desk.config.sla


def calendar_of(sla: SlaSettings, name: str) -> Calendar:
    """The named business calendar (24x7 if none has that name), ready to compute with."""
    return calendar.of(sla.calendar(name))


def check_calendars(desk) -> None:
    """Load every calendar's public holidays now: a bad holiday country fails the daemon's start."""
    for spec in settings(desk).calendars.values():
        calendar.of(spec).check(desk.now().year)


# ---------------------------------------------------------------- clocks


@dataclass
class ClockView:
    kind: str
    policy: str
    state: str
    target_minutes: int
    used_minutes: float
    remaining_minutes: float
    due_at: dt.datetime | None
    at_risk: bool
    breached: bool
    calendar: str = ""  # the business calendar its time counts on

    def to_dict(self) -> dict:
        return _plain(asdict(self))


def _used(clock, cal: Calendar, now: dt.datetime) -> dt.timedelta:
    used = dt.timedelta(seconds=clock.used_seconds)
    if clock.state == "running" and clock.started_at is not None:
        used += cal.between(clock.started_at, now)
    return used


# (calendar, at-risk share, start, target, used) -> (due, risk): tickets created or retargeted together
# share them. Shared by every thread: a lock keeps the clearing and filling apart.
_schedules: dict[tuple, tuple[dt.datetime, dt.datetime]] = {}
_schedules_lock = threading.Lock()


def _schedule(sla: SlaSettings, cal: Calendar, start: dt.datetime, target_minutes: int,
              used: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    """When the clock is due and at risk (business time on `cal`, counting from `start`)."""
    key = (cal, sla.at_risk, start, target_minutes, used)
    found = _schedules.get(key)
    if found is None:
        found = _due_and_risk(sla, cal, start, target_minutes, used)
        with _schedules_lock:
            if len(_schedules) > 10_000:
                _schedules.clear()
            _schedules[key] = found
    return found


def _due_and_risk(sla: SlaSettings, cal: Calendar, start: dt.datetime, target_minutes: int,
                  used: dt.timedelta) -> tuple[dt.datetime, dt.datetime]:
    used_min = used.total_seconds() / 60
    due = cal.add(start, max(0.0, target_minutes - used_min)) if target_minutes > used_min else start
    risk_min = target_minutes * sla.at_risk
    risk = cal.add(start, max(0.0, risk_min - used_min)) if risk_min > used_min else start
    return due, risk


class NewClocks(NamedTuple):
    """The clocks a new ticket starts with: rows (kind, policy, calendar, target, due, risk), and the
    nearest due and at-risk times among them (the ticket row's `sla_due_at` / `sla_risk_at`)."""

    rows: list[tuple]
    due: dt.datetime | None
    risk: dt.datetime | None


def new_clocks(desk, tickets: list[tuple[str, str | None, str | None]], now: dt.datetime) -> list[NewClocks]:
    """The first-response and resolution clocks of new tickets (priority, type, org), computed before
    the tickets are written, so each row is inserted with its nearest times (writing them after doubled
    the writes of a bulk intake on PostgreSQL). Tickets created together share their start, so due
    times are computed once per policy (`_schedule`)."""
    sla = settings(desk)
    out = []
    for priority, type_, org in tickets:
        policy = sla.policy_for(priority, type_, org)
        rows = []
        if policy is not None:
            cal = calendar_of(sla, policy.calendar)
            for kind in ("first_response", "resolution"):
                target = policy.targets.get(kind)
                if target is not None:
                    rows.append((kind, policy.name, policy.calendar, target, *_schedule(sla, cal, now, target, dt.timedelta())))
        out.append(NewClocks(rows, min((r[4] for r in rows), default=None), min((r[5] for r in rows), default=None)))
    return out


def start_for_new(desk, created: list[tuple[int, NewClocks]], now: dt.datetime) -> None:
    """Start the clocks `new_clocks` computed for these new tickets (number, its clocks), whose rows
    hold their nearest times already."""
    rows = [(number, kind, policy, cal, target, "running", now, 0, due, risk)
            for number, clocks in created for kind, policy, cal, target, due, risk in clocks.rows]
    insert_rows(SlaClock, ("ticket", "kind", "policy", "calendar", "target_minutes", "state", "started_at",
                           "used_seconds", "due_at", "risk_at"), rows)


def refresh_due_times(desk, numbers) -> list[int]:
    """Set the tickets' nearest running due and at-risk times (`Ticket.sla_due_at` / `sla_risk_at`) from
    their clocks: called after every change to a ticket's clocks (pause, resume, stop, next update,
    retarget, restore; a new ticket is inserted with its times, `new_clocks`), so sorting by due and
    `sla:` read indexed columns, never the clocks of every ticket. Returns the tickets whose times
    changed: only those rows are written."""
    return queries.refresh_sla_times(desk.db, numbers) if numbers else []


def _clocks(number: int, kinds=KINDS):
    # Plain SQL: read on every reply and status change.
    return queries.sla_clocks(number, kinds)


def _event(desk, clock, action: str, **data) -> None:
    audit.record(desk, clock.ticket_id, action, clock=clock.kind, policy=clock.policy, **data)


def pause(desk, number: int) -> None:
    """The ticket waits on the customer: running clocks stop counting, keeping the time used."""
    sla, now = settings(desk), desk.now()
    changed = False
    for clock in _clocks(number):
        if clock.state != "running":
            continue
        used = _used(clock, calendar_of(sla, clock.calendar), now)
        sql.update_row(SlaClock, clock.id, state="paused", used_seconds=int(used.total_seconds()), started_at=None,
                       due_at=None, risk_at=None)
        _event(desk, clock, "sla_paused", used_minutes=round(used.total_seconds() / 60, 1))
        changed = True
    if changed:
        refresh_due_times(desk, [number])


def resume(desk, number: int, kinds=KINDS) -> None:
    """Paused (or stopped resolution, on reopen) clocks count again from now, with the time already used."""
    sla, now = settings(desk), desk.now()
    changed = False
    for clock in _clocks(number, kinds):
        if clock.state == "running":
            continue
        if clock.state == "stopped" and clock.kind != "resolution":
            continue
        cal = calendar_of(sla, clock.calendar)
        used = dt.timedelta(seconds=clock.used_seconds)
        due, risk = _schedule(sla, cal, now, clock.target_minutes, used)
        sql.update_row(SlaClock, clock.id, state="running", started_at=now, due_at=due, risk_at=risk, stopped_at=None)
        _event(desk, clock, "sla_resumed", used_minutes=round(used.total_seconds() / 60, 1), due_at=due)
        changed = True
    if changed:
        refresh_due_times(desk, [number])


def stop(desk, number: int, kinds: tuple[str, ...]) -> None:
    sla, now = settings(desk), desk.now()
    changed = False
    for clock in _clocks(number, kinds):
        if clock.state == "stopped":
            continue
        used = _used(clock, calendar_of(sla, clock.calendar), now)
        sql.update_row(SlaClock, clock.id, state="stopped", used_seconds=int(used.total_seconds()), started_at=None,
                       due_at=None, risk_at=None, stopped_at=now)
        met = used.total_seconds() <= clock.target_minutes * 60
        _event(desk, clock, "sla_stopped", used_minutes=round(used.total_seconds() / 60, 1), met=met)
        changed = changed or clock.state == "running"  # a paused clock had no due time already
    if changed:
        refresh_due_times(desk, [number])


_NEXT_UPDATE_COLUMNS = ("policy", "calendar", "target_minutes", "state", "started_at", "used_seconds", "due_at",
                        "risk_at", "stopped_at", "at_risk_fired_at", "breached_fired_at")


def start_next_update(desk, number: int, ticket=None) -> None:
    """The customer wrote: the next-update clock runs until an agent answers publicly.

    `ticket`: the row as it is now, if the caller holds it (else it is read)."""
    if ticket is None:
        ticket = Ticket.get_by_id(number)
    org, existing = queries.organisation_and_clock(desk.db, ticket.customer_id, number, "next_update")
    sla, now = settings(desk), desk.now()
    policy = sla.policy_for(ticket.priority, ticket.type, org)
    if policy is None or "next_update" not in policy.targets:
        return
    target = policy.targets["next_update"]
    cal = calendar_of(sla, policy.calendar)
    due, risk = _schedule(sla, cal, now, target, dt.timedelta())
    state = "paused" if ticket.status == "pending" else "running"
    running = state == "running"
    values = dict(zip(_NEXT_UPDATE_COLUMNS, (
        policy.name, policy.calendar, target, state, now if running else None, 0, due if running else None,
        risk if running else None, None, None, None)))
    if existing is not None:
        sql.update_row(SlaClock, existing, **values)
    else:
        sql.insert(desk.db, "sla_clock", ("ticket_id", "kind", *values), (number, "next_update", *values.values()))
    refresh_due_times(desk, [number])
    audit.record(desk, number, "sla_started", clock="next_update", policy=policy.name, due_at=due)


def _organisation(ticket) -> str | None:
    return queries.customer_organisation(ticket._meta.database, ticket.customer_id)


def on_status_change(desk, number: int, old: str, new: str) -> None:
    """Called by the lifecycle inside the move's transaction."""
    if new == "pending":
        pause(desk, number)
    elif old == "pending" and new not in ("resolved", "closed"):
        resume(desk, number, ("first_response", "next_update", "resolution"))
    if new in ("resolved", "closed"):
        stop(desk, number, KINDS)
    elif old in ("resolved",) and new not in ("closed",):
        resume(desk, number, ("resolution",))


def on_priority_change(desk, number: int) -> None:
    """A new priority may mean a new policy: clocks keep the time used and take the new targets."""
    ticket = sql.get_row(Ticket, number)
    sla, now = settings(desk), desk.now()
    policy = sla.policy_for(ticket.priority, ticket.type, _organisation(ticket))
    if policy is None:
        return
    cal = calendar_of(sla, policy.calendar)
    changed = False
    for clock in _clocks(number):
        target = policy.targets.get(clock.kind)
        if clock.state == "stopped" or target is None or (clock.policy == policy.name and clock.target_minutes == target):
            continue
        values = {"policy": policy.name, "calendar": policy.calendar, "target_minutes": target}
        if clock.state == "running":
            used = _used(clock, calendar_of(sla, clock.calendar), now)
            due, risk = _schedule(sla, cal, now, target, used)
            values.update(used_seconds=int(used.total_seconds()), started_at=now, due_at=due, risk_at=risk)
            changed = True
        sql.update_row(SlaClock, clock.id, **values)
        _event(desk, clock, "sla_retargeted", new_policy=policy.name, target_minutes=target)
    if changed:
        refresh_due_times(desk, [number])


def on_agent_reply(desk, number: int) -> None:
    stop(desk, number, ("first_response", "next_update"))


def clocks(desk, number: int) -> list[ClockView]:
    sla, now = settings(desk), desk.now()
    out = []
    for clock in sorted(_clocks(number), key=lambda c: KINDS.index(c.kind)):
        used = _used(clock, calendar_of(sla, clock.calendar), now)
        used_min = used.total_seconds() / 60
        out.append(ClockView(
            kind=clock.kind, policy=clock.policy, state=clock.state, target_minutes=clock.target_minutes,
            used_minutes=round(used_min, 1), remaining_minutes=round(clock.target_minutes - used_min, 1),
            due_at=clock.due_at, at_risk=clock.at_risk_fired_at is not None or used_min >= clock.target_minutes * sla.at_risk,
            breached=clock.breached_fired_at is not None or used_min > clock.target_minutes,
            calendar=clock.calendar))
    return out


def next_due(desk, numbers: list[int]) -> dict[int, dt.datetime]:
    """Each ticket's nearest due time among its running clocks (tickets with none are absent): the
    time `refresh_due_times` keeps on the ticket row."""
    return {number: Ticket.sla_due_at.python_value(due) for number, due in queries.stored_due_times(desk.db, numbers)}


def next_due_key(descending: bool = False) -> pw.Node:
    """A ticket's nearest running due time as a sort key (its `sla_due_at`, kept by `refresh_due_times`,
    indexed with the number for each direction); tickets with no running clock sort last either way."""
    return queries.due_sort_key(descending)


# ---------------------------------------------------------------- the sweep


@dataclass
class SweepReport:
    at_risk: list[dict] = field(default_factory=list)
    breached: list[dict] = field(default_factory=list)
    escalations: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


PRIORITY_UP = {"P3": "P2", "P2": "P1", "P1": "P0"}
DIGEST_LINES = 50  # clocks listed in one agent's mail of a sweep

def sweep(desk) -> SweepReport:
    """Mark clocks that crossed their at-risk share or their target since the last sweep, and
    escalate. Set-based: one UPDATE ... RETURNING claims each crossing, so it fires exactly once even
    when sweeps overlap (the second finds the row already claimed).

    Each crossing writes one audit event, which also says what its escalation did; agents get one mail
    per sweep listing their tickets (a digest), not one per crossing, so a sweep that catches up after an
    outage neither floods their mailboxes nor the audit trail."""
    now = desk.now()
    report = SweepReport()
    with desk.db.atomic():
        # Sorted, so reports and events come in ticket order on both backends.
        risky = sorted(queries.claim_at_risk(desk.db, now), key=lambda r: (r[1], r[2]))
        late = sorted(queries.claim_breached(desk.db, now), key=lambda r: (r[1], r[2]))
        sla = settings(desk)
        policies = {p.name: p for p in sla.policies}

        # Event rules may read and change anything: before one runs, everything so far is written out,
        # and if it fired, what the escalations had read is read again.
        events_with_rules = (set() if desk.rules_muted
                             else {rule.on for rule in desk.config.automation.rules})
        crossings = [(r, "at_risk") for r in risky] + [(r, "breached") for r in late]
        steps = Escalations(desk, [r[1] for r in risky] + [r[1] for r in late], now)
        steps.mark({r[1] for r in risky}, {r[1] for r in late})
        for (_, number, kind, pname), label in crossings:
            entry = {"ticket": number, "clock": kind, "policy": pname}
            (report.at_risk if label == "at_risk" else report.breached).append(entry)
            policy = policies.get(pname)
            actions = () if policy is None else (policy.on_at_risk if label == "at_risk" else policy.on_breach)
            done = []
            for action in actions:
                outcome = steps.escalate(number, kind, label, action)
                if outcome:
                    done.append(outcome)
                    report.escalations.append(f"#{number} {kind} {label}: {outcome.summary}")
            steps.events.add(number, f"sla_{label}", (kind, pname, *(o.key for o in done)),
                             lambda: {"clock": kind, "policy": pname, "escalation": [o.data for o in done]})
            if f"sla_{label}" in events_with_rules:
                steps.flush()
                if events.publish(desk, f"sla_{label}", [number]):
                    steps.forget()
        steps.finish()
    return report


class _Events:
    """Audit events kept for `audit.record_encoded`, each distinct event data encoded once: a sweep
    writes a few shapes many times."""

    def __init__(self, desk):
        self.desk = desk
        self.rows: list[tuple[int, str, str]] = []
        self.encoded: dict[tuple, str] = {}

    def add(self, ticket: int, action: str, key: tuple, data) -> None:
        """`data()` makes the event's data; `key` stands for it (equal keys: equal data)."""
        key = (action, *key)
        text = self.encoded.get(key)
        if text is None:
            text = self.encoded[key] = audit.encode(data())
        self.rows.append((ticket, action, text))

    def write(self) -> None:
        if self.rows:
            audit.record_encoded(self.desk, self.rows)
        self.rows = []


def _notification(number: int, kind: str, label: str, title: str, priority: str, status: str) -> tuple[str, str]:
    """Subject and body of the mail that tells an agent a clock is at risk or breached."""
    return (f"[#{number}] SLA {label.replace('_', ' ')}: {kind.replace('_', ' ')} - {title}",
            f"Ticket #{number} ({priority}, {status}): the {kind.replace('_', ' ')} clock is "
            f"{label.replace('_', ' ')}.\n")


class Outcome(NamedTuple):
    """What one escalation step did: a line for people, the audit data, and a key standing for the data."""

    summary: str
    data: dict
    key: tuple


class Escalations:
    """Escalation steps (notify, raise_priority, queue:NAME) on a set of tickets, as one sweep (or one
    rule) runs them: the tickets, agents and queues read once, ticket changes and events written in
    bulk (`flush`), all at one moment. A ticket change keeps `tickets.write`'s optimistic check: the row
    is written only if its version is still the one read, else the whole transaction fails and rolls
    back (the next sweep does the work, still exactly once).

    Notifications are gathered per agent and sent by `finish`: one mail per agent, naming the ticket
    when there is one, listing them all (a digest) when there are several."""

    _COLUMNS = ("title", "status", "priority", "queue", "assignee", "version", "sla_state")

    def __init__(self, desk, numbers: list[int], now: dt.datetime):
        self.desk = desk
        self.now = now
        self.tickets: dict[int, dict] = {}
        self.changed: dict[int, dict] = {}  # number -> columns changed since the last flush
        self.seen: dict[int, int] = {}  # number -> its version in the database
        self.sla_states: dict[int, str] = {}  # number -> its new sla_state (written with its other changes)
        self.events = _Events(desk)
        self.mail: dict[str, list[tuple]] = {}  # address -> what to tell that agent (`_notification`'s arguments)
        self.refused: dict[str, str | None] = {}  # address -> why no automatic mail may go there, or None
        self.recipients: dict[tuple, list[tuple[str, str]]] = {}  # (assignee, queue) -> who is notified
        self._load(sorted(set(numbers)))
        # Plain SQL: a rule escalating one ticket builds one of these per ticket.
        self.agents = queries.agent_addresses(desk.db)
        self.agent_ids = {login: aid for aid, (login, _) in self.agents.items()}
        self.queues = queries.queue_names(desk.db)
        self.queue_ids = {name: qid for qid, name in self.queues.items()}

    def _load(self, numbers: list[int]) -> None:
        for number, *values in queries.ticket_columns(self.desk.db, numbers, self._COLUMNS):
            self.tickets[number] = dict(zip(self._COLUMNS, values))

    def _ticket(self, number: int) -> dict:
        ticket = self.tickets.get(number)
        if ticket is None:  # (runs for every step: imports only here)

            self._load([number])
            if number not in self.tickets:
                raise Ticket.DoesNotExist(f"ticket #{number} does not exist")
            ticket = self.tickets[number]
        return ticket

    def _agent(self, agent_id: int) -> tuple[str, str | None]:
        if agent_id not in self.agents:
            agent = Agent.get_by_id(agent_id)
            self.agents[agent_id] = (agent.login, agent.email)
        return self.agents[agent_id]

    def _queue_name(self, queue_id: int) -> str:
        if queue_id not in self.queues:
            self.queues[queue_id] = Queue.get_by_id(queue_id).name
        return self.queues[queue_id]

    def _queue_id(self, name: str) -> int | None:
        if name not in self.queue_ids:
            queue = Queue.get_or_none(Queue.name == name)
            if queue is None:
                return None
            self.queue_ids[name] = queue.id
        return self.queue_ids[name]

    def _write(self, number: int, **changes) -> None:
        """What `tickets.write` does, kept until the next flush."""
        ticket = self.tickets[number]
        self.seen.setdefault(number, ticket["version"])
        changes["version"] = ticket["version"] + 1
        changes["updated_at"] = self.now
        if "status" in changes and changes["status"] != ticket["status"]:
            changes["status_changed_at"] = self.now
        self.changed.setdefault(number, {}).update(changes)
        ticket.update(changes)

    def _recipients(self, assignee: int | None, queue: int | None) -> list[tuple[str, str]]:
        """(login, lowercased email) of the assignee and the queue's lead who have an email."""
        key = (assignee, queue)
        found = self.recipients.get(key)
        if found is None:
            ids = [assignee] if assignee else []
            if queue:
                spec = self.desk.config.queue(self._queue_name(queue))
                lead_id = self.agent_ids.get(spec.lead) if spec and spec.lead else None
                if lead_id is not None and lead_id not in ids:
                    ids.append(lead_id)
            found = self.recipients[key] = [(login, email.lower()) for login, email in map(self._agent, ids) if email]
        return found

    def mark(self, at_risk: set[int], breached: set[int]) -> None:
        """The tickets' `sla_state` (what `sla:at_risk` / `sla:breached` find): breached wins; at risk
        only over nothing. Written by `flush`, in the same UPDATE as a ticket's escalation changes:
        on PostgreSQL every row update is a new row version, so each ticket is written once."""
        for number in at_risk - breached:
            if self._ticket(number)["sla_state"] is None:
                self.sla_states[number] = "at_risk"
        for number in breached:
            self.sla_states[number] = "breached"

    def _refusal(self, address: str) -> str | None:
        """Why no automatic mail may go to this (lowercased) address (bounced, hourly cap), asked once per sweep:
        the sweep sends each agent one mail at most."""
        if address not in self.refused:
            self.refused[address] = outbox.auto_mail_allowed(self.desk, address)
        return self.refused[address]

    def escalate(self, number: int, kind: str, label: str, action: str) -> Outcome | None:
        """One step on one ticket; None when it had nothing to do."""
        ticket = self._ticket(number)
        if ticket["status"] in ("resolved", "closed") and action != "notify":
            return None
        if action == "notify":
            notified, suppressed = [], []
            item = (number, kind, label, ticket["title"], ticket["priority"], ticket["status"])
            for login, email in self._recipients(ticket["assignee"], ticket["queue"]):
                if self._refusal(email):
                    suppressed.append(login)
                else:
                    self.mail.setdefault(email, []).append(item)
                    notified.append(login)
            data = {"step": "notify", "notified": notified}
            if suppressed:  # the hourly cap or a bounce: the mail is not sent, and the trail says so
                data["suppressed"] = suppressed
            summary = f"notified {', '.join(notified) or 'nobody (no assignee or lead with an email)'}"
            return Outcome(summary, data, ("notify", tuple(notified), tuple(suppressed)))
        if action == "raise_priority":
            new = PRIORITY_UP.get(ticket["priority"])
            if not new:
                return None
            old = ticket["priority"]
            self._write(number, priority=new)
            return Outcome(f"priority raised to {new}", {"step": "raise_priority", "priority": [old, new]},
                           ("raise_priority", old, new))
        if action.startswith("queue:"):
            name = action[len("queue:"):]
            queue_id = self._queue_id(name)
            if queue_id is None or ticket["queue"] == queue_id:
                return None
            changes = {"queue": queue_id, "assignee": None}
            if ticket["status"] != "new":
                changes["status"] = "new"
            self._write(number, **changes)
            return Outcome(f"moved to queue {name}", {"step": "reassign", "queue": name}, ("reassign", name))
        return None

    def flush(self) -> None:
        """Write the events and ticket changes kept so far (tickets with the same changes together)."""
        self.events.write()
        groups: dict[tuple, list[int]] = {}
        for number, changes in self.changed.items():
            if self.sla_states.get(number) == "breached":  # (at risk needs its IS NULL guard below)
                changes["sla_state"] = self.sla_states.pop(number)
            groups.setdefault((self.seen[number], tuple(sorted(changes.items()))), []).append(number)
        # Tickets whose only change is their SLA state: no version bump (no one's edit is overwritten).
        by_state: dict[str, list[int]] = {}
        for number, state in self.sla_states.items():
            by_state.setdefault(state, []).append(number)
        for state, numbers in by_state.items():
            queries.set_sla_state(self.desk.db, numbers, state)
        self.sla_states.clear()
        for (seen, changes), numbers in groups.items():
            # `tickets.write`'s versioned UPDATE, for every ticket of the group at once.
            if queries.update_ticket_if_version(self.desk.db, numbers, seen, dict(changes)) != len(numbers):
                stale = [n for n, v in Ticket.select(Ticket.number, Ticket.version)
                         .where(Ticket.number.in_(numbers)).tuples() if v != self.tickets[n]["version"]]
                raise StaleVersion(f"ticket #{min(stale, default=numbers[0])} was changed by someone else "
                                   "meanwhile: reload it and try again")
        self.changed.clear()
        self.seen.clear()

    def forget(self) -> None:
        """An event rule ran (after a flush): read the tickets again when next needed."""
        self.tickets.clear()

    def finish(self) -> None:
        """Write everything out and queue the agents' mails."""
        self.flush()
        for address, items in self.mail.items():
            items = list(dict.fromkeys(items))
            numbers = {item[0] for item in items}
            listed = items if len(items) <= DIGEST_LINES else items[:DIGEST_LINES]
            body = "".join(_notification(*item)[1] for item in listed)
            if len(listed) < len(items):  # a catch-up sweep: the list is for reading, the desk has the rest
                body += (f"... and {len(items) - len(listed)} more; see them with: "
                         "helpdesk ticket list 'sla:at_risk,breached assignee:me'\n")
            if len(numbers) == 1:  # on the ticket's own thread
                subject = (_notification(*items[0])[0] if len(items) == 1 else
                           f"[#{items[0][0]}] SLA: {len(items)} clocks need attention - {items[0][3]}")
                outbox.queue_automatic(self.desk, Ticket.get_by_id(items[0][0]), "notification", address,
                                       subject[:500], body)
            else:
                outbox.queue_digest(self.desk, address, f"SLA: {len(numbers)} tickets need attention", body)
        self.mail.clear()


def escalate(desk, number: int, kind: str, label: str, actions: list[str]) -> list[str]:
    """Escalation steps (notify, raise_priority, queue:NAME) on one ticket, outside a sweep (an
    automation rule): one `sla_escalated` event listing what they did; returns a line per step done."""
    steps = Escalations(desk, [number], desk.now())
    done = [outcome for outcome in (steps.escalate(number, kind, label, action) for action in actions) if outcome]
    if done:
        steps.events.add(number, "sla_escalated", (kind, label, *(o.key for o in done)),
                         lambda: {"clock": kind, "state": label, "escalation": [o.data for o in done]})
    steps.finish()
    return [o.summary for o in done]
