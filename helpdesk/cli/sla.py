"""`helpdesk sla`: service levels."""

# No `from __future__ import annotations`: Typer would eval every annotation string on each start.

from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import echo, emit, open_desk, output_options

app = make_app()


@app.command()
@output_options("json")
def check(fmt: str = "text") -> None:
    """One sweep: mark at-risk and breached clocks and run their escalations (each exactly once),
    then the time rules (pending too long, resolved long enough, ...).

    Example: helpdesk sla check --json
    """
    from helpdesk.services import desk as desk_service, sla  # lazy: services load the store

    with open_desk(actor=desk_service.SYSTEM_DAEMON) as desk:  # the daemon's work, run by cron too: no agent needed
        swept = sla.sweep(desk)
    if fmt != "text":
        emit(swept.to_dict(), fmt)
        return
    report, rules = swept.report, swept.rules
    echo(f"{len(report.at_risk)} clocks newly at risk, {len(report.breached)} newly breached, "
               f"{len(rules)} time rules fired")
    for line in report.escalations:
        echo(f"  {line}")
    for fired in rules:
        echo(f"  rule '{fired['rule']}' on #{fired['ticket']}")
