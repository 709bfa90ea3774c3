"""The dashboard's figures, one call for `helpdesk report summary` and the TUI's dashboard. Read only:
no unit of work."""

from __future__ import annotations

from helpdesk.core.reports import SLA_COMPLIANCE_MEANS, ReportSummary
from helpdesk.domain import report

__all__ = ["SLA_COMPLIANCE_MEANS", "ReportSummary", "summary"]


def summary(desk, *, days: int = 30) -> ReportSummary:
    """Open tickets, new and resolved today, SLA compliance, volume per day, load per agent and
    breaches per queue, now; `days` (1-366) of volume and compliance, today included."""
    return report.summary(desk, days=days)
