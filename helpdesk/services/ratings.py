"""Customer satisfaction: a score given another way than by mail (phone, chat)."""

from __future__ import annotations

from helpdesk.domain import ratings
from helpdesk.services.work import unit


def rate(desk, number: int, score: int, comment: str = "", *, via: str = "agent"):
    """Record a 1..5 score (replacing an earlier one); 1-2 raise the negative-feedback alert."""
    with unit(desk) as work:
        view = ratings.record(desk, number, score, comment or "", via=via)
        work.changed(number)
    return view
