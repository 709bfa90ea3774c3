"""Push for the daemon: an IDLE watcher (idle.py) per mailbox, a wake-up for the fetcher, and the small
status file `mail status` reads to say whether IDLE is live.

The watchers only wake the daemon: it fetches the announced mailboxes on its own thread, with the
exactly-once machinery of fetch.py. Mailboxes whose server has no IDLE are polled by their watcher
(NOOP) and, like every mailbox, fetched each daemon cycle.

The status file (`<data directory>/mail-watch.json`, 0600) is rewritten every few seconds by the
daemon; a file older than `STALE_AFTER` or of a process that is gone says nothing is live. It is local
to the daemon's machine: on another host `mail status` reports IDLE as unknown (null).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time

from helpdesk.config import MailboxSpec
from helpdesk.core import locations
from helpdesk.core.locations import create_private_file, make_private_dirs
from helpdesk.mail import auth, fetch
from helpdesk.mail.idle import MailboxWatcher

log = logging.getLogger("helpdesk.mail.watch")

WRITE_EVERY = 5.0
STALE_AFTER = 30.0


def status_file():
    return locations.data_dir() / "mail-watch.json"


class Watchers:
    """One MailboxWatcher per mailbox with `idle = true`; `wake` is set when one of them announces mail,
    and `take()` says which."""

    def __init__(self, mailboxes: tuple[MailboxSpec, ...], wake: threading.Event, **watcher_settings):
        self.wake = wake
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.mailboxes = {m.name: m for m in mailboxes if m.idle}
        self.watchers = {name: MailboxWatcher(self._connector(m), self._announcer(name), folder=m.imap_folder,
                                              name=name, **watcher_settings)
                         for name, m in self.mailboxes.items()}
        self._writer: threading.Thread | None = None

    def _connector(self, mailbox: MailboxSpec):
        return lambda: fetch.connect(mailbox)

    def _announcer(self, name: str):
        def announce(reason: str) -> None:
            with self._lock:
                self._pending.add(name)
            self.wake.set()

        return announce

    def start(self) -> "Watchers":
        for watcher in self.watchers.values():
            watcher.start()
        self._writer = threading.Thread(target=self._write_loop, name="mail-watch-status", daemon=True)
        self._writer.start()
        return self

    def take(self) -> list[MailboxSpec]:
        """The mailboxes announced since the last call."""
        with self._lock:
            names, self._pending = self._pending, set()
        return [self.mailboxes[name] for name in sorted(names)]

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for watcher in self.watchers.values():
            watcher.request_stop()  # all at once, then wait for each
        for watcher in self.watchers.values():
            watcher.stop(timeout)
        if self._writer is not None:
            self._writer.join(timeout)
        try:
            status_file().unlink()
        except FileNotFoundError:
            pass

    def status(self) -> dict:
        mailboxes = {}
        for name, watcher in self.watchers.items():
            state = watcher.status()
            tokens = auth.provider(self.mailboxes[name])
            cached = tokens._cached if tokens is not None else None  # what this process holds; never the token
            state["token_expires_at"] = cached.expires_at if cached else None
            mailboxes[name] = state
        return {"pid": os.getpid(), "updated_at": time.time(), "mailboxes": mailboxes}

    def write_status(self) -> None:
        path = status_file()
        make_private_dirs(path.parent)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        create_private_file(temporary, json.dumps(self.status()).encode("utf-8"))
        os.replace(temporary, path)

    def _write_loop(self) -> None:
        while True:
            try:
                self.write_status()
            except Exception:  # a full disk must not end the watch: status is only a report
                log.exception("cannot write %s", status_file())
            if self._stop.wait(WRITE_EVERY):
                return


def read_status() -> dict[str, dict]:
    """Per mailbox, what a running daemon's watcher reports; empty when no daemon on this machine is
    watching (no file, a stale one, or its process is gone)."""
    try:
        data = json.loads(status_file().read_text(encoding="utf-8"))
        pid, updated = int(data["pid"]), float(data["updated_at"])
        mailboxes = data["mailboxes"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    if time.time() - updated > STALE_AFTER or not isinstance(mailboxes, dict):
        return {}
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return {}
    except PermissionError:
        pass  # alive, another user's
    return mailboxes
