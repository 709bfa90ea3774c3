"""Service levels: the sweep over every open clock, composed once for `helpdesk sla check` and the
daemon; what people need to read SLA targets."""

from __future__ import annotations

from dataclasses import dataclass, field

from helpdesk.domain import sla
from helpdesk.services.work import unit


@dataclass
class Swept:
    """One sweep: the clocks that newly crossed their at-risk share or target (with the escalations
    they ran), then the time rules that fired ({"rule", "ticket"} each)."""

    report: sla.SweepReport
    rules: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {**self.report.to_dict(), "rules": self.rules}


def check_calendars(desk) -> None:
    """Load every calendar's public holidays: a bad holiday country is a config error, said now."""
    sla.check_calendars(desk)


def sweep(desk, *, check_calendars: bool = True) -> Swept:
    """Mark clocks at risk and breached and run their escalations (each exactly once), then the time
    rules (pending too long, resolved long enough, ...).

    The crossings are one unit of work. Each time rule firing commits on its own (a claim and its
    actions together), so a long catch-up never holds the write lock for the whole run and a crash
    loses at most the firing in progress; the tickets they changed are recorded afterwards."""
    from helpdesk.domain import automation  # lazy: the automation config is parsed on first use

    if check_calendars:
        sla.check_calendars(desk)
    with unit(desk) as work:
        report = sla.sweep(desk)
        work.changed(*(c["ticket"] for c in report.at_risk + report.breached))
    rules = automation.run_time_rules(desk)
    if rules:
        with unit(desk) as work:
            work.changed(*(r["ticket"] for r in rules))
    return Swept(report, rules)


def business_day_minutes(desk) -> dict[str, float]:
    """The length of a business day on each calendar with business hours (a target of whole business
    days reads as days)."""
    settings = sla.settings(desk)
    return {name: settings.business_day_hours * 60 for name, cal in settings.calendars.items()
            if not cal.always_open}
