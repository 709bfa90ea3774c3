"""Push for one mailbox: a watcher that keeps an IMAP IDLE connection and says when new mail arrives.

The watcher only watches: it opens its own connection, EXAMINEs the folder (read-only, it never changes a
flag) and calls `on_new_mail(reason)` when the server reports new messages (an untagged EXISTS), and once
after every (re)connection, since mail may have come while it was away. The caller fetches then, with its
own connection and its exactly-once machinery; the callback runs on the watcher's thread and should be
short (wake the fetcher).

- IDLE is re-issued every `renew_every` seconds (25 minutes by default: RFC 2177 servers may drop an
  IDLE after 30, some providers after less).
- A dropped connection (BYE, EOF, a reset, a timeout) is reconnected after a backoff that doubles from
  `backoff_start` to `backoff_max` seconds and starts over once a connection is up again; a grant that
  needs a person's new sign-in waits the longest backoff between attempts.
- A server that does not offer IDLE is polled with NOOP every `poll_every` seconds instead.
- `stop()` ends it within about `check_every` seconds, logging out politely.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import threading
import time
from typing import Callable

from imapclient.exceptions import IMAPClientError

from helpdesk.core.errors import HelpdeskError
from helpdesk.mail.oauth2.base import LoginRequired

log = logging.getLogger("helpdesk.mail.idle")

RENEW_EVERY = 25 * 60.0
POLL_EVERY = 60.0
BACKOFF_START = 1.0
BACKOFF_MAX = 300.0
CHECK_EVERY = 1.0

# What `on_new_mail` is told.
CONNECTED = "connected"  # a (re)connection: mail may have arrived meanwhile
NEW_MAIL = "exists"  # the server announced new messages
POLLED = "polled"  # a NOOP poll found new messages (no IDLE on this server)


def _one_line(exc: BaseException) -> str:
    text = exc.decode(errors="replace") if isinstance(exc, bytes) else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else exc.__class__.__name__


def _announces_new_mail(responses) -> bool:
    return any(isinstance(item, tuple) and len(item) >= 2 and item[1] == b"EXISTS" for item in responses)


def _says_bye(responses) -> bool:
    return any(isinstance(item, tuple) and item and item[0] == b"BYE" for item in responses)


class ConnectionDropped(Exception):
    """The server ended the connection (BYE or EOF) while we were idling."""


# How a connection ends in the normal course of things (a traceback in the log for anything else).
_EXPECTED = (HelpdeskError, ConnectionDropped, OSError, imaplib.IMAP4.error, IMAPClientError)


def _keep_alive(client) -> None:
    """TCP keepalive on the watcher's socket: a connection silently dropped by a NAT or firewall is
    noticed within minutes, not only at the next IDLE renewal."""
    try:
        sock = client.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for option, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 20), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, option):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, option), value)
    except OSError:
        pass  # not fatal: the renewal still finds a dead connection


class MailboxWatcher:
    """Watches `folder` over the connection `connect()` returns (a logged-in IMAPClient; it raises
    ServiceUnavailable, or any IMAP or socket error, when it cannot)."""

    def __init__(self, connect: Callable[[], object], on_new_mail: Callable[[str], None], *,
                 folder: str = "INBOX", name: str = "", renew_every: float = RENEW_EVERY,
                 poll_every: float = POLL_EVERY, backoff_start: float = BACKOFF_START,
                 backoff_max: float = BACKOFF_MAX, check_every: float = CHECK_EVERY,
                 clock: Callable[[], float] = time.monotonic):
        self.connect = connect
        self.on_new_mail = on_new_mail
        self.folder = folder
        self.name = name or folder
        self.renew_every = renew_every
        self.poll_every = poll_every
        self.backoff_start = backoff_start
        self.backoff_max = backoff_max
        self.check_every = check_every
        self.clock = clock
        self.state = "stopped"  # "connecting", "idle", "polling", "reconnecting", "stopped"
        self.idle_supported: bool | None = None
        self.last_error: str | None = None
        self.connections = 0  # how many connections it has made
        self.renewals = 0  # how many times IDLE was re-issued on a live connection
        self.last_new_mail: float | None = None  # time.time() of the last announcement
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ control

    def start(self) -> "MailboxWatcher":
        if self._thread is not None and self._thread.is_alive():
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=f"idle-{self.name}", daemon=True)
        self._thread.start()
        return self

    def request_stop(self) -> None:
        """Ask the watcher to stop, without waiting (stop many at once, then wait for each)."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Ask the watcher to stop and wait for it; True when it has."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def status(self) -> dict:
        return {"mailbox": self.name, "folder": self.folder, "state": self.state,
                "idle": self.state == "idle", "idle_supported": self.idle_supported,
                "connections": self.connections, "renewals": self.renewals,
                "last_new_mail": self.last_new_mail, "last_error": self.last_error}

    # ------------------------------------------------------------ the loop

    def run(self) -> None:
        """Watch until `stop()`; `start()` runs this on a thread of its own."""
        delay = self.backoff_start
        while not self._stop.is_set():
            self.state = "connecting"
            client = None
            try:
                client = self.connect()
                _keep_alive(client)
                client.select_folder(self.folder, readonly=True)
                self.connections += 1
                self.idle_supported = bool(client.has_capability("IDLE"))
                log.info("%s: watching %s with %s", self.name, self.folder,
                         "IDLE" if self.idle_supported else f"a NOOP poll every {self.poll_every:g} s (no IDLE)")
                self.last_error = None
                delay = self.backoff_start
                self._tell(CONNECTED)
                if self.idle_supported:
                    self._idle(client)
                else:
                    self._poll(client)
            except Exception as exc:  # whatever broke the connection, the watcher carries on
                if self._stop.is_set():
                    break
                self.last_error = _one_line(exc)
                if isinstance(exc, LoginRequired):
                    delay = self.backoff_max  # only a person's new sign-in mends it: do not hammer
                elif not isinstance(exc, _EXPECTED):
                    log.exception("%s: the watcher failed", self.name)
                log.warning("%s: %s; reconnecting in %g s", self.name, self.last_error, delay)
            finally:
                self._close(client)
            if self._stop.is_set():
                break
            self.state = "reconnecting"
            self._stop.wait(delay)
            delay = min(delay * 2, self.backoff_max)
        self.state = "stopped"

    def _tell(self, reason: str) -> None:
        if reason != CONNECTED:
            self.last_new_mail = time.time()
        try:
            self.on_new_mail(reason)
        except Exception:  # the caller's failure must not end the watch
            log.exception("%s: the new-mail callback failed", self.name)

    def _idle(self, client) -> None:
        while not self._stop.is_set():
            client.idle()
            self.state = "idle"
            started = self.clock()
            new_mail = False
            try:
                while not self._stop.is_set() and self.clock() - started < self.renew_every:
                    timeout = max(0.0, min(self.check_every, self.renew_every - (self.clock() - started)))
                    asked = self.clock()
                    responses = client.idle_check(timeout=timeout)
                    if _says_bye(responses):
                        raise ConnectionDropped("the server ended the connection (BYE)")
                    if _announces_new_mail(responses):
                        new_mail = True
                        break
                    if not responses and self.clock() - asked < timeout / 2:
                        # Woken with nothing to read: EOF, or TLS records without data. Ending IDLE
                        # tells which (DONE fails on a dead connection).
                        break
            finally:
                _text, responses = client.idle_done()
            if _says_bye(responses):
                raise ConnectionDropped("the server ended the connection (BYE)")
            if new_mail or _announces_new_mail(responses):
                self._tell(NEW_MAIL)
            elif self.clock() - started >= self.renew_every:
                self.renewals += 1

    def _poll(self, client) -> None:
        self.state = "polling"
        while not self._stop.wait(self.poll_every):
            _text, responses = client.noop()
            if _says_bye(responses):
                raise ConnectionDropped("the server ended the connection (BYE)")
            if _announces_new_mail(responses):
                self._tell(POLLED)

    def _close(self, client) -> None:
        if client is None:
            return
        try:
            if self._stop.is_set():
                client.logout()
            else:
                client.shutdown()
        except Exception:  # the connection is gone already: nothing to close politely
            try:
                client.shutdown()
            except Exception:
                pass
