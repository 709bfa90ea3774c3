"""The IDLE watcher against a real Dovecot of its own: new mail is announced, IDLE is renewed on the same
connection, a dropped connection (the imap process killed, the user kicked, the server restarted) is
resumed, a server without IDLE is polled, and it stops cleanly. Latency is measured in bench/idle_bench.py."""

from __future__ import annotations

import shutil
import threading
import time

import pytest

from helpdesk.mail import tls
from helpdesk.mail.idle import CONNECTED, NEW_MAIL, POLLED, MailboxWatcher
from mailauth_servers import kick, kill_imap, private_root, restart_dovecot, stop_hard
from mailservers import PASSWORD, USER, start_dovecot

MAIL = b"From: customer@example.com\r\nSubject: printer\r\n\r\nIt jams again.\r\n"
# The capabilities Dovecot announces after login, less IDLE.
WITHOUT_IDLE = ("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE SORT THREAD=REFERENCES "
                "MULTIAPPEND UNSELECT CHILDREN NAMESPACE UIDPLUS LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC "
                "ESEARCH ESORT SEARCHRES WITHIN LITERAL+ MOVE\n")


@pytest.fixture(scope="module")
def server():
    dovecot = start_dovecot(private_root("idle"))
    yield dovecot
    stop_hard(dovecot)
    shutil.rmtree(dovecot.root, ignore_errors=True)


class Calls:
    """What the watcher said, and a way to wait for it."""

    def __init__(self):
        self.reasons: list[str] = []
        self.changed = threading.Condition()

    def __call__(self, reason: str) -> None:
        with self.changed:
            self.reasons.append(reason)
            self.changed.notify_all()

    def wait_for(self, count: int, timeout: float = 15) -> list[str]:
        with self.changed:
            self.changed.wait_for(lambda: len(self.reasons) >= count, timeout)
            assert len(self.reasons) >= count, f"only {self.reasons} within {timeout} s"
            return list(self.reasons)


def connector(server):
    def connect():
        client = tls.open_imap("127.0.0.1", server.port, mode="none", timeout=10)
        client.login(USER, PASSWORD)
        return client
    return connect


@pytest.fixture
def watch(server):
    """watch(**settings) -> (watcher, calls), started on the module's server (or `on=`), stopped after."""
    started = []

    def start(on=None, **settings):
        calls = Calls()
        settings = {"backoff_start": 0.1, "backoff_max": 1.0, "check_every": 0.2, "name": "support", **settings}
        watcher = MailboxWatcher(connector(on or server), calls, **settings).start()
        started.append(watcher)
        return watcher, calls

    server.reset_mailbox()
    yield start
    for watcher in started:
        assert watcher.stop(10)


def test_new_mail_is_announced(server, watch):
    watcher, calls = watch()
    assert calls.wait_for(1) == [CONNECTED]  # once at the start: mail may have come while it was away
    for count in (2, 3, 4):
        server.append(MAIL)
        assert calls.wait_for(count)[-1] == NEW_MAIL
    status = watcher.status()
    assert status["state"] == "idle" and status["idle"] and status["idle_supported"]
    assert status["connections"] == 1 and status["last_error"] is None and status["last_new_mail"] > 0
    # It only watches: the messages are still unseen, for the fetcher to take.
    client = server.client()
    client.select_folder("INBOX", readonly=True)
    assert len(client.search("UNSEEN")) == 3
    client.logout()


def test_idle_is_renewed_on_the_same_connection(server, watch):
    watcher, calls = watch(renew_every=0.5)
    calls.wait_for(1)
    deadline = time.monotonic() + 10
    while watcher.renewals < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert watcher.renewals >= 3 and watcher.connections == 1
    server.append(MAIL)
    assert calls.wait_for(2)[-1] == NEW_MAIL


@pytest.mark.parametrize("drop", [kill_imap, kick], ids=["imap-process-killed", "user-kicked"])
def test_a_dropped_connection_is_resumed(server, watch, drop):
    watcher, calls = watch()
    calls.wait_for(1)
    drop(server)
    assert calls.wait_for(2)[-1] == CONNECTED
    assert watcher.connections == 2
    server.append(MAIL)
    assert calls.wait_for(3)[-1] == NEW_MAIL


def test_a_restarted_server_is_resumed_with_backoff(watch):
    own = start_dovecot(private_root("idle-restart"))
    try:
        watcher, calls = watch(on=own)
        calls.wait_for(1)
        stop_hard(own)
        deadline = time.monotonic() + 10
        while "cannot connect" not in (watcher.last_error or "") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher.state in ("reconnecting", "connecting") and "cannot connect" in watcher.last_error
        restart_dovecot(own)
        assert calls.wait_for(2)[-1] == CONNECTED
        own.append(MAIL)
        assert calls.wait_for(3)[-1] == NEW_MAIL
        assert watcher.last_error is None and watcher.state == "idle"
        assert watcher.stop(10)
    finally:
        stop_hard(own)
        shutil.rmtree(own.root, ignore_errors=True)


def test_a_server_without_idle_is_polled(watch):
    own = start_dovecot(private_root("idle-none"), WITHOUT_IDLE)
    try:
        watcher, calls = watch(on=own, poll_every=0.3)
        calls.wait_for(1)
        assert watcher.idle_supported is False and watcher.state == "polling"
        own.append(MAIL)
        assert calls.wait_for(2)[-1] == POLLED
        assert watcher.stop(10)
    finally:
        stop_hard(own)
        shutil.rmtree(own.root, ignore_errors=True)


def test_stop_logs_out_and_a_failing_callback_does_not_end_the_watch(server, watch):
    failures = []

    def callback(reason):
        failures.append(reason)
        raise RuntimeError("the fetcher broke")

    watcher = MailboxWatcher(connector(server), callback, check_every=0.2, name="support").start()
    try:
        server.append(MAIL)
        deadline = time.monotonic() + 15
        while len(failures) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
            if failures == [CONNECTED] and watcher.state == "idle":
                server.append(MAIL)
        assert failures[:2] == [CONNECTED, NEW_MAIL] and watcher.state == "idle"
    finally:
        logged_out = settled_logouts(server)  # the appends' own logouts may still be on their way to the log
        started = time.monotonic()
        assert watcher.stop(10)
    assert time.monotonic() - started < 5
    assert watcher.state == "stopped" and not watcher.status()["idle"]
    deadline = time.monotonic() + 5
    while logouts(server) == logged_out and time.monotonic() < deadline:
        time.sleep(0.05)
    assert logouts(server) == logged_out + 1  # a LOGOUT, not a dropped connection


def logouts(server) -> int:
    return (server.root / "dovecot.log").read_text().count("Disconnected: Logged out")


def settled_logouts(server, quiet: float = 0.5, timeout: float = 5) -> int:
    """The logout count once it has stopped changing for `quiet` seconds."""
    count, since, deadline = logouts(server), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() - since < quiet and time.monotonic() < deadline:
        time.sleep(0.05)
        now = logouts(server)
        if now != count:
            count, since = now, time.monotonic()
    return count


def test_a_grant_that_needs_a_person_waits_the_longest_backoff(server, tmp_path):
    # A mailbox on OAuth2 whose person never signed in: the login fails with the sign-in advice, and the
    # watcher tries again only after the longest backoff.
    from helpdesk.mail.oauth2 import imap_login, make_provider

    provider = make_provider("microsoft", mailbox="support", user=USER, client_id="desk",
                             token_dir=tmp_path / "tokens")

    def connect():
        client = tls.open_imap("127.0.0.1", server.port, mode="none", timeout=10)
        try:
            imap_login(client, provider, where="IMAP support")
        except BaseException:
            client.shutdown()
            raise
        return client

    calls = Calls()
    watcher = MailboxWatcher(connect, calls, backoff_start=0.1, backoff_max=30, name="support").start()
    try:
        deadline = time.monotonic() + 10
        while watcher.last_error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "run `helpdesk mail login support` again" in watcher.last_error
        time.sleep(0.5)
        assert watcher.state == "reconnecting" and watcher.connections == 0 and calls.reasons == []
    finally:
        assert watcher.stop(5)
