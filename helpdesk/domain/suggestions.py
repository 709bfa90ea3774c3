"""AI suggestions on tickets: recorded, applied by the desk's policy, accepted or changed by people.

Plain values in and out (the AI package sits above this layer): a classification arrives as a dict of
field -> {value, confidence, level, source}. What a person accepts or changes is kept as `final_value`:
the next training reads it as a label. Applying follows `[ai]`: the fields in `apply`, at `apply_level`
or above; a category sets the type of a ticket that has none; a priority only ever rises, never to P0
(that takes a rule or a person); sentiment is recorded as applied, and very negative raises an alert.
Every application and decision is an audit event.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from helpdesk.core.errors import HelpdeskError, InvalidInput, NotFound
from helpdesk.core.vocabulary import CONFIDENCE_LEVELS as LEVELS
from helpdesk.core.vocabulary import PRIORITIES, check_priority
from helpdesk.domain import audit, tickets
from helpdesk.store import ai_queries

SYSTEM_AI = "system:ai"  # the actor of what the policy applies
KINDS = ("category", "priority", "sentiment", "language")
AUTO_PRIORITY_CEILING = "P1"  # never P0 without a rule or a person


@dataclass(frozen=True)
class SuggestionView:
    id: int
    ticket: int
    kind: str
    value: str
    confidence: float
    level: str
    source: str
    model_version: str
    status: str
    final_value: str | None
    decided_by: str | None
    created_at: object

    def to_dict(self) -> dict:
        return {"id": self.id, "ticket": self.ticket, "kind": self.kind, "value": self.value,
                "confidence": round(self.confidence, 3), "level": self.level, "source": self.source,
                "model_version": self.model_version, "status": self.status, "final_value": self.final_value,
                "decided_by": self.decided_by,
                "created_at": self.created_at.isoformat() if hasattr(self.created_at, "isoformat") else self.created_at}


def _view(row) -> SuggestionView:
    return SuggestionView(row.id, row.ticket_id, row.kind, row.value, row.confidence, row.level, row.source,
                          row.model_version, row.status, row.final_value, row.decided_by, row.created_at)


def _rank(level: str) -> int:
    return LEVELS.index(level)


def record(desk, number: int, found: dict[str, dict | None], *, model_versions: dict[str, str] | None = None,
           injection: dict | None = None) -> list[SuggestionView]:
    """Store a classification of ticket `number` (field -> suggestion dict or None); the earlier offered
    suggestions of those fields give way. An injection verdict that flagged the text is recorded too."""
    tickets.fetch(number)
    model_versions = model_versions or {}
    now = desk.now()
    rows = []
    for kind in KINDS:
        s = found.get(kind)
        if s:
            rows.append({"ticket": number, "kind": kind, "value": str(s["value"])[:100],
                         "confidence": float(s["confidence"]), "level": s["level"], "source": s["source"],
                         "model_version": model_versions.get(kind if s["source"] == "offline" else s["source"], "")[:200],
                         "created_at": now})
    if injection and injection.get("flagged"):
        rows.append({"ticket": number, "kind": "injection", "value": "flagged",
                     "confidence": min(1.0, float(injection.get("score", 1.0))), "level": "high", "source": "rule",
                     "model_version": "", "created_at": now})
    ai_queries.supersede_offered(number, [r["kind"] for r in rows])
    ai_queries.insert_suggestions(rows)
    audit.record(desk, number, "ai_classified", **{r["kind"]: {"value": r["value"], "level": r["level"],
                                                               "source": r["source"]} for r in rows})
    if injection and injection.get("flagged"):
        audit.record(desk, number, "ai_injection_flagged", signals=list(injection.get("signals", ())))
    return current(number)


def current(number: int) -> list[SuggestionView]:
    """The ticket's suggestions in force (newest classification, and what people decided), oldest first."""
    return [_view(r) for r in ai_queries.current_suggestions(number)]


def _find(number: int, kind: str):
    rows = [r for r in ai_queries.current_suggestions(number) if r.kind == kind]
    if not rows:
        raise NotFound(f"ticket #{number} has no {kind} suggestion")
    return rows[-1]


def apply_policy(desk, number: int, *, fields: tuple[str, ...], level: str) -> list[str]:
    """Apply the ticket's offered suggestions the policy allows; returns one line per change made.
    A ticket flagged as an injection attempt gets nothing applied from the model's word."""
    done: list[str] = []
    in_force = ai_queries.current_suggestions(number)
    rows = {r.kind: r for r in in_force if r.status == "offered"}
    # What an earlier classification applied is not applied again (no second alert on a new look).
    applied_before = {(r.kind, r.value) for r in in_force if r.status == "applied"}
    system = desk.acting_as(SYSTEM_AI)
    flagged = "injection" in rows
    ticket = tickets.fetch(number)
    for kind in ("category", "priority", "sentiment"):
        row = rows.get(kind)
        if row is None or kind not in fields or _rank(row.level) < _rank(level):
            continue
        if (flagged and row.source == "llm") or (kind, row.value) in applied_before:
            continue
        if kind == "category":
            if ticket.type is not None or desk.config.type(row.value) is None:
                continue  # never overrides a type a person or channel set; a category that is no type stays a suggestion
            try:
                tickets.apply_update(system, number, type=row.value)
            except HelpdeskError as exc:  # e.g. the type requires fields the ticket lacks
                audit.record(system, number, "ai_not_applied", kind=kind, value=row.value, reason=str(exc))
                continue
            done.append(f"type set to {row.value}")
        elif kind == "priority":
            target = row.value
            if target not in PRIORITIES or PRIORITIES.index(target) < PRIORITIES.index(AUTO_PRIORITY_CEILING):
                target = AUTO_PRIORITY_CEILING  # never P0 on a suggestion: at most the ceiling
            if PRIORITIES.index(target) >= PRIORITIES.index(ticket.priority):
                continue  # only upward
            tickets.apply_update(system, number, priority=target)
            done.append(f"priority raised to {target}")
        else:
            if row.value == "very_negative":
                _alert(system, ticket, "very negative sentiment", row.level)
                done.append("alert: very negative sentiment")
        ai_queries.decide(row.id, "applied", row.value, SYSTEM_AI, desk.now())
        audit.record(system, number, "ai_applied", kind=kind, value=row.value, level=row.level, source=row.source)
    return done


def _alert(desk, ticket, reason: str, level: str) -> None:
    """As negative feedback is raised (domain.ratings): an audit event, an internal note on the ticket and
    a mail to its queue's lead, so a person looks at it soon."""
    from helpdesk.domain import outbox  # lazy: only an alert queues mail
    from helpdesk.store.models import Agent, ConversationEntry, Queue

    audit.record(desk, ticket.number, "ai_alert", reason=reason, level=level)
    ConversationEntry.create(ticket=ticket.number, kind="note", created_at=desk.now(),
                             body=f"AI alert: {reason} (confidence {level}). Please look at this ticket soon.")
    spec = desk.config.queue(Queue.get_by_id(ticket.queue_id).name) if ticket.queue_id else None
    lead = Agent.get_or_none(Agent.login == spec.lead) if spec and spec.lead else None
    if lead and lead.email:
        outbox.queue_automatic(desk, ticket, "notification", lead.email,
                               f"[#{ticket.number}] AI alert ({reason}): {ticket.title}"[:500],
                               f"Ticket #{ticket.number} reads as {reason}: please look at it soon.\n")


def decide(desk, number: int, kind: str, value: str | None = None, *,
           expected_version: int | None = None) -> SuggestionView:
    """A person accepts the ticket's `kind` suggestion (value None or the same) or changes it to `value`;
    category and priority then take effect on the ticket. Either way it is a label for the next training.
    `expected_version`: the ticket's version as the person saw it (StaleVersion, nothing decided, if it
    moved: the suggestion may no longer fit the ticket)."""
    if kind not in ("category", "priority", "sentiment", "language"):
        raise InvalidInput(f"a suggestion kind is one of category, priority, sentiment, language, not {kind!r}")
    row = _find(number, kind)
    final = row.value if value is None else value.strip()
    if not final:
        raise InvalidInput("the value cannot be empty")
    # Checked here too: a sentiment or language, or a priority the ticket has already, writes no ticket row.
    tickets.check_version(tickets.fetch(number), expected_version)
    if kind == "priority":
        final = check_priority(final.upper())
        tickets.apply_update(desk, number, priority=final, expected_version=expected_version)
    elif kind == "category" and desk.config.type(final) is not None:
        tickets.apply_update(desk, number, type=final, expected_version=expected_version)
    status = "accepted" if final == row.value else "changed"
    ai_queries.decide(row.id, status, final, desk.actor, desk.now())
    audit.record(desk, number, f"ai_suggestion_{status}", kind=kind, suggested=row.value, value=final)
    return _find_view(row.id, number)


def _find_view(suggestion_id: int, number: int) -> SuggestionView:
    return next(v for v in current(number) if v.id == suggestion_id)


def training_rows(kind: str) -> list[tuple[str, str]]:
    """(text, label) of the desk's labelled history for a classifier of `kind` (category or priority)."""
    return [(f"{title}\n{description}".strip(), label) for _, title, description, label in ai_queries.labelled_texts(kind)]


def save_model(desk, kind: str, data: bytes, info: dict, trained_texts: int) -> int:
    version = ai_queries.save_model(kind, data, json.dumps(info, sort_keys=True, default=str), trained_texts, desk.now())
    audit.record(desk, None, "ai_trained", kind=kind, version=version, texts=trained_texts)
    return version


def stored_model(kind: str) -> tuple[int, bytes, dict, int] | None:
    """(version, bytes, info, trained texts) of the newest classifier of `kind`, or None."""
    row = ai_queries.latest_model(kind)
    if row is None:
        return None
    return row.version, bytes(row.data), json.loads(row.info or "{}"), row.trained_texts
