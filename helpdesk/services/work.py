"""The unit of work: one write transaction per user action, and what must wait for its commit.

Services open one with `with unit(desk) as work:`; domain calls inside it join its transaction.
`work.after_commit(fn)` queues a side effect that leaves the process (a mail to send, an Ollama call)
to run once the transaction has committed, never while it holds the database's write lock;
`work.changed(*numbers)` records which tickets changed: they are announced to listeners (the TUI, see
`helpdesk.store.notify`) when the transaction commits.

A unit opened inside another joins it (in a savepoint: if the inner block fails and the outer one
carries on, what the inner block queued is dropped with its writes); every queued effect runs after
the outermost commit, in the order queued. An effect that fails is logged and kept in
`work.failures`; the effects after it still run. Nothing queued runs when the transaction rolls back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

log = logging.getLogger("helpdesk.services")


@dataclass
class EffectFailure:
    """An after-commit effect that raised: the action itself is committed, this effect did not happen."""

    effect: Callable[[], object]
    error: Exception

    def __str__(self) -> str:
        name = getattr(self.effect, "__qualname__", None) or repr(self.effect)
        return f"{name}: {self.error.__class__.__name__}: {self.error}"


@dataclass
class UnitOfWork:
    desk: object
    effects: list[Callable[[], object]] = field(default_factory=list)
    changed_tickets: set[int] = field(default_factory=set)
    failures: list[EffectFailure] = field(default_factory=list)  # filled after the commit
    committed: bool = False

    def after_commit(self, effect: Callable[[], object]) -> None:
        self.effects.append(effect)

    def changed(self, *numbers: int) -> None:
        self.changed_tickets.update(n for n in numbers if n is not None)


_open = threading.local()  # per thread: the unit of work open on each database (by id), if any


def current(desk) -> UnitOfWork | None:
    """The unit of work this thread has open on the desk's database, if any."""
    return getattr(_open, "units", {}).get(id(desk.db))


@contextmanager
def unit(desk) -> Iterator[UnitOfWork]:
    units = getattr(_open, "units", None)
    if units is None:
        units = _open.units = {}
    key = id(desk.db)
    outer = units.get(key)
    if outer is not None:
        yield from _joined(desk, outer)
        return
    if desk.db.in_transaction():
        # Its effects would run at the end of a block that is not the real commit: while the caller's
        # transaction still holds the write lock, or for writes it may yet roll back.
        raise RuntimeError("a unit of work cannot be opened inside a transaction it does not own")
    work = UnitOfWork(desk)
    units[key] = work
    try:
        with desk.db.atomic():
            yield work
    finally:
        del units[key]
    work.committed = True
    _after_commit(work)


def _joined(desk, outer: UnitOfWork) -> Iterator[UnitOfWork]:
    queued, changed = len(outer.effects), set(outer.changed_tickets)
    try:
        with desk.db.atomic():  # a savepoint
            yield outer
    except BaseException:
        del outer.effects[queued:]
        outer.changed_tickets.intersection_update(changed)
        raise


def _after_commit(work: UnitOfWork) -> None:
    if work.changed_tickets:
        from helpdesk.store import notify  # lazy: loads with the first change to announce; reads never need it

        try:
            notify.publish(work.desk, sorted(work.changed_tickets))
        except Exception as exc:  # a listener missing one refresh must not fail a committed action
            log.warning("change notification for tickets %s not sent: %s", sorted(work.changed_tickets), exc)
    for effect in work.effects:
        try:
            effect()
        except Exception as exc:
            failure = EffectFailure(effect, exc)
            work.failures.append(failure)
            log.error("after commit: %s", failure, exc_info=exc)
