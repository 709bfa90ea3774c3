"""The query language: every term, comma lists, full text, combinations, errors and ordering.

Every expectation names tickets of a small corpus built through the services; results are compared in
order, so each check also holds the "newest first" promise. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt

import pytest

from helpdesk.domain import agents, lifecycle, query, tickets
from helpdesk.core.errors import InvalidInput, QueryError
from helpdesk.store.models import Ticket

T0 = dt.datetime(2026, 3, 2, 9, 0, 0)  # the desk fixture's clock


def make(desk, title, **kw) -> int:
    view, created = tickets.intake(desk, tickets.TicketInput(title=title, **kw))
    assert created
    return view.number


@pytest.fixture
def corpus(desk):
    """Five tickets that differ in every searchable way. Returns name -> number."""
    assert desk.now() == T0
    agents.add(desk, "bob", skills=["repair"])
    t = {}
    t["t1"] = make(desk, "VPN drops every hour", body="Reported by alice@x.example from the Café upstairs",
                   type="it_support", priority="P1", customer="alice@x.example", organisation="Acme Corp",
                   tags=["vpn", "network"], fields={"category": "network", "affected_users": 5})
    t["t2"] = make(desk, "Printer jams on tray 2", body="Paper jam in tray 2, model LaserJet",
                   type="equipment_repair", priority="P0", customer="bob@y.example", tags=["printer"],
                   fields={"serial_number": "SN-1", "under_warranty": True, "fault_code": "E17",
                           "purchase_date": "2025-01-15"})
    desk.clock.advance(days=10)
    t["t3"] = make(desk, "Refund for broken kettle", body="The kettle leaks; I want my money back",
                   type="complaint", customer="carol@x.example", organisation="Acme Corp", tags=["refund"],
                   fields={"severity": "high", "compensation_offered": 12.5})
    t["t4"] = make(desk, "Laptop screen flickers", type="equipment_repair", priority="P3",
                   fields={"serial_number": "SN-2", "under_warranty": False})
    desk.clock.advance(hours=3)
    t["t5"] = make(desk, "Password reset", body="jam of paper is not the problem here",
                   customer="dave@sub.x.example")
    # States: t1 in progress (tester), t2 pending (bob), t3 new, t4 resolved (no owner), t5 closed.
    lifecycle.assign(desk, t["t1"], "tester")
    lifecycle.change_status(desk, t["t1"], "in_progress")
    lifecycle.assign(desk, t["t2"], "bob")
    lifecycle.change_status(desk, t["t2"], "in_progress")
    lifecycle.change_status(desk, t["t2"], "pending")
    lifecycle.change_status(desk, t["t4"], "resolved")
    lifecycle.change_status(desk, t["t5"], "resolved")
    lifecycle.change_status(desk, t["t5"], "closed")
    assert [n for n in t.values()] == sorted(t.values())
    return t


def found(desk, corpus, text: str) -> list[str]:
    """The corpus names a query finds, in the order the desk lists them."""
    names = {number: name for name, number in corpus.items()}
    return [names[v.number] for v in tickets.list_tickets(desk, text, limit=None)]


def check(desk, corpus, cases: dict[str, list[str]]) -> None:
    for text, expected in cases.items():
        assert found(desk, corpus, text) == expected, text


# ---------------------------------------------------------------- ordering


def test_everything_newest_first(desk, corpus, cli):
    assert found(desk, corpus, "") == ["t5", "t4", "t3", "t2", "t1"]
    assert [v.number for v in tickets.list_tickets(desk, "", limit=2)] == [corpus["t5"], corpus["t4"]]
    assert [v.number for v in tickets.list_tickets(desk, "", limit=2, offset=2)] == [corpus["t3"], corpus["t2"]]
    assert [v.number for v in tickets.iter_tickets(desk, "", batch=2)] == sorted(corpus.values(), reverse=True)
    r = cli("ticket", "list", "--json")
    assert r.exit_code == 0, r.stderr
    assert [row["number"] for row in r.json()] == sorted(corpus.values(), reverse=True)
    created = [row["created_at"] for row in r.json()]
    assert created == sorted(created, reverse=True)


# ---------------------------------------------------------------- one term at a time


def test_status(desk, corpus):
    check(desk, corpus, {
        "status:open": ["t3", "t2", "t1"],
        "status:OPEN": ["t3", "t2", "t1"],
        "status:pending": ["t2"],
        "status:in_progress": ["t1"],
        "status:new,resolved": ["t4", "t3"],
        "status:closed": ["t5"],
        "status:open,closed": ["t5", "t3", "t2", "t1"],
        "status:assigned": [],
    })


def test_priority(desk, corpus):
    check(desk, corpus, {
        "priority:P0": ["t2"],
        "priority:P0,P1": ["t2", "t1"],
        "priority:p3": ["t4"],
        "priority:P2": ["t5", "t3"],  # the configured default priority
    })


def test_assignee(desk, corpus):
    check(desk, corpus, {
        "assignee:me": ["t1"],
        "assignee:tester": ["t1"],
        "assignee:bob": ["t2"],
        "assignee:none": ["t5", "t4", "t3"],
        "assignee:me,bob": ["t2", "t1"],
        "assignee:me,none": ["t5", "t4", "t3", "t1"],
    })


def test_type(desk, corpus):
    check(desk, corpus, {
        "type:equipment_repair": ["t4", "t2"],
        "type:it_support,complaint": ["t3", "t1"],
        "type:none": ["t5"],
    })


def test_customer_exact_and_domain(desk, corpus):
    check(desk, corpus, {
        "customer:alice@x.example": ["t1"],
        "customer:Alice@X.Example": ["t1"],
        "customer:@x.example": ["t3", "t1"],  # not dave@sub.x.example
        "customer:@sub.x.example": ["t5"],
        "customer:@y.example,alice@x.example": ["t2", "t1"],
        "customer:nobody@x.example": [],
        "customer:x.example": [],  # not an address, not a domain term
    })


def test_org(desk, corpus):
    check(desk, corpus, {
        'org:"Acme Corp"': ["t3", "t1"],
        "org:Kettle": [],
    })


def test_queue(desk, corpus):
    check(desk, corpus, {
        "queue:it": ["t5", "t1"],  # t5 has no type: the default queue (the first configured)
        "queue:repairs": ["t4", "t2"],
        "queue:care,it": ["t5", "t3", "t1"],
        "queue:none": [],
    })


def test_tag(desk, corpus):
    check(desk, corpus, {
        "tag:vpn": ["t1"],
        "tag:VPN": ["t1"],
        "tag:vpn,printer": ["t2", "t1"],  # a comma list is any of them
        "tag:vpn tag:network": ["t1"],  # two terms must both hold
        "tag:vpn tag:printer": [],
        "tag:nothing": [],
    })


def test_created_ages_and_dates(desk, corpus):
    # now: 2026-03-12 12:00; t1, t2 created 2026-03-02 09:00, t3, t4 2026-03-12 09:00, t5 12:00.
    assert desk.now() == T0 + dt.timedelta(days=10, hours=3)
    check(desk, corpus, {
        "created:<7d": ["t5", "t4", "t3"],
        "created:>7d": ["t2", "t1"],
        "created:<1w": ["t5", "t4", "t3"],
        "created:>2w": [],
        "created:<2h": ["t5"],
        "created:>2h": ["t4", "t3", "t2", "t1"],
        "created:<200m": ["t5", "t4", "t3"],
        "created:<2026-03-12": ["t2", "t1"],
        "created:<2026-03-03": ["t2", "t1"],
        "created:<2026-03-02": [],
        "created:>2026-03-11": ["t5", "t4", "t3"],
        "created:>2026-03-02": ["t5", "t4", "t3"],  # after that whole day
        "created:>2026-03-12": [],
    })
    desk.clock.advance(days=30)
    check(desk, corpus, {"created:<7d": [], "created:>7d": ["t5", "t4", "t3", "t2", "t1"]})


def test_updated(desk, corpus):
    desk.clock.advance(days=2)
    tickets.update(desk, corpus["t2"], priority="P1")
    check(desk, corpus, {
        "updated:<1d": ["t2"],
        "updated:>1d": ["t5", "t4", "t3", "t1"],
        "updated:>2026-03-13": ["t2"],
        "updated:<2026-03-13": ["t5", "t4", "t3", "t1"],
        "updated:<1d priority:P1": ["t2"],
    })


def shown_states(desk, corpus) -> dict[str, list[str]]:
    """What `ticket show` says of each corpus ticket's clocks right now, as the names sla: terms should find
    (newest first): breached if a clock is; at risk if a clock is and none is breached; ok otherwise."""
    from helpdesk.domain import sla

    out: dict[str, list[str]] = {"sla:breached": [], "sla:at-risk": [], "sla:ok": []}
    for name, number in sorted(corpus.items(), key=lambda item: -item[1]):
        clocks = sla.clocks(desk, number)
        if any(c.breached for c in clocks):
            out["sla:breached"].append(name)
        elif any(c.at_risk for c in clocks):
            out["sla:at-risk"].append(name)
        else:
            out["sla:ok"].append(name)
    return out


def test_sla_states_are_the_clocks_at_the_moment_of_the_query(desk, corpus):
    # No sweep runs: the terms read the clocks' due and at-risk times, as `ticket show` does.
    moments = []
    for step in [dt.timedelta(0), dt.timedelta(minutes=1), dt.timedelta(hours=2), dt.timedelta(days=1),
                 dt.timedelta(days=5)]:
        desk.clock.advance(seconds=step.total_seconds())
        expected = shown_states(desk, corpus)
        moments.append(expected)
        check(desk, corpus, {**expected, "sla:at_risk": expected["sla:at-risk"],
                             "sla:breached,at-risk": sorted(expected["sla:breached"] + expected["sla:at-risk"],
                                                            key=lambda n: -corpus[n])})
    # The check above is not vacuous: tickets were found breached and ok (at risk: the next test).
    assert any(m["sla:breached"] for m in moments) and any(m["sla:ok"] for m in moments)


def test_sla_at_risk_then_breached_without_a_sweep(desk):
    from helpdesk.domain import sla

    number = make(desk, "VPN down for the whole office", priority="P0")  # 15 min first response, 24x7
    names = {"t": number}

    def states():
        return {term: [n for n in found(desk, names, term)] for term in ("sla:ok", "sla:at-risk", "sla:breached")}

    assert states() == {"sla:ok": ["t"], "sla:at-risk": [], "sla:breached": []}
    desk.clock.advance(minutes=12)  # 80% of 15 minutes
    assert states() == {"sla:ok": [], "sla:at-risk": ["t"], "sla:breached": []}
    desk.clock.advance(minutes=3)  # exactly due: `ticket show` calls it breached only once past it
    assert not any(c.breached for c in sla.clocks(desk, number))
    assert states()["sla:breached"] == []
    desk.clock.advance(seconds=1)
    assert any(c.breached for c in sla.clocks(desk, number))
    assert states() == {"sla:ok": [], "sla:at-risk": [], "sla:breached": ["t"]}
    # The sweep marks what the query already said; marked tickets stay found the same way.
    report = sla.sweep(desk)
    assert [b["ticket"] for b in report.breached] == [number]
    assert states() == {"sla:ok": [], "sla:at-risk": [], "sla:breached": ["t"]}


def test_sla_states_marked_by_a_sweep_count(desk, corpus):
    # A state the sweep wrote stands even where the clocks alone would not say so (e.g. a clock since
    # stopped): what was breached stays breached.
    Ticket.update(sla_state="breached").where(Ticket.number == corpus["t5"]).execute()
    Ticket.update(sla_state="at_risk").where(Ticket.number == corpus["t4"]).execute()
    assert "t5" in found(desk, corpus, "sla:breached") and "t5" not in found(desk, corpus, "sla:ok")
    assert "t4" in found(desk, corpus, "sla:at-risk") and "t4" not in found(desk, corpus, "sla:ok")


def test_fields_with_coercion(desk, corpus):
    check(desk, corpus, {
        "field.serial_number:SN-1": ["t2"],
        "field.serial_number:SN-1,SN-2": ["t4", "t2"],
        "field.serial_number:SN-3": [],
        "field.under_warranty:true": ["t2"],
        "field.under_warranty:yes": ["t2"],
        "field.under_warranty:false": ["t4"],
        "field.under_warranty:no": ["t4"],
        "field.affected_users:5": ["t1"],
        "field.affected_users:05": ["t1"],  # an int, not the text "05"
        "field.affected_users:6": [],
        "field.compensation_offered:12.5": ["t3"],
        "field.purchase_date:2025-01-15": ["t2"],
        "field.fault_code:E17": ["t2"],
        "field.fault_code:none": ["t4"],
        "field.category:network": ["t1"],
        "field.severity:high": ["t3"],
        'field.serial_number:"SN-2"': ["t4"],
        "type:equipment_repair field.serial_number:SN-2": ["t4"],
    })


def test_number(desk, corpus):
    check(desk, corpus, {
        f"number:{corpus['t3']}": ["t3"],
        f"number:#{corpus['t1']},{corpus['t5']}": ["t5", "t1"],
        "number:9999": [],
    })


# ---------------------------------------------------------------- full text


def test_full_text_over_title_and_description(desk, corpus):
    check(desk, corpus, {
        "printer": ["t2"],  # title
        "laserjet": ["t2"],  # description, any case
        "LASERJET": ["t2"],
        "kettle refund": ["t3"],  # every word must be there
        "kettle printer": [],
        '"paper jam"': ["t2"],  # a phrase: the words together, in order
        '"jam paper"': [],
        "paper jam": ["t5", "t2"],  # just words: anywhere
        '"Paper Jam" tray': ["t2"],
        "flickers": ["t4"],
        "nothinglikethis": [],
    })


def test_full_text_folds_accents_and_splits_addresses(desk, corpus):
    check(desk, corpus, {
        "cafe": ["t1"],
        "café": ["t1"],
        "CAFÉ": ["t1"],
        "alice": ["t1"],  # a word of an e-mail address in the text
        "alice@x.example": ["t1"],
    })


def test_full_text_finds_replies_and_notes(desk, corpus):
    assert found(desk, corpus, "zanzibar") == []
    tickets.reply(desk, corpus["t3"], "We shipped a replacement via Zanzibar logistics")
    assert found(desk, corpus, "zanzibar") == ["t3"]
    assert found(desk, corpus, '"zanzibar logistics" kettle') == ["t3"]
    tickets.reply(desk, corpus["t1"], "internal: escalated to the zanzibar team", note=True)
    assert found(desk, corpus, "zanzibar") == ["t3", "t1"]
    assert found(desk, corpus, "zanzibar status:open assignee:me") == ["t1"]


def test_full_text_follows_a_title_change(desk, corpus):
    tickets.update(desk, corpus["t4"], title="Laptop display blinks")
    assert found(desk, corpus, "blinks") == ["t4"]
    assert found(desk, corpus, "flickers") == []


# ---------------------------------------------------------------- combinations


def test_terms_combine_with_and(desk, corpus):
    check(desk, corpus, {
        "status:open priority:P0,P1 vpn": ["t1"],
        "status:open priority:P0,P1": ["t2", "t1"],
        "type:equipment_repair status:open": ["t2"],
        "queue:repairs assignee:none": ["t4"],
        "tag:vpn customer:@x.example created:>7d": ["t1"],
        "customer:@x.example org:\"Acme Corp\" status:new": ["t3"],
        "field.under_warranty:true assignee:bob status:pending jam": ["t2"],
        "status:closed type:none dave": [],  # "dave" is only in the customer address, not in the text
        "status:closed type:none password": ["t5"],
    })


def test_parse_keeps_terms_and_words_apart(desk):
    parsed = query.parse('status:open org:"Acme Corp" "paper jam" printer field.serial_number:SN-1')
    assert [(t.key, t.value) for t in parsed.terms] == [("status", "open"), ("org", "Acme Corp"),
                                                        ("field.serial_number", "SN-1")]
    assert parsed.words == ["paper jam", "printer"]
    assert query.parse("").terms == [] and query.parse("   ").words == []


# ---------------------------------------------------------------- errors


BAD = {
    "colour:red": "colour:red",
    "status:done": "done",
    "status:open,done": "done",
    "priority:P9": "P9",
    "type:bogus": "bogus",
    "queue:nowhere": "nowhere",
    "created:7d": "created:7d",
    "created:<7x": "created:<7x",
    "updated:yesterday": "updated:yesterday",
    "created:<2026-02-30": "created:<2026-02-30",
    '"paper jam': '"paper',
    'printer "paper': '"paper',
    'org:"Acme Corp': 'org:"Acme',
    "field.unknown:1": "unknown",
    "field.affected_users:many": "field.affected_users:many",
    "field.under_warranty:maybe": "field.under_warranty:maybe",
    "field.severity:extreme": "extreme",
    "type:complaint field.serial_number:SN-1": "serial_number",
    "sla:late": "late",
    "assignee:ghost": "unknown agent 'ghost'",
    "number:abc": "number:abc",
    "status:": "status:",
    "tag:,": "tag:,",
}


def test_bad_terms_are_errors_that_name_them(desk):
    make(desk, "something")
    for text, named in BAD.items():
        with pytest.raises(QueryError) as exc:
            tickets.list_tickets(desk, text)
        assert isinstance(exc.value, InvalidInput)
        message = str(exc.value)
        assert message.startswith("query: "), (text, message)
        assert named in message, (text, message)


def test_cli_list_with_query_and_bad_query(desk, cli):
    a = make(desk, "Paper jam", type="equipment_repair", fields={"serial_number": "SN-9"}, priority="P1")
    make(desk, "Other paper thing", priority="P1")
    r = cli("ticket", "list", "priority:P1", '"paper jam"', "--json")
    assert r.exit_code == 0, r.stderr
    assert [t["number"] for t in r.json()] == [a]
    r = cli("ticket", "list", "field.serial_number:SN-9", "--csv")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.splitlines()[0].startswith("number,title")
    assert len(r.stdout.splitlines()) == 2
    r = cli("ticket", "list", "colour:red", "--json")
    assert r.exit_code == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: query: ") and "colour:red" in lines[0]


# ---------------------------------------------------------------- long queries: run, or refused by the limit


def test_long_queries_run_up_to_the_limit_on_either_backend(desk, corpus):
    from helpdesk.core import limits

    # 88 terms overflowed SQLite's parser stack while each term nested one more AND.
    assert found(desk, corpus, " ".join(["status:open"] * 88)) == ["t3", "t2", "t1"]
    # The limit itself, every kind of term mixed (each kind builds its condition differently).
    kinds = ["status:open", "priority:P0,P1", "tag:vpn,printer", "customer:alice@x.example,@y.example",
             "assignee:tester,bob", "type:it_support,equipment_repair", "queue:it,repairs,none",
             "org:Acme,Globex", "created:<30d", "field.serial_number:SN-1,none", "sla:ok,breached,at-risk",
             "number:1,2,3,4,5", "in_status:<30d", "updated:>1m"]
    terms = [kinds[i % len(kinds)] for i in range(limits.QUERY_TERMS_MAX)]
    mixed = " ".join(terms)
    assert len(mixed) <= limits.QUERY_CHARS_MAX
    assert found(desk, corpus, mixed) == []  # t1 has no serial number field, t2 no `vpn`... all must hold
    assert found(desk, corpus, " ".join(["tag:vpn,printer"] * 100)) == ["t2", "t1"]
    assert found(desk, corpus, " ".join(["customer:alice@x.example,@y.example"] * 50)) == ["t2", "t1"]
    assert found(desk, corpus, " ".join(["printer"] * 100)) == ["t2"]
    # Terms of one kind that differ: each must hold (they are combined into one condition per kind).
    assert found(desk, corpus, " ".join(f"tag:t{i},vpn" for i in range(90))) == ["t1"]
    assert found(desk, corpus, " ".join(f"tag:t{i},vpn" for i in range(90)) + " tag:network,x") == ["t1"]
    assert found(desk, corpus, " ".join(f"tag:t{i},vpn" for i in range(90)) + " tag:printer") == []
    assert found(desk, corpus, " ".join(f"field.serial_number:SN-{i},SN-1" for i in range(60))) == ["t2"]
    assert found(desk, corpus, " ".join(f"created:<{i + 1}d" for i in range(90))) == ["t5", "t4", "t3"]
    # Terms of one kind that exclude each other find nothing (an empty IN list is valid SQL on both).
    for text in ("status:open status:closed", "priority:P0 priority:P1", "type:none type:it_support",
                 "assignee:none assignee:tester", "queue:it queue:repairs", "sla:ok sla:breached",
                 "number:1 number:2", "org:Acme org:Globex", "number:" + "7" * 1990):
        assert found(desk, corpus, text) == [], text
    # Long comma lists within the character limit: one IN list each.
    assert found(desk, corpus, "priority:" + ",".join(["P0", "P1"] * 330)) == ["t2", "t1"]
    emails = ",".join(f"c{i}@x.example" for i in range(130)) + ",bob@y.example"
    assert found(desk, corpus, "customer:" + emails) == ["t2"]


def test_queries_beyond_the_limit_are_refused_clearly(desk):
    make(desk, "something")
    for count in (101, 500, 1_000, 10_000):
        for term in ("status:open", "tag:vpn", "customer:a@x.example", "vpn", "P1"):
            with pytest.raises(QueryError) as exc:
                tickets.list_tickets(desk, " ".join([term] * count))
            assert str(exc.value) in ("query: more than 100 terms", f"query: longer than 2,000 characters "
                                      f"({(len(term) + 1) * count - 1:,})"), (term, count)


def test_a_query_of_any_length_is_a_clear_cli_error(desk, cli):
    make(desk, "something")
    for count in (500, 10_000):
        run = cli("ticket", "list", *(["status:open"] * count))
        assert run.exit_code == 1, run.stderr
        assert run.stderr.strip().splitlines() == [
            f"error: query: longer than 2,000 characters ({12 * count - 1:,})"]
    run = cli("ticket", "list", *(["P1"] * 101))
    assert run.exit_code == 1 and run.stderr.strip() == "error: query: more than 100 terms"
    run = cli("ticket", "list", "tag:" + "x" * 3000)
    assert run.exit_code == 1 and "longer than 2,000 characters" in run.stderr
