"""Keyset paging of the queue (both backends): for every sort the queue offers, with many ties in the
sort key, the pages read forward (after the last key), backward (before the first key, from the end),
and at offsets from either end join up to exactly the order one unpaged read gives; the TUI's row
source, which chooses among those reads, gives the same rows at every position."""

from __future__ import annotations

import json

import pytest

from helpdesk.domain import tickets as domain_tickets
from helpdesk.services import lifecycle, queue, tickets
from helpdesk.tui.desk import COLUMN_SORTS, TicketDesk

SORTS = [None, *[f"{sign}{key}" for key in queue.SORT_KEYS for sign in ("", "-")]]
QUERIES = ["", "status:open", "printer"]
PAGE = 7
PRIORITY_RANK = {"P0": 0, "P1": 1, "P2": 2, "P3": 3}


@pytest.fixture
def tied_desk(desk):
    """47 tickets in three batches an hour apart: created and updated times tie within a batch, four
    priorities tie across it, SLA due times tie by (batch, priority, type); some moved on later."""
    for batch in range(3):
        records = [json.dumps({"title": f"{'Printer' if i % 2 else 'VPN'} problem {batch}-{i}",
                               "customer": f"c{i}@example.com", "priority": f"P{(i * 7 + batch) % 4}",
                               "type": ("it_support", "equipment_repair", "complaint")[i % 3],
                               "fields": {"serial_number": f"SN-{i}"} if i % 3 == 1 else {}})
                   for i in range(16 if batch < 2 else 15)]
        tickets.create_records(desk, "\n".join(records))
        desk.clock.advance(hours=1)
    for number in (3, 9, 20, 33):  # updated later; one out of the open ones
        lifecycle.assign(desk, number, "tester")
        if number == 20:
            lifecycle.change_status(desk, number, "resolved")
    return desk


def numbers(found) -> list[int]:
    return [t.number for t in found.tickets]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("sort", SORTS)
def test_keyset_pages_join_up_to_the_whole_order_with_ties(tied_desk, sort, query):
    expected = [t.number for t in domain_tickets.list_tickets(tied_desk, query, limit=None, sort=sort)]
    assert len(expected) >= 20 and len(set(expected)) == len(expected)
    # forward: each page after the last key of the one before
    forward, after = [], None
    while True:
        found = queue.page(tied_desk, query, sort=sort, limit=PAGE, after=after)
        if not found.tickets:
            break
        assert len(found.keys) == len(found.tickets)
        forward += numbers(found)
        after = found.keys[-1]
    assert forward == expected
    # backward: the last page read in reverse, then each page before the first key of the one after
    backward, before = [], None
    while True:
        found = (queue.page(tied_desk, query, sort=sort, limit=PAGE, from_end=True) if before is None
                 else queue.page(tied_desk, query, sort=sort, limit=PAGE, before=before))
        if not found.tickets:
            break
        backward = numbers(found) + backward
        before = found.keys[0]
    assert backward == expected
    # at offsets from the first row and from the last
    for offset in range(0, len(expected), 5):
        assert numbers(queue.page(tied_desk, query, sort=sort, limit=PAGE, offset=offset)) == \
            expected[offset:offset + PAGE]
        end = len(expected) - offset
        assert numbers(queue.page(tied_desk, query, sort=sort, limit=PAGE, offset=offset, from_end=True)) == \
            expected[max(0, end - PAGE):end]


def test_the_orders_are_what_they_say(tied_desk):
    """The reference order itself: priority ascending is the most urgent first, ties newest first."""
    views = domain_tickets.list_tickets(tied_desk, "", limit=None, sort="priority")
    assert [v.number for v in views] == [v.number for v in sorted(
        views, key=lambda v: (PRIORITY_RANK[v.priority], -v.number))]
    views = domain_tickets.list_tickets(tied_desk, "", limit=None, sort="-updated")
    assert [v.number for v in views] == [v.number for v in sorted(views, key=lambda v: (v.updated_at, v.number),
                                                                   reverse=True)]
    assert views[0].number == 33  # the last one changed


@pytest.mark.parametrize("column", [None, *COLUMN_SORTS])
@pytest.mark.parametrize("descending", [False, True])
def test_the_row_source_gives_the_same_rows_at_every_position_whichever_way_it_gets_there(tied_desk, column,
                                                                                          descending):
    if column is None and descending:
        pytest.skip("the default order has one direction")
    desk = TicketDesk(tied_desk)
    sort = None if column is None else ("-" if descending else "") + COLUMN_SORTS[column]
    expected = [t.number for t in domain_tickets.list_tickets(tied_desk, "", limit=None, sort=sort)]

    def fresh():  # a source that has read nothing yet (no keys remembered), with its count
        source = desk.rows_for("")
        if column is not None:
            source.sort_by(column, descending)
        assert source.count() == len(expected)
        return source

    try:
        pages = range(0, len(expected), PAGE)
        source = fresh()  # Home, then page down to the end: each page after the one before
        assert [r.number for offset in pages for r in source.page(offset, PAGE)] == expected
        source = fresh()  # End, then page up to the top: each page before the one after
        up = [r.number for offset in reversed(pages) for r in reversed(source.page(offset, PAGE))]
        assert up[::-1] == expected
        source = fresh()  # jumps anywhere: counted from the nearer end
        for offset in (len(expected) // 2, 3, len(expected) - 4):
            assert [r.number for r in source.page(offset, PAGE)] == expected[offset:offset + PAGE]
    finally:
        desk.close()


def test_search_pages_newest_first_when_the_matches_are_beyond_the_first_windows(desk):
    """Matches among the newest tickets, then none for more than a window, then old ones: every page
    of a search, read forward, backward and from the end, is the whole order's slice (on PostgreSQL
    the newest-first walk finds the first pages, the full-text index the rest)."""
    from helpdesk.domain.tickets import SEARCH_WINDOWS

    n = SEARCH_WINDOWS[0] + 1_200
    records = [json.dumps({"title": "zebra crossing lamp" if i < 300 or i >= n - 40 else f"plain ticket {i}",
                           "customer": "c@example.com"}) for i in range(n)]
    tickets.create_records(desk, "\n".join(records))
    expected = [t.number for t in domain_tickets.list_tickets(desk, "zebra", limit=None)]
    assert len(expected) == 340 and expected[:40] == list(range(n, n - 40, -1))
    assert [t.number for t in domain_tickets.list_tickets(desk, "zebra", limit=50)] == expected[:50]
    forward, after = [], None
    while (found := queue.page(desk, "zebra", limit=30, after=after)).tickets:
        forward += [t.number for t in found.tickets]
        after = found.keys[-1]
    assert forward == expected
    backward, before = [], None
    while True:
        found = (queue.page(desk, "zebra", limit=30, from_end=True) if before is None
                 else queue.page(desk, "zebra", limit=30, before=before))
        if not found.tickets:
            break
        backward = [t.number for t in found.tickets] + backward
        before = found.keys[0]
    assert backward == expected
