"""Moving tickets: assign, take, transfer, return, status changes, resolve, close, reopen, merge.
Each is one unit of work; an illegal move raises and changes nothing."""

from __future__ import annotations

from helpdesk.core.views import TicketView
from helpdesk.domain import lifecycle
from helpdesk.services.work import unit


def assign(desk, number: int, agent: str | None = None, *, auto: bool = False, force: bool = False,
           expected_version: int | None = None) -> TicketView:
    """To an agent (a transfer if it has one; 'me' is the acting agent), or `auto` by skills and load."""
    with unit(desk) as work:
        if auto:
            from helpdesk.domain import routing  # lazy: only auto-assignment weighs loads

            view = routing.auto_assign(desk, number, expected_version=expected_version)
        else:
            view = lifecycle.assign(desk, number, agent, expected_version=expected_version, force=force)
        work.changed(number)
    return view


def take(desk, number: int, *, force: bool = False, expected_version: int | None = None) -> TicketView:
    """Assign to the acting agent."""
    return assign(desk, number, "me", force=force, expected_version=expected_version)


def transfer(desk, number: int, *, agent: str | None = None, queue: str | None = None, force: bool = False,
             expected_version: int | None = None) -> TicketView:
    """Hand over to another agent, or to another queue (unassigned)."""
    with unit(desk) as work:
        if queue:
            view = lifecycle.transfer_to_queue(desk, number, queue, expected_version=expected_version)
        else:
            view = lifecycle.assign(desk, number, agent, expected_version=expected_version, force=force)
        work.changed(number)
    return view


def return_to_queue(desk, number: int, *, reason: str | None = None,
                    expected_version: int | None = None) -> TicketView:
    """Back to its queue: unassigned, status new."""
    with unit(desk) as work:
        view = lifecycle.return_to_queue(desk, number, reason=reason, expected_version=expected_version)
        work.changed(number)
    return view


def change_status(desk, number: int, state: str, *, reason: str | None = None,
                  expected_version: int | None = None) -> TicketView:
    """Move through the lifecycle (new, assigned, in_progress, pending, resolved, closed)."""
    with unit(desk) as work:
        view = lifecycle.change_status(desk, number, state, reason=reason, expected_version=expected_version)
        work.changed(number)
    return view


def resolve(desk, number: int, *, reason: str | None = None, expected_version: int | None = None) -> TicketView:
    return change_status(desk, number, "resolved", reason=reason, expected_version=expected_version)


def close(desk, number: int, *, reason: str | None = None, expected_version: int | None = None) -> TicketView:
    return change_status(desk, number, "closed", reason=reason, expected_version=expected_version)


def reopen(desk, number: int, *, reason: str | None = None, expected_version: int | None = None) -> TicketView:
    """A resolved ticket back to its owner, or the queue."""
    with unit(desk) as work:
        view = lifecycle.reopen(desk, number, reason=reason, expected_version=expected_version)
        work.changed(number)
    return view


def merge(desk, source: int, target: int, *, reason: str | None = None,
          expected_version: int | None = None) -> TicketView:
    """SOURCE into TARGET: conversation and tags move over, SOURCE is closed; returns TARGET
    (`expected_version`: SOURCE's, refused as stale if it moved)."""
    with unit(desk) as work:
        view = lifecycle.merge(desk, source, target, reason=reason, expected_version=expected_version)
        work.changed(source, target)
    return view
