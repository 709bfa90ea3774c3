"""The unit of work: one write transaction per user action, and what must wait for its commit.

Services open one with `with unit(desk) as work:`; domain calls inside it join its transaction.
`work.after_commit(fn)` queues a side effect that leaves the process (a mail to send, an Ollama call,
a change notification) to run once the transaction has committed, never while it holds the database's
write lock; `work.changed(*numbers)` records which tickets changed, for the change notification.
A unit opened inside another joins it: its queued effects run after the outermost commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class UnitOfWork:
    desk: object
    effects: list[Callable[[], object]] = field(default_factory=list)
    changed_tickets: set[int] = field(default_factory=set)

    def after_commit(self, effect: Callable[[], object]) -> None:
        self.effects.append(effect)

    def changed(self, *numbers: int) -> None:
        self.changed_tickets.update(numbers)


_open = threading.local()  # the unit of work this thread is inside, if any


@contextmanager
def unit(desk) -> Iterator[UnitOfWork]:
    outer = getattr(_open, "work", None)
    if outer is not None:
        yield outer
        return
    work = UnitOfWork(desk)
    _open.work = work
    try:
        with desk.db.atomic():
            yield work
    finally:
        _open.work = None
    for effect in work.effects:
        effect()
