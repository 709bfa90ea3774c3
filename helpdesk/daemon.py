"""`helpdesk daemon`: mail fetch, the SLA sweep and outbox delivery (automations as they land), in a loop.

Logs to stderr; stops cleanly on SIGTERM or SIGINT, finishing the step it is in (every step commits
message by message, so stopping between them loses nothing). A step that fails is logged and the
others still run; the loop goes on. `--once` runs every step, then exits 3 if a mailbox or the SMTP
server could not be reached (as `mail fetch` and `mail send` do), 1 if another step failed.

Between cycles an IDLE watcher per mailbox (services.mail.watch) wakes the loop when its server
announces new mail: that mailbox is fetched at once and the outbox delivered. A mailbox whose sign-in
has expired is logged (with the `mail login` advice) and the others are served as usual.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from helpdesk.core.errors import HelpdeskError, ServiceUnavailable
from helpdesk.services import ai, mail, sla
from helpdesk.services import desk as desk_service

log = logging.getLogger("helpdesk.daemon")


def _failed(summary: dict, key: str, step: str, exc: HelpdeskError) -> None:
    """Record a failed step: "unreachable" for a service that could not be reached, else "failed"."""
    summary[key] = f"error: {exc}"
    kind = "unreachable" if isinstance(exc, ServiceUnavailable) else "failed"
    summary.setdefault(kind, []).append(f"{step}: {exc}")
    log.error("%s: %s", step, exc)


def cycle(desk) -> dict:
    """One pass: every mailbox, the SLA sweep (with the time rules), then the outbox. A failing step is
    logged, the others still run; the summary lists them under "unreachable" (a server) and "failed"
    (anything else)."""
    summary: dict = {}
    _fetch(desk, desk.config.mailboxes, summary)
    try:
        swept = sla.sweep(desk, check_calendars=False)  # checked once, when the daemon starts
        report, fired = swept.report, swept.rules
        summary["sla"] = {"at_risk": len(report.at_risk), "breached": len(report.breached), "rules": len(fired)}
        if fired:
            log.info("rules: %d time rules fired", len(fired))
        if report.at_risk or report.breached:
            log.info("sla: %d newly at risk, %d newly breached", len(report.at_risk), len(report.breached))
    except HelpdeskError as exc:
        _failed(summary, "sla", "sla", exc)
    _deliver(desk, summary)
    _assist(desk, summary)
    return summary


def _fetch(desk, mailboxes, summary: dict, *, announced: bool = False) -> None:
    """Fetch each mailbox on its own: one that fails is logged and recorded, the others still run."""
    for mailbox in mailboxes:
        try:
            report = mail.fetch_mailbox(desk, mailbox)
            summary[f"fetch:{mailbox.name}"] = report.outcomes if not report.skipped else report.skipped
            if announced and report.fetched:
                log.info("mailbox %s (IDLE): %s", mailbox.name, report.outcomes)
            elif not announced and (report.fetched or report.skipped):
                log.info("mailbox %s: %s", mailbox.name, report.skipped or report.outcomes)
        except HelpdeskError as exc:
            _failed(summary, f"fetch:{mailbox.name}", f"mailbox {mailbox.name}", exc)


def _deliver(desk, summary: dict) -> None:
    """Send the outbox, if the desk has [smtp]; a failure is logged and recorded."""
    if desk.config.smtp is None:
        return
    try:
        report = mail.send(desk)
        summary["send"] = report.to_dict()
        if report.sent or report.retry or report.failed:
            log.info("outbox: %d sent, %d to retry, %d failed", report.sent, report.retry, report.failed)
    except HelpdeskError as exc:
        _failed(summary, "send", "outbox", exc)


def _assist(desk, summary: dict) -> None:
    """With `[ai] enabled`: queue new tickets no process got to for this process's AI thread (mail
    fetched here was queued as each one committed) and train again when enough labelled tickets
    arrived. The queue is worked on beside the loop, so a slow model never delays mail or a reply; a
    model that is away falls back to the offline classifier."""
    if not desk.config.ai.enabled:
        return
    try:
        queued = ai.classify_pending(desk)
        if queued:
            summary["ai"] = {"queued": len(queued)}
            log.info("ai: %d tickets queued for classification", len(queued))
        retrained = ai.retrain_if_due(desk)
        if retrained:
            log.info("ai: classifier trained again")
    except HelpdeskError as exc:
        _failed(summary, "ai", "ai", exc)


def pushed(desk, mailboxes) -> None:
    """Mail announced by IDLE: fetch those mailboxes now, then deliver what that queued (the
    acknowledgements), each step on its own as in `cycle`."""
    summary: dict = {}
    _fetch(desk, mailboxes, summary, announced=True)
    _deliver(desk, summary)
    _assist(desk, summary)


def run(desk, *, once: bool = False, interval: float = 60.0) -> None:
    """The loop; with `once`, one cycle, then an error if a step failed (see the module docstring).
    Between cycles, mailboxes whose server announces new mail over IDLE are fetched at once."""
    stop = threading.Event()
    wake = threading.Event()  # set by a signal and by the IDLE watchers

    def _stop(signum, _frame):
        log.info("signal %s: stopping after this step", signal.Signals(signum).name)
        stop.set()
        wake.set()

    sla.check_calendars(desk)  # a bad holiday country stops the daemon at start, not mid-sweep
    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    log.info("daemon started (interval %ss)%s", interval, ", one cycle" if once else "")
    summary: dict = {}
    watchers = None if once else mail.watch(desk, wake)
    try:
        while not stop.is_set():
            try:
                summary = cycle(desk)
            except Exception as exc:  # noqa: BLE001 - only the database's failures are handled here
                _database_lost(desk, exc)
                if once:
                    raise
            if once:
                _settle(desk, summary)
                break
            _wait(desk, stop, wake, watchers, interval)
    finally:
        if watchers is not None:
            watchers.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        log.info("daemon stopped")
    if once and summary.get("unreachable"):
        raise ServiceUnavailable("; ".join(summary["unreachable"]))
    if once and summary.get("failed"):
        raise HelpdeskError("; ".join(summary["failed"]))


def _settle(desk, summary: dict) -> None:
    """`--once` is about to end the process: give the tickets queued for AI classification a bounded
    time; what is left, the next run queues again."""
    if not desk.config.ai.enabled:
        return
    settled = ai.settle(desk)
    if settled.classified or settled.left:
        summary["ai"] = {**summary.get("ai", {}), "classified": len(settled.classified), "left": len(settled.left)}
        log.info("ai: %d tickets classified, %d left for the next run", len(settled.classified), len(settled.left))


def _database_lost(desk, exc: Exception) -> None:
    """The database went away (a restart, a network cut): say so and drop the connection, so the next
    step reconnects. Re-raises anything that is not a lost database (must be called in `except`)."""
    failure = desk_service.database_failure(exc)
    if not isinstance(failure, ServiceUnavailable):
        raise exc
    log.error("%s", failure)
    try:
        desk.db.close()
    except Exception:  # already closed or broken
        pass


def _wait(desk, stop: threading.Event, wake: threading.Event, watchers, interval: float) -> None:
    """Until the next cycle: fetch what the IDLE watchers announce as it comes."""
    deadline = time.monotonic() + interval
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        wake.wait(left)
        wake.clear()  # before take(): an announcement after it sets wake again
        if stop.is_set() or watchers is None:
            continue
        announced = watchers.take()
        if announced:
            try:
                pushed(desk, announced)
            except Exception as exc:  # noqa: BLE001 - only the database's failures are handled here
                _database_lost(desk, exc)
