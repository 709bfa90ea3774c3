"""The ticket lifecycle: new -> assigned -> in_progress -> pending -> resolved -> closed.

Every move is validated against `TRANSITIONS` and writes one audit event in the same transaction; an
illegal move raises `IllegalTransition` and changes nothing. Transfer, return, reopen and merge are
moves too.
"""

from __future__ import annotations

from helpdesk.core import limits
from helpdesk.core.errors import IllegalTransition, InvalidInput
from helpdesk.core.views import TicketView
from helpdesk.core.vocabulary import check_status, SLA_KINDS
from helpdesk.domain import audit, events, ratings, sla, tickets
from helpdesk.domain.eligibility import ineligible, mark_assigned
from helpdesk.store import queries, search, sql
from helpdesk.store.models import Agent, ConversationEntry, Queue, Ticket, TicketTag

# status -> the statuses it may move to with `ticket status`
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("assigned", "in_progress", "resolved"),
    "assigned": ("in_progress", "pending", "resolved", "new"),
    "in_progress": ("pending", "resolved", "new"),
    "pending": ("in_progress", "resolved"),
    "resolved": ("closed", "in_progress", "new"),
    "closed": (),
}
NEEDS_ASSIGNEE = ("assigned", "in_progress", "pending")


def action_for(old: str, new: str) -> str:
    """The audit name of a move: what an agent would call it."""
    if old == "resolved" and new in ("in_progress", "new"):
        return "reopened"
    if new == "new":
        return "returned"
    return {"resolved": "resolved", "closed": "closed"}.get(new, "status_changed")


def change_status(desk, number: int, new: str, *, reason: str | None = None,
                  expected_version: int | None = None) -> TicketView:
    check_status(new)
    with desk.db.atomic():
        ticket = tickets.fetch(number)
        _move(desk, ticket, new, reason=reason, expected_version=expected_version)
    return tickets.get(desk, number)


def _move(desk, ticket: Ticket, new: str, *, reason: str | None = None,
          expected_version: int | None = None, **extra_changes) -> None:
    limits.check_text("reason", reason, limits.REASON_MAX)
    old = ticket.status
    if old == new:
        raise IllegalTransition(f"ticket #{ticket.number} is already {new}")
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(TRANSITIONS[old]) or (
            f"none: a closed ticket is final; helpdesk ticket create --follow-up {ticket.number} links a new one")
        raise IllegalTransition(f"ticket #{ticket.number} cannot move from {old} to {new} (allowed: {allowed})")
    changes = dict(extra_changes)
    assignee = changes.get("assignee", ticket.assignee_id)
    if new in NEEDS_ASSIGNEE and assignee is None:
        raise IllegalTransition(f"ticket #{ticket.number} has no assignee: assign it before moving it to {new}")
    now = desk.now()
    if new == "new":
        changes["assignee"] = None  # returned to the queue
    if new == "resolved":
        changes["resolved_at"] = now
    if new == "closed":
        changes["closed_at"] = now
    if old == "resolved" and new != "closed":
        changes["resolved_at"] = None
    changes["status"] = new
    tickets.write(desk, ticket, expected_version, **changes)
    data = {"from": old, "to": new}
    if reason:
        data["reason"] = reason
    audit.record(desk, ticket.number, action_for(old, new), **data)
    sla.on_status_change(desk, ticket.number, old, new)  # after the move's event: cause, then effect
    if new == "resolved":
        ratings.request(desk, ticket)
    events.publish(desk, "status_changed", [ticket.number])


def assign(desk, number: int, login: str, *, expected_version: int | None = None,
           force: bool = False) -> TicketView:
    """Give the ticket to an agent: a new ticket becomes assigned; an owned one is transferred."""
    with desk.db.atomic():
        ticket = tickets.fetch(number)
        agent = tickets.agent_row(desk, login)
        if not agent.active:
            raise InvalidInput(f"agent '{agent.login}' is not active")
        if ticket.status in ("resolved", "closed"):
            raise IllegalTransition(f"ticket #{number} is {ticket.status}: reopen it before assigning it")
        if ticket.assignee_id == agent.id:
            raise IllegalTransition(f"ticket #{number} is already assigned to {agent.login}")
        if not force:
            # Claiming and transfers follow the routing rules: skills, queue, shift and capacity.
            why = ineligible(desk, ticket, agent)
            if why:
                raise IllegalTransition(f"{why}: use --force to assign anyway")
        previous = Agent.get_by_id(ticket.assignee_id).login if ticket.assignee_id else None
        mark_assigned(agent.id)
        if ticket.status == "new":
            _move(desk, ticket, "assigned", expected_version=expected_version, assignee=agent.id)
            audit.record(desk, number, "assigned", to=agent.login)
        else:
            # A transfer: the new owner has not started yet.
            changes = {"assignee": agent.id}
            if ticket.status == "in_progress":
                changes["status"] = "assigned"
            tickets.write(desk, ticket, expected_version, **changes)
            audit.record(desk, number, "transferred", **{"from": previous, "to": agent.login})
    return tickets.get(desk, number)


def transfer_to_queue(desk, number: int, queue: str, *, expected_version: int | None = None) -> TicketView:
    """Hand the ticket to another queue: it goes back to new, unassigned, for that queue to pick up."""
    if desk.config.queue(queue) is None:
        raise InvalidInput(f"unknown queue {limits.shown(queue)}")
    with desk.db.atomic():
        ticket = tickets.fetch(number)
        if ticket.status in ("resolved", "closed"):
            raise IllegalTransition(f"ticket #{number} is {ticket.status}: reopen it before transferring it")
        target = Queue.get(Queue.name == queue)
        if ticket.queue_id == target.id:
            raise IllegalTransition(f"ticket #{number} is already in queue {queue}")
        old_queue = Queue.get_by_id(ticket.queue_id).name if ticket.queue_id else None
        old_status = ticket.status  # read before write(), which updates the row object in place
        old_owner = Agent.get_by_id(ticket.assignee_id).login if ticket.assignee_id else None
        changes = {"queue": target.id, "assignee": None}
        if old_status != "new":
            changes["status"] = "new"
        tickets.write(desk, ticket, expected_version, **changes)
        if old_status != "new":  # e.g. a pending ticket's paused clocks run again
            sla.on_status_change(desk, number, old_status, "new")
        audit.record(desk, number, "transferred", queue={"from": old_queue, "to": queue},
                     **({"status": {"from": old_status, "to": "new"}} if old_status != "new" else {}),
                     **({"assignee": {"from": old_owner, "to": None}} if old_owner else {}))
    return tickets.get(desk, number)


def return_to_queue(desk, number: int, *, reason: str | None = None,
                    expected_version: int | None = None) -> TicketView:
    return change_status(desk, number, "new", reason=reason, expected_version=expected_version)


def reopen(desk, number: int, *, reason: str | None = None, expected_version: int | None = None) -> TicketView:
    """A resolved ticket goes back to its owner (in progress), or to the queue if it has none."""
    with desk.db.atomic():
        ticket = tickets.fetch(number)
        if ticket.status != "resolved":
            why = (f"a closed ticket is final: create a follow-up (helpdesk ticket create --follow-up {number} "
                   "--title ...)" if ticket.status == "closed" else "it is not resolved")
            raise IllegalTransition(f"ticket #{number} cannot be reopened: {why}")
        _move(desk, ticket, "in_progress" if ticket.assignee_id else "new", reason=reason,
              expected_version=expected_version)
    return tickets.get(desk, number)


def merge(desk, source: int, target: int, *, reason: str | None = None,
          expected_version: int | None = None) -> TicketView:
    """Merge SOURCE into TARGET: its conversation and tags move over, SOURCE is closed pointing at TARGET.
    `expected_version`: SOURCE's version as the person saw it (StaleVersion, nothing merged, if it moved)."""
    if source == target:
        raise InvalidInput("a ticket cannot be merged into itself")
    limits.check_text("reason", reason, limits.REASON_MAX)
    with desk.db.atomic():
        src = tickets.fetch(source)
        dst = tickets.fetch(target)
        if src.status == "closed":
            raise IllegalTransition(f"ticket #{source} is closed and cannot be merged")
        if dst.status == "closed":
            raise IllegalTransition(f"ticket #{target} is closed: merge into an open ticket")
        if dst.merged_into_id:
            raise IllegalTransition(f"ticket #{target} was merged into #{dst.merged_into_id}")
        tickets.check_version(src, expected_version)
        moved = (ConversationEntry.update(ticket=target).where(ConversationEntry.ticket == source).execute())
        # The source's own request becomes part of the target's conversation, so nothing is lost.
        ConversationEntry.create(ticket=target, kind="note", body=f"Merged from #{source}: {src.title}\n\n{src.description}".strip(),
                                 created_at=desk.now(), author_agent=Agent.get_or_none(Agent.login == desk.actor))
        src_tags = [t for (t,) in TicketTag.select(TicketTag.tag).where(TicketTag.ticket == source).tuples()]
        tickets._write_tags([(target, src_tags)])
        now = desk.now()
        tickets.write(desk, src, None, status="closed", closed_at=now, merged_into=target,
                      resolved_at=src.resolved_at or now)
        sla.stop(desk, source, SLA_KINDS)
        tickets.write(desk, dst, None)
        audit.record(desk, source, "merged", into=target, **({"reason": reason} if reason else {}))
        audit.record(desk, target, "merged_from", source=source, entries=moved)
        search.reindex_tickets([source, target])
    return tickets.get(desk, target)


def create_follow_up(desk, parent: int, inp: tickets.TicketInput) -> tuple[TicketView, bool]:
    """A new ticket linked to a resolved or closed one (its `parent`): a closed ticket is final, so new
    work on the same matter starts here. Without a customer it has the original's. Returns the ticket
    and whether it is new (an idempotency key may name one that exists)."""
    with desk.db.atomic():
        original = tickets.fetch(parent)
        if original.status not in ("resolved", "closed"):
            raise IllegalTransition(f"ticket #{parent} is still open ({original.status}): reply to it instead "
                                    "of opening a follow-up")
        if not inp.customer and original.customer_id:
            inp.customer = queries.customer_email(desk.db, original.customer_id)
        result = tickets.intake_many(desk, [inp])[0]
        if result.created:
            sql.update_row(Ticket, result.number, parent=parent)
            audit.record(desk, result.number, "follow_up_of", parent=parent)
            audit.record(desk, parent, "followed_up", by=result.number)
    return tickets.get(desk, result.number), result.created


def customer_answered(desk, ticket: Ticket) -> None:
    """The customer wrote back: a pending ticket is worked on again, a resolved one is reopened.

    Called inside the caller's transaction (the mail intake), with the ticket row it read.
    """
    who = desk.actor
    if ticket.status == "pending":
        target = "in_progress" if ticket.assignee_id else "new"
    elif ticket.status == "resolved":
        target = "in_progress" if ticket.assignee_id else "new"
    else:
        return
    _move(desk, ticket, target, reason=f"the customer answered ({who})")
