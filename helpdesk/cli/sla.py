"""`helpdesk sla`: service levels."""


from helpdesk.cli.app_factory import make_app
from helpdesk.cli.common import JsonFlag, echo, emit_one, open_desk

app = make_app()


@app.command()
def check(json_: JsonFlag = False) -> None:
    """One sweep: mark at-risk and breached clocks and run their escalations (each exactly once),
    then the time rules (pending too long, resolved long enough, ...).

    Example: helpdesk sla check --json
    """
    from helpdesk.domain import automation, sla
    from helpdesk.domain.desk import SYSTEM_DAEMON

    with open_desk(actor=SYSTEM_DAEMON) as desk:  # the daemon's work, run by cron too: no agent needed
        sla.check_calendars(desk)
        report = sla.sweep(desk)
        rules = automation.run_time_rules(desk)
    if json_:
        emit_one({**report.to_dict(), "rules": rules})
        return
    echo(f"{len(report.at_risk)} clocks newly at risk, {len(report.breached)} newly breached, "
               f"{len(rules)} time rules fired")
    for line in report.escalations:
        echo(f"  {line}")
    for fired in rules:
        echo(f"  rule '{fired['rule']}' on #{fired['ticket']}")
