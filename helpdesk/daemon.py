"""`helpdesk daemon`: mail fetch, the SLA sweep and outbox delivery (automations as they land), in a loop.

Logs to stderr; stops cleanly on SIGTERM or SIGINT, finishing the step it is in (every step commits
message by message, so stopping between them loses nothing). A step that fails is logged and the
others still run; the loop goes on. `--once` runs every step, then exits 3 if a mailbox or the SMTP
server could not be reached (as `mail fetch` and `mail send` do), 1 if another step failed.
"""

from __future__ import annotations

import logging
import signal
import threading

import peewee as pw

from helpdesk.core.errors import HelpdeskError, ServiceUnavailable

log = logging.getLogger("helpdesk.daemon")


def _failed(summary: dict, key: str, step: str, exc: HelpdeskError) -> None:
    """Record a failed step: "unreachable" for a service that could not be reached, else "failed"."""
    summary[key] = f"error: {exc}"
    kind = "unreachable" if isinstance(exc, ServiceUnavailable) else "failed"
    summary.setdefault(kind, []).append(f"{step}: {exc}")
    log.error("%s: %s", step, exc)


def cycle(desk) -> dict:
    """One pass: every mailbox, then the outbox. A failing step is logged, the others still run; the
    summary lists them under "unreachable" (a server) and "failed" (anything else)."""
    from helpdesk.mail import fetch, send

    summary: dict = {}
    if desk.config.mailboxes:
        for mailbox in desk.config.mailboxes:
            try:
                report = fetch.fetch_mailbox(desk, mailbox)
                summary[f"fetch:{mailbox.name}"] = report.outcomes if not report.skipped else report.skipped
                if report.fetched or report.skipped:
                    log.info("mailbox %s: %s", mailbox.name, report.skipped or report.outcomes)
            except HelpdeskError as exc:
                _failed(summary, f"fetch:{mailbox.name}", f"mailbox {mailbox.name}", exc)
    try:
        from helpdesk.domain import sla

        from helpdesk.domain import automation

        swept = sla.sweep(desk)
        fired = automation.run_time_rules(desk)
        summary["sla"] = {"at_risk": len(swept.at_risk), "breached": len(swept.breached), "rules": len(fired)}
        if fired:
            log.info("rules: %d time rules fired", len(fired))
        if swept.at_risk or swept.breached:
            log.info("sla: %d newly at risk, %d newly breached", len(swept.at_risk), len(swept.breached))
    except HelpdeskError as exc:
        _failed(summary, "sla", "sla", exc)
    if desk.config.smtp is not None:
        try:
            report = send.send_outbox(desk)
            summary["send"] = report.to_dict()
            if report.sent or report.retry or report.failed:
                log.info("outbox: %d sent, %d to retry, %d failed", report.sent, report.retry, report.failed)
        except HelpdeskError as exc:
            _failed(summary, "send", "outbox", exc)
    return summary


def run(desk, *, once: bool = False, interval: float = 60.0) -> None:
    """The loop; with `once`, one cycle, then an error if a step failed (see the module docstring)."""
    stop = threading.Event()

    def _stop(signum, _frame):
        log.info("signal %s: stopping after this step", signal.Signals(signum).name)
        stop.set()

    from helpdesk.domain import sla

    sla.check_calendars(desk)  # a bad holiday country stops the daemon at start, not mid-sweep
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    log.info("daemon started (interval %ss)%s", interval, ", one cycle" if once else "")
    summary: dict = {}
    try:
        while not stop.is_set():
            try:
                summary = cycle(desk)
            except (pw.OperationalError, pw.InterfaceError) as exc:
                # The database went away (a restart, a network cut): say so, reconnect next cycle.
                log.error("database: %s", str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
                try:
                    desk.db.close()
                except Exception:  # already closed or broken
                    pass
                if once:
                    raise
            if once:
                break
            stop.wait(interval)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("daemon stopped")
    if once and summary.get("unreachable"):
        raise ServiceUnavailable("; ".join(summary["unreachable"]))
    if once and summary.get("failed"):
        raise HelpdeskError("; ".join(summary["failed"]))
