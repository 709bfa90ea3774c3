"""Named queries of AI assistance: suggestions, trained classifiers, ticket vectors, labelled texts."""

from __future__ import annotations

from typing import Sequence

import peewee as pw

from helpdesk.core.vocabulary import OPEN_STATES
from helpdesk.store.models import AiModel, AiSuggestion, AuditEvent, ConversationEntry, Ticket, TicketVector

CURRENT = ("offered", "applied", "accepted", "changed")  # not superseded


def current_suggestions(number: int) -> list[AiSuggestion]:
    """The ticket's suggestions that no newer classification replaced, oldest first."""
    return list(AiSuggestion.select().where((AiSuggestion.ticket == number) & AiSuggestion.status.in_(CURRENT))
                .order_by(AiSuggestion.id))


def supersede_offered(number: int, kinds: Sequence[str]) -> int:
    """Earlier suggestions nobody decided on give way to a new classification (decided ones stay)."""
    return (AiSuggestion.update(status="superseded")
            .where((AiSuggestion.ticket == number) & AiSuggestion.kind.in_(list(kinds))
                   & (AiSuggestion.status == "offered")).execute())


def insert_suggestions(rows: list[dict]) -> list[int]:
    return [AiSuggestion.insert(**row).execute() for row in rows]


def decide(suggestion_id: int, status: str, final_value: str, login: str, when) -> None:
    AiSuggestion.update(status=status, final_value=final_value, decided_by=login, decided_at=when).where(
        AiSuggestion.id == suggestion_id).execute()


def classified_numbers(numbers: Sequence[int]) -> set[int]:
    """Which of these tickets were classified already (an `ai_classified` event, as
    `unclassified_new_tickets` counts them: a classification that offered nothing still leaves one)."""
    if not numbers:
        return set()
    return {n for (n,) in AuditEvent.select(AuditEvent.ticket).where(
        AuditEvent.ticket.in_(list(numbers)) & (AuditEvent.action == "ai_classified")).distinct().tuples()}


def unclassified_new_tickets(limit: int, since_number: int = 0) -> list[int]:
    """Open tickets never classified, oldest first (the backlog a daemon step works through). A
    classification that offered nothing still leaves its `ai_classified` event: such a ticket is done."""
    has = AuditEvent.select(AuditEvent.id).where((AuditEvent.ticket == Ticket.number)
                                                 & (AuditEvent.action == "ai_classified"))
    return [n for (n,) in Ticket.select(Ticket.number).where(
        (Ticket.number > since_number) & Ticket.status.in_(list(OPEN_STATES)) & ~pw.fn.EXISTS(has))
        .order_by(Ticket.number).limit(limit).tuples()]


def labelled_texts(kind: str) -> list[tuple[int, str, str, str]]:
    """(number, title, description, label) for training: resolved and closed tickets labelled by what
    they ended as (type or priority), and any ticket where a person accepted or changed a suggestion of
    this kind (their value wins)."""
    column = Ticket.type if kind == "category" else Ticket.priority
    rows = {n: (n, t, d, label) for n, t, d, label in Ticket.select(
        Ticket.number, Ticket.title, Ticket.description, column).where(
        ~Ticket.status.in_(list(OPEN_STATES)) & column.is_null(False) & Ticket.merged_into.is_null()).tuples()}
    decided = (AiSuggestion.select(AiSuggestion.ticket, Ticket.title, Ticket.description, AiSuggestion.final_value)
               .join(Ticket, on=(AiSuggestion.ticket == Ticket.number))
               .where((AiSuggestion.kind == kind) & AiSuggestion.status.in_(["accepted", "changed"]))
               .order_by(AiSuggestion.id).tuples())
    for n, t, d, label in decided:
        rows[n] = (n, t, d, label)
    return [rows[n] for n in sorted(rows)]


def latest_model(kind: str) -> AiModel | None:
    return AiModel.select().where(AiModel.kind == kind).order_by(AiModel.version.desc()).first()


def save_model(kind: str, data: bytes, info: str, trained_texts: int, when) -> int:
    """Store a new version of the kind's classifier; returns its version."""
    current = AiModel.select(pw.fn.MAX(AiModel.version)).where(AiModel.kind == kind).scalar() or 0
    AiModel.insert(kind=kind, version=current + 1, data=data, info=info, trained_texts=trained_texts,
                   created_at=when).execute()
    return current + 1


def ticket_texts(numbers: Sequence[int]) -> dict[int, tuple[str, str]]:
    if not numbers:
        return {}
    return {n: (t, d) for n, t, d in Ticket.select(Ticket.number, Ticket.title, Ticket.description)
            .where(Ticket.number.in_(list(numbers))).tuples()}


def solved_without_vector(model: str, limit: int) -> list[int]:
    has = TicketVector.select(TicketVector.id).where((TicketVector.ticket == Ticket.number) & (TicketVector.model == model))
    return [n for (n,) in Ticket.select(Ticket.number).where(
        ~Ticket.status.in_(list(OPEN_STATES)) & Ticket.merged_into.is_null() & ~pw.fn.EXISTS(has))
        .order_by(Ticket.number).limit(limit).tuples()]


def save_vectors(model: str, dim: int, rows: list[tuple[int, bytes]]) -> None:
    for number, data in rows:
        TicketVector.delete().where((TicketVector.model == model) & (TicketVector.ticket == number)).execute()
        TicketVector.insert(ticket=number, model=model, dim=dim, data=data).execute()


def solved_vectors_state(model: str, dim: int) -> tuple[int, int]:
    """(how many, the highest row id) of the solved tickets' vectors of `model`: it changes when a vector
    is added or replaced and when a ticket that has one is reopened (what a kept index must notice)."""
    count, highest = (TicketVector.select(pw.fn.COUNT(TicketVector.id), pw.fn.MAX(TicketVector.id))
                      .join(Ticket, on=(TicketVector.ticket == Ticket.number))
                      .where((TicketVector.model == model) & (TicketVector.dim == dim)
                             & ~Ticket.status.in_(list(OPEN_STATES))).tuples().first())
    return int(count or 0), int(highest or 0)


def solved_vectors(model: str, dim: int, after_id: int = 0) -> list[tuple[int, bytes]]:
    """(ticket, vector bytes) of the solved tickets' vectors of `model`; with `after_id`, only the rows
    stored after that row id (what a kept index lacks)."""
    return list(TicketVector.select(TicketVector.ticket, TicketVector.data)
                .join(Ticket, on=(TicketVector.ticket == Ticket.number))
                .where((TicketVector.model == model) & (TicketVector.dim == dim) & (TicketVector.id > after_id)
                       & ~Ticket.status.in_(list(OPEN_STATES))).tuples())


def last_public_reply(numbers: Sequence[int]) -> dict[int, str]:
    """Each ticket's newest public reply (its resolution, for similar tickets and drafts)."""
    out: dict[int, str] = {}
    if not numbers:
        return out
    for ticket, body in (ConversationEntry.select(ConversationEntry.ticket, ConversationEntry.body)
                         .where(ConversationEntry.ticket.in_(list(numbers)) & (ConversationEntry.kind == "reply"))
                         .order_by(ConversationEntry.id).tuples()):
        out[ticket] = body
    return out


def text_relevance(words: Sequence[str], limit: int = 200) -> dict[int, float]:
    """Ticket number -> full-text relevance in 0..1 (1: the best) of the documents holding any of
    `words`, by the index's own ranking (bm25 on SQLite, ts_rank on PostgreSQL)."""
    from helpdesk.store import search  # lazy: only similar-ticket search ranks by text
    from helpdesk.store.db import database, is_postgres

    words = [w for w in dict.fromkeys(search.fold(" ".join(words)).split()) if w][:24]
    if not words:
        return {}
    db = database.obj
    if is_postgres():
        tsquery = "(" + " || ".join(["plainto_tsquery('simple', %s)"] * len(words)) + ")"
        rows = db.execute_sql(f"SELECT ticket_number FROM ticket_search WHERE document @@ {tsquery} "
                              f"ORDER BY ts_rank(document, {tsquery}) DESC LIMIT %s", [*words, *words, limit]).fetchall()
    else:
        match = " OR ".join(search.fts5_query([w]) for w in words)
        rows = db.execute_sql("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ? ORDER BY bm25(ticket_fts) LIMIT ?",
                              [match, limit]).fetchall()
    count = len(rows)
    return {int(n): 1.0 - i / count for i, (n,) in enumerate(rows)}
