"""Nothing that talks to the outside runs inside a write transaction (issue 9, rule 4): while an SMTP
server takes its time, another connection writes the very rows the sender is working on, at once."""

from __future__ import annotations

import threading

import pytest

from writeprobe import write_now


@pytest.fixture
def mdesk(mail_desk, desk):
    return desk


def test_a_slow_smtp_server_does_not_hold_the_write_lock(mdesk, home, smtp):
    """The server's DATA handler sleeps three seconds: meanwhile another connection writes the outbox
    row being sent, its ticket and a new row, and none of them waits for a lock."""
    import asyncio
    import time

    from helpdesk.domain import tickets
    from helpdesk.mail import send
    from helpdesk.store.models import Outbox, Ticket

    handler = smtp.controller.handler
    original = handler.handle_DATA
    arrived = threading.Event()

    async def slow_data(server, session, envelope):
        arrived.set()
        await asyncio.sleep(3)
        return await original(server, session, envelope)

    handler.handle_DATA = slow_data
    view, _ = tickets.intake(mdesk, tickets.TicketInput(title="VPN", customer="ann@globex.example"))
    tickets.reply(mdesk, view.number, "Please reconnect.")
    [row] = list(Outbox.select())
    result: dict = {}
    sender = threading.Thread(target=lambda: result.setdefault("report", send.send_outbox(mdesk)))
    started = time.monotonic()
    sender.start()
    try:
        assert arrived.wait(30), "the sender did not reach DATA"
        seconds = [
            write_now(home.url, 'UPDATE "outbox" SET "last_error" = ? WHERE "id" = ?', ("probe", row.id)),
            write_now(home.url, 'UPDATE "ticket" SET "title" = ? WHERE "number" = ?',
                      ("Written meanwhile", view.number)),
            write_now(home.url, 'INSERT INTO "setting" ("key", "value") VALUES (?, ?)', ("probe", "1")),
        ]
        assert max(seconds) < 1.0, seconds
        assert time.monotonic() - started < 3 and sender.is_alive()  # the server was still sleeping
    finally:
        sender.join(30)
    assert result["report"].sent == 1 and len(smtp.messages) == 1
    assert Outbox.get_by_id(row.id).status == "sent"
    assert Ticket.get_by_id(view.number).title == "Written meanwhile"


def test_mail_is_never_sent_or_fetched_inside_a_transaction(mdesk):
    from helpdesk.mail import fetch, send

    with mdesk.db.atomic():
        with pytest.raises(RuntimeError, match="inside a database transaction"):
            send.send_outbox(mdesk)
        with pytest.raises(RuntimeError, match="inside a database transaction"):
            fetch.fetch_mailbox(mdesk, mdesk.config.mailboxes[0])
