"""The dashboard's figures: open tickets, new and resolved today, SLA compliance, volume per day, load
per agent, breaches per queue, counted by the database from its indexes (`store/report_queries.py`).

Days are the desk's (`[desk] timezone`): each is cut at local midnight and turned into a UTC range, so
DST days are 23 or 25 hours long and a ticket counts on the day its customer's desk saw it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from helpdesk.core.errors import InvalidInput
from helpdesk.core.reports import AgentLoad, DayVolume, QueueBreaches, ReportSummary, SlaCompliance
from helpdesk.core.vocabulary import SLA_KINDS
from helpdesk.store import queries, report_queries

MAX_DAYS = 366


def day_bounds(today: dt.date, days: int, zone: ZoneInfo) -> list[dt.datetime]:
    """The naive UTC starts of the `days` local days ending with `today`, then the end of today."""
    first = today - dt.timedelta(days=days - 1)
    return [dt.datetime.combine(first + dt.timedelta(days=i), dt.time(), zone).astimezone(dt.timezone.utc)
            .replace(tzinfo=None) for i in range(days + 1)]


def summary(desk, *, days: int = 30) -> ReportSummary:
    """Every figure of the dashboard at this moment; `days` of volume and SLA compliance, today included."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"days must be a whole number from 1 to {MAX_DAYS}, not {days!r}")
    db, now = desk.db, desk.now()
    zone = ZoneInfo(desk.config.timezone)
    today = now.replace(tzinfo=dt.timezone.utc).astimezone(zone).date()
    bounds = day_bounds(today, days, zone)
    # Read statement by statement, outside a transaction: a transaction here is a write lock on SQLite
    # (BEGIN IMMEDIATE); a ticket written in between moves one figure by one, for a refresh to fix.
    created = report_queries.created_per_day(db, bounds)
    resolved = report_queries.resolved_per_day(db, bounds)
    agents = report_queries.agents(db)
    per_agent = report_queries.open_per_agent(db, [a[0] for a in agents])
    unassigned = report_queries.open_unassigned(db)
    clocks = report_queries.stopped_clocks(db, bounds[0], bounds[-1])
    breached = report_queries.open_breached_per_queue(db, now)
    queue_names = queries.queue_names(db)

    by_kind = {kind: SlaCompliance(int(met or 0), int(missed or 0)) for kind, met, missed in clocks}
    by_kind = {kind: by_kind[kind] for kind in SLA_KINDS if kind in by_kind}
    load = [AgentLoad(login, name, per_agent.get(aid, 0), capacity, active)
            for aid, login, name, capacity, active in agents if active or per_agent.get(aid)]
    counts = {queue_names.get(qid) if qid is not None else None: n for qid, n in breached.items()}
    breaches = [QueueBreaches(name, counts.get(name, 0)) for name in sorted(queue_names.values())]
    if counts.get(None):
        breaches.append(QueueBreaches(None, counts[None]))
    return ReportSummary(
        as_of=now, timezone=desk.config.timezone, days=days,
        # Every open ticket is either unassigned or some agent's (a deleted agent's become unassigned).
        open=unassigned + sum(per_agent.values()), unassigned=unassigned,
        new_today=created[-1], resolved_today=resolved[-1],
        sla=SlaCompliance(sum(c.met for c in by_kind.values()), sum(c.missed for c in by_kind.values())),
        sla_by_kind=by_kind,
        volume=[DayVolume(today - dt.timedelta(days=days - 1 - i), created[i], resolved[i])
                for i in range(days)],
        load=load, breaches=breaches)
