"""Mail intake and AI classification: tickets created by `helpdesk mail fetch` (the real Dovecot) are
queued for classification as each one commits, like every other channel's; the CLI gives them a bounded
time after the mail is in and says what it left to the daemon; the daemon queues what no process got to
and never classifies a ticket twice. Against the loopback Ollama stand-in."""

from __future__ import annotations

import pytest

from test_ai_desk import PRINTER, ai_config, events
from test_mail import mail


@pytest.fixture()
def standin():
    from ollama_standin import OllamaStandin

    with OllamaStandin() as server:
        yield server


@pytest.fixture()
def ai_mail_desk(configured, imap, smtp, standin):
    """The shipped desk with `[ai]` on the stand-in (read timeout 10 s) and the test Dovecot as its mailbox."""
    from helpdesk.services import ai

    ai_config(configured, standin.host, read_timeout=10)
    configured.write_config(configured.config_file.read_text() + "\n" + imap.config_toml() + smtp.config_toml())
    yield configured
    ai.wait_idle(30)


def two_mails(imap) -> None:
    imap.append(mail(subject="Printer prints blank pages", body=PRINTER, message_id="<ai1@globex.example>"))
    imap.append(mail(subject="Cannot reach the VPN", body="The network VPN drops every few minutes.",
                     sender="bo@globex.example", message_id="<ai2@globex.example>"))


def classified_events(cli, number: int) -> list[dict]:
    return [e for e in cli("ticket", "history", str(number), "--json").json() if e["action"] == "ai_classified"]


def test_mail_fetch_classifies_its_new_tickets_before_it_exits(ai_mail_desk, imap, cli, standin):
    two_mails(imap)
    run = cli("mail", "fetch")
    assert run.exit_code == 0, run.stderr
    assert "2 fetched (2 new ticket)" in run.stdout
    assert "ai: 2 of 2 new tickets classified" in run.stdout and "left" not in run.stdout
    tickets = {t["title"]: t["number"] for t in cli("ticket", "list", "--json").json()}
    shown = cli("ai", "suggestions", str(tickets["Printer prints blank pages"]), "--json").json()
    category = next(s for s in shown if s["kind"] == "category")
    assert (category["value"], category["source"]) == ("printing", "llm")
    assert len(standin.chat_requests()) == 2  # one question per ticket, nothing asked twice
    for number in tickets.values():
        assert len(classified_events(cli, number)) == 1

    # --json keeps stdout the one document; the AI line goes to stderr.
    imap.append(mail(subject="Printer jams", body="Paper jam again", message_id="<ai3@globex.example>"))
    run = cli("mail", "fetch", "--json")
    assert run.exit_code == 0, run.stderr
    [report] = run.json()
    assert report["outcomes"] == {"new_ticket": 1} and len(report["new_tickets"]) == 1
    assert "ai: 1 of 1 new tickets classified" in run.stderr


def test_a_slow_model_never_holds_up_mail_fetch_and_the_daemon_takes_what_is_left(ai_mail_desk, imap, cli, standin):
    from helpdesk import daemon
    from helpdesk.domain.desk import open_desk
    from helpdesk.services import ai

    standin.script({"sleep": 5}, {"sleep": 5})
    two_mails(imap)
    run = cli("mail", "fetch", "--ai-wait", "0")
    assert run.exit_code == 0, run.stderr
    numbers = sorted(t["number"] for t in cli("ticket", "list", "--json").json())
    assert len(numbers) == 2 and "2 fetched (2 new ticket)" in run.stdout
    # The first ticket was in work (the model thinking) when the fetch ended; the second never started.
    assert "ai: 0 of 2 new tickets classified; 2 left for the daemon" in run.stdout
    assert f"#{numbers[1]}" in run.stdout
    assert ai.wait_idle(30)  # (in a real process, the one in work ends with it)

    desk = open_desk()
    try:
        unclassified = [n for n in numbers if not events(desk, n, "ai_classified")]
        assert numbers[1] in unclassified
        summary = daemon.cycle(desk)  # queues what is left, waits for nothing
        assert summary["ai"] == {"queued": len(unclassified)}
        assert ai.wait_idle(30)
        for number in numbers:
            assert len(events(desk, number, "ai_classified")) == 1, number
        assert "ai" not in daemon.cycle(desk)  # nothing left to do
    finally:
        desk.close()


def test_the_daemon_queues_mail_as_it_commits_and_classifies_each_ticket_once(ai_mail_desk, imap, standin):
    from helpdesk import daemon
    from helpdesk.domain.desk import open_desk
    from helpdesk.services import ai

    standin.script({"sleep": 1}, {"sleep": 1})
    two_mails(imap)
    desk = open_desk()
    try:
        summary = daemon.cycle(desk)
        assert summary[f"fetch:{desk.config.mailboxes[0].name}"] == {"new_ticket": 2}
        # Queued by the fetch as each mail committed; the daemon's own step found them queued already.
        assert "ai" not in summary
        assert ai.wait_idle(30)
        numbers = ai.settle(desk, _numbers(desk), 0)
        assert len(numbers.classified) == 2 and numbers.left == []
        for number in numbers.classified:
            assert len(events(desk, number, "ai_classified")) == 1
        assert len(standin.chat_requests()) == 2
    finally:
        desk.close()


def _numbers(desk) -> list[int]:
    from helpdesk.services import tickets

    return sorted(t.number for t in tickets.list_(desk, "status:open", limit=None).tickets)
