"""The configuration `helpdesk init` writes: complete, valid, and working end to end."""

from __future__ import annotations

import datetime as dt

from helpdesk import sla


def test_init_sample_with_the_shipped_config(home, cli):
    home.config_file.unlink()  # the cli fixture wrote the core config: init writes the shipped one
    r = cli("init", "--sample")
    assert r.exit_code == 0, r.stderr
    assert home.config_file.read_text() == home.shipped_config()
    tickets = cli("ticket", "list", "--json", "--limit", "0").json()
    assert len(tickets) == 40
    shown = cli("ticket", "show", str(tickets[0]["number"]), "--json").json()
    assert {c["kind"] for c in shown["sla"]} >= {"first_response", "resolution"}
    r = cli("sla", "check", "--json")
    assert r.exit_code == 0, r.stderr
    assert set(r.json()) == {"at_risk", "breached", "escalations", "rules"}


def test_shipped_policies_and_calendar(home, cli):
    home.write_config(home.shipped_config())
    from helpdesk.clock import FixedClock
    from helpdesk.desk import open_desk

    desk = open_desk(clock=FixedClock(dt.datetime(2026, 12, 23, 14, 0)))
    try:
        settings = sla.settings(desk)
        office = settings.calendar("office")
        office.check()
        assert settings.policy_for("P0", None, None).calendar == "24x7"
        assert settings.policy_for("P2", "it_support", None).name == "P2 normal"
        assert settings.policy_for("P2", None, "Globex").name == "key accounts"
        # 24 business hours from Wed 23 Dec 2026 15:00 Berlin: 2h that day; the 24th (config), 25th and
        # 26th (public) and the weekend are closed; Mon 28th and Tue 29th give 8h each; the last 6h are
        # Wed 30th 08:00-12:00 and 13:00-15:00 Berlin = 14:00Z.
        due = office.add(dt.datetime(2026, 12, 23, 14, 0), 24 * 60)
        assert due == dt.datetime(2026, 12, 30, 14, 0)
    finally:
        desk.close()
