"""Satisfaction ratings: when a ticket is resolved the customer is asked, by mail, for a 1-5 score and
an optional comment; answering the mail with a digit is enough. A score of 1 or 2 raises a
negative-feedback alert: an audit event, an internal note, and a mail to the queue lead.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from helpdesk.core import limits
from helpdesk.core.errors import InvalidInput
from helpdesk.domain import audit, outbox
from helpdesk.store import queries
from helpdesk.store.models import Agent, ConversationEntry, Customer, Outbox, Queue, Rating, Ticket

SCORE_RE = re.compile(r"^\s*([1-5])(?:\s*(?:/\s*5|stars?|of 5))?\s*(?:[-:,.!]\s*)?(.*)$", re.I | re.S)
NEGATIVE = (1, 2)


@dataclass
class RatingView:
    ticket: int
    score: int
    comment: str
    via: str

    def to_dict(self) -> dict:
        return asdict(self)


def enabled(desk) -> bool:
    raw = desk.config.raw.get("ratings", {})
    return bool(raw.get("enabled", True)) if isinstance(raw, dict) else True


def request(desk, ticket) -> int | None:
    """Ask the customer of a just-resolved ticket for a score (an automatic mail, rate-capped)."""
    if not enabled(desk) or not ticket.customer_id:
        return None
    customer = Customer.get_by_id(ticket.customer_id)
    body = (f"Your request #{ticket.number} ({ticket.title}) has been resolved.\n\n"
            "How satisfied are you with our help? Reply to this mail with a number from 1 (poor) to "
            "5 (excellent), and a comment if you like.\n\n"
            "If the problem is not solved, simply reply and describe what is still wrong.\n\n"
            f"{desk.config.desk_name}")
    return outbox.queue_automatic(desk, ticket, "rating_request", customer.email,
                                  f"[#{ticket.number}] How did we do? {ticket.title}"[:500], body)


def parse_score(text: str) -> tuple[int, str] | None:
    """(score, comment) if the text starts with a digit 1-5, else None."""
    match = SCORE_RE.match(text or "")
    if not match:
        return None
    rest = match.group(2).strip()
    if rest and rest[0].isdigit():
        return None  # "10 minutes later it broke again" is not a rating
    return int(match.group(1)), rest


def awaiting(number: int) -> bool:
    asked = Outbox.select().where((Outbox.ticket == number) & (Outbox.kind == "rating_request")).exists()
    return asked and not Rating.select().where(Rating.ticket == number).exists()


def record(desk, number: int, score: int, comment: str = "", *, via: str = "email") -> RatingView:
    """Store a score (replacing an earlier one); 1-2 raise the negative-feedback alert."""
    if not isinstance(score, int) or not 1 <= score <= 5:
        raise InvalidInput(f"a rating is a whole number from 1 to 5, not {score!r}")
    comment = (comment or "").strip()
    if via == "email":  # the rest of a long mail reply stays in the conversation
        comment = comment[:limits.RATING_COMMENT_MAX]
    limits.check_text("rating comment", comment, limits.RATING_COMMENT_MAX)
    with desk.db.atomic():
        ticket = queries.ticket_row(number)
        Rating.delete().where(Rating.ticket == number).execute()
        Rating.create(ticket=number, score=score, comment=comment, via=via, created_at=desk.now())
        audit.record(desk, number, "rated", score=score, **({"comment": comment} if comment else {}))
        if score in NEGATIVE:
            audit.record(desk, number, "negative_feedback", score=score)
            ConversationEntry.create(ticket=number, kind="note", created_at=desk.now(),
                                     body=f"Negative feedback: the customer rated this ticket {score}/5."
                                          + (f"\n\n{comment}" if comment else ""))
            lead = None
            if ticket.queue_id:
                spec = desk.config.queue(Queue.get_by_id(ticket.queue_id).name)
                lead = Agent.get_or_none(Agent.login == spec.lead) if spec and spec.lead else None
            if lead and lead.email:
                outbox.queue_automatic(desk, Ticket.get_by_id(number), "notification", lead.email,
                                       f"[#{number}] Negative feedback ({score}/5): {ticket.title}"[:500],
                                       f"The customer rated ticket #{number} {score}/5.\n\n{comment}".strip() + "\n")
    return RatingView(number, score, comment, via)


def get(number: int) -> RatingView | None:
    row = Rating.get_or_none(Rating.ticket == number)
    return RatingView(number, row.score, row.comment, row.via) if row else None
