"""`helpdesk report`: the dashboard's figures for people and scripts."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from typing import Annotated

import typer

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import echo, emit, open_desk, output_options
from helpdesk.core.reports import SLA_COMPLIANCE_MEANS, ReportSummary

app = make_app()
BAR_WIDTH = 30  # cells of the longest bar of a text chart


@app.command()
@output_options("json")
def summary(
    days: Annotated[int, typer.Option("--days", min=1, max=366, help="Days of volume and SLA compliance, "
                                                                      "today included.")] = 30,
    fmt: str = "text",
) -> None:
    """The dashboard's figures: open tickets, new and resolved today, SLA compliance, tickets created
    and resolved per day, open tickets per agent, open breached tickets per queue. Days are the desk's
    ([desk] timezone).

    Example: helpdesk report summary --json
    """
    from helpdesk.services import report  # lazy: services load the store

    with open_desk() as desk:
        found = report.summary(desk, days=days)
        desk_name = desk.config.desk_name
    if fmt != "text":
        emit(found.to_dict(), fmt)
        return
    for line in summary_lines(found, desk_name):
        echo(line)


def _share(met: int, missed: int) -> str:
    total = met + missed
    return f"{100 * met / total:5.1f} %" if total else "    -  "


def _bar(value: int, most: int) -> str:
    return "█" * max(1 if value else 0, round(BAR_WIDTH * value / most)) if most else ""


def summary_lines(found: ReportSummary, desk_name: str) -> list[str]:
    """The summary as a person reads it: figures first, then the day-by-day volume, load and breaches."""
    from helpdesk.cli.render import Local  # lazy: rich is for people

    local = Local(zone=found.timezone)
    sla = found.sla
    lines = [f"{desk_name}: {local.when(found.as_of, zone=True)}",
             "",
             f"Open tickets      {found.open:>7,}   ({found.unassigned:,} unassigned)",
             f"New today         {found.new_today:>7,}",
             f"Resolved today    {found.resolved_today:>7,}",
             f"SLA compliance    {_share(sla.met, sla.missed)}   ({sla.met:,} met, {sla.missed:,} missed, "
             f"last {found.days} days)"]
    for kind, clocks in found.sla_by_kind.items():
        lines.append(f"  {kind.replace('_', ' '):<15} {_share(clocks.met, clocks.missed)}   "
                     f"({clocks.met:,} of {clocks.met + clocks.missed:,})")
    lines += [f"  ({SLA_COMPLIANCE_MEANS})", "", f"Volume, last {found.days} days    created  resolved"]
    most = max((d.created for d in found.volume), default=0)
    for day in found.volume:
        lines.append(f"  {day.date:%Y-%m-%d %a}   {day.created:>7,}  {day.resolved:>8,}  {_bar(day.created, most)}")
    lines += ["", "Load per agent (open tickets / capacity)"]
    most = max((a.open for a in found.load), default=0)
    for agent in found.load:
        name = agent.agent + ("" if agent.active else " (inactive)")
        lines.append(f"  {name:<20} {agent.open:>6,} / {agent.capacity:<5} {_bar(agent.open, most)}")
    if not found.load:
        lines.append("  no agents")
    lines += ["", "Breaches per queue (open tickets past an SLA target)"]
    for queue in found.breaches:
        lines.append(f"  {queue.queue or '(no queue)':<20} {queue.breached:>6,}")
    if not found.breaches:
        lines.append("  no queues")
    return lines
