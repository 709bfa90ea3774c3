"""The dashboard's figures as plain dataclasses (`helpdesk report summary`, the TUI's dashboard): one
view both front ends show, with stable JSON keys (`to_dict`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field

from helpdesk.core.views import _plain

# What the SLA compliance figure measures, said once for people (CLI text, TUI, README).
SLA_COMPLIANCE_MEANS = ("the share of SLA clocks that stopped in the period (first response sent, update "
                        "sent, ticket resolved) within their target; a running clock counts once it stops")


@dataclass
class DayVolume:
    """One day of the desk's time zone: tickets created, and tickets resolved (and not reopened since)."""

    date: dt.date
    created: int
    resolved: int


@dataclass
class AgentLoad:
    """An agent's open tickets (new, assigned, in progress, pending) against its capacity."""

    agent: str
    name: str
    open: int
    capacity: int
    active: bool = True


@dataclass
class QueueBreaches:
    """Open tickets of a queue that breached an SLA target (`sla:breached status:open queue:NAME`);
    queue None: tickets in no queue."""

    queue: str | None
    breached: int


@dataclass
class SlaCompliance:
    """Clocks that stopped in the period: within their target (met) or not (missed); `compliance` is
    met / (met + missed), None when no clock stopped."""

    met: int = 0
    missed: int = 0

    @property
    def compliance(self) -> float | None:
        total = self.met + self.missed
        return round(self.met / total, 4) if total else None

    def to_dict(self) -> dict:
        return {"met": self.met, "missed": self.missed, "compliance": self.compliance}


@dataclass
class ReportSummary:
    """The dashboard: every figure at one moment (`as_of`, naive UTC), days counted in `timezone`."""

    as_of: dt.datetime
    timezone: str
    days: int
    open: int
    unassigned: int
    new_today: int
    resolved_today: int
    sla: SlaCompliance
    sla_by_kind: dict[str, SlaCompliance] = field(default_factory=dict)
    volume: list[DayVolume] = field(default_factory=list)  # oldest first, today last
    load: list[AgentLoad] = field(default_factory=list)  # by login
    breaches: list[QueueBreaches] = field(default_factory=list)  # by queue name, no queue last

    @property
    def breached(self) -> int:
        return sum(b.breached for b in self.breaches)

    def to_dict(self) -> dict:
        return {
            "as_of": _plain(self.as_of), "timezone": self.timezone, "days": self.days,
            "open": self.open, "unassigned": self.unassigned, "new_today": self.new_today,
            "resolved_today": self.resolved_today,
            "sla": {**self.sla.to_dict(), "by_kind": {k: c.to_dict() for k, c in self.sla_by_kind.items()},
                    "measures": SLA_COMPLIANCE_MEANS},
            "volume": [_plain(asdict(d)) for d in self.volume],
            "load": [asdict(a) for a in self.load],
            "breaches": [asdict(b) for b in self.breaches],
        }
