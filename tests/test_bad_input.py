"""Bad input, table-driven: every row is (command line, stdin, exit code, a fragment of the message).

Each row runs through the CLI against a desk holding a few tickets, on SQLite and on PostgreSQL; it
must end with the contract's exit code and clean 'error: ...' lines on stderr (never a traceback or
an "internal error", nothing on stdout), and leave the database exactly as it was: the counts of
tickets, conversation entries, audit events and every other table, and the tickets' versions.

The rows are grouped by command; each group runs against one desk and reports every failing row at
once (a desk per row would make this file the slowest of the suite on PostgreSQL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpdesk.store.models import Ticket

LONG_BODY = "b" * 1_000_001
NOT_UTF8 = "caf\udce9"  # what Python makes of the argument bytes b"caf\xe9" (surrogateescape)
DEEP = "[" * 100_000 + "]" * 100_000


@dataclass
class Case:
    name: str
    args: list[str]
    stdin: str | bytes | None
    code: int
    needle: str
    lines: int = 1  # 'error:' lines on stderr (bulk input lists every bad row, then a summary)


def case(name, args, code, needle, stdin=None, lines=1) -> Case:
    return Case(name, list(args), stdin, code, needle, lines)


def ndjson(*records) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


# ---------------------------------------------------------------- ticket create (flags)

CREATE_FLAGS = [
    case("stray-argument", ["oops", "--title", "a"], 2, "oops"),
    case("missing-title", ["--type", "it_support"], 2, "--title"),
    case("blank-title", ["--title", "   "], 1, "needs a title"),
    case("title-501", ["--title", "t" * 501], 1, "the title is longer than 500 characters (501)"),
    case("title-10mb", ["--title", "t" * 10_000_000], 1, "the title is longer than 500 characters"),
    case("title-not-utf8", ["--title", NOT_UTF8], 2, "argument 4 (after --title) is not valid UTF-8: 'caf\\\\xe9'"),
    case("title-lone-surrogate", ["--title", "a\ud800b"], 2, "not valid UTF-8"),
    case("title-and-stdin", ["-", "--title", "a"], 2, "not both", stdin='{"title": "b"}'),
    case("body-1mb", ["--title", "a", "--body", "-"], 1, "the body is longer than 1,000,000 characters",
         stdin=LONG_BODY),
    case("body-not-utf8", ["--title", "a", "--body", "-"], 1, "stdin line 3: not valid UTF-8 at byte 6 (0xff)",
         stdin=b"first\nsecond\nthird\xff\n"),
    case("body-encoded-surrogate", ["--title", "a", "--body", "-"], 1, "stdin line 1: not valid UTF-8 at byte 3",
         stdin=b"ab\xed\xa0\x80"),
    case("body-latin1", ["--title", "a", "--body", "-"], 1, "not valid UTF-8", stdin="Grüße".encode("latin-1")),
    case("body-nul", ["--title", "a", "--body", "-"], 1, "the body contains a NUL character", stdin="one\x00two"),
    case("body-arg-not-utf8", ["--title", "a", "--body", "x\udcff"], 2, "argument 6 (after --body)"),
    case("unknown-type", ["--title", "a", "--type", "spaceship"], 1, "unknown type 'spaceship'"),
    case("type-with-escape", ["--title", "a", "--type", "x\x1b[2Jy"], 1, "unknown type"),
    case("bad-priority", ["--title", "a", "--priority", "P5"], 1, "priority 'P5'"),
    case("bad-customer", ["--title", "a", "--customer", "not-an-email"], 1, "not-an-email"),
    case("customer-321", ["--title", "a", "--customer", "c" * 311 + "@x.example"], 1,
         "the customer is longer than 320 characters"),
    case("bad-queue", ["--title", "a", "--queue", "nowhere"], 1, "unknown queue 'nowhere'"),
    case("key-201", ["--title", "a", "--key", "k" * 201], 1, "the idempotency key is longer than 200 characters"),
    case("bad-tag", ["--title", "a", "--tag", "no spaces!"], 1, "tag 'no spaces!' is not allowed"),
    case("tag-homoglyph", ["--title", "a", "--tag", "v\u0440n"], 1, "is not allowed"),
    case("tag-escape", ["--title", "a", "--tag", "a\x1b]0;pwned\x07"], 1, "is not allowed"),
    case("tag-65", ["--title", "a", "--tag", "t" * 65], 1, "at most 64 characters"),
    case("tag-leading-dot", ["--title", "a", "--tag=.hidden"], 1, "'.hidden' is not allowed"),
    case("tags-51", ["--title", "a", *[f"--tag=t{i}" for i in range(51)]], 1, "more than 50 tags"),
    case("unknown-field-flag", ["--title", "a", "--type", "equipment_repair", "--field", "serial_number=S",
                                "--field", "colour=red"], 1, "unknown field 'colour'"),
    case("unknown-field-10mb", ["--title", "a", "--type", "it_support", "--field", "f" * 10_000_000 + "=1"], 1,
         "unknown field 'fffff"),
    case("field-without-type", ["--title", "a", "--field", "serial_number=S"], 1, "needs a ticket type"),
    case("field-without-equals", ["--title", "a", "--type", "it_support", "--field", "category"], 1, "NAME=VALUE"),
    case("field-text-10001", ["--title", "a", "--type", "it_support", "--field", "asset_tag=" + "x" * 10_001], 1,
         "field 'asset_tag' of type 'it_support' is longer than 10,000 characters"),
    case("bad-bool", ["--title", "a", "--type", "equipment_repair", "--field", "serial_number=S",
                      "--field", "under_warranty=perhaps"], 1, "under_warranty"),
    case("bad-int", ["--title", "a", "--type", "it_support", "--field", "affected_users=many"], 1, "affected_users"),
    case("huge-int", ["--title", "a", "--type", "it_support", "--field", "affected_users=" + "9" * 25], 1,
         "out of range"),
    case("bad-date", ["--title", "a", "--type", "equipment_repair", "--field", "serial_number=S",
                      "--field", "purchase_date=2024-02-30"], 1, "purchase_date"),
    case("bad-choice", ["--title", "a", "--type", "it_support", "--field", "category=printer"], 1,
         "'printer' is not one of"),
    case("bad-number", ["--title", "a", "--type", "complaint", "--field", "compensation_offered=lots"], 1,
         "compensation_offered"),
    case("missing-required-field", ["--title", "a", "--type", "equipment_repair"], 1,
         "field 'serial_number' of type 'equipment_repair' is required"),
    case("unknown-option", ["--title", "a", "--urgent"], 2, "--urgent"),
]

# ---------------------------------------------------------------- ticket create - (JSON on stdin)

CREATE_STDIN = [
    case("malformed-json", ["-"], 1, "not valid JSON", stdin='{"title": "VPN", '),
    case("malformed-array", ["-"], 1, "not valid JSON", stdin='[{"title": "a"}, {"title": }]'),
    case("empty-stdin", ["-"], 1, "no JSON", stdin=""),
    case("ndjson-line-3-syntax", ["-"], 1, "error: line 3: not valid JSON", lines=2,
         stdin='{"title": "a"}\n{"title": "b"}\n{"title": "c"\n'),
    case("ndjson-line-3-type", ["-"], 1, "line 3: unknown type 'nope'", lines=2,
         stdin=ndjson({"title": "a"}, {"title": "b"}, {"title": "c", "type": "nope"})),
    case("array-item-2", ["-"], 1, "item 2: priority 'P9'", lines=2,
         stdin='[{"title": "a"}, {"title": "b", "priority": "P9"}]'),
    case("not-an-object", ["-"], 1, "line 2: expected a JSON object", lines=2, stdin='{"title": "a"}\n[1, 2]\n'),
    case("every-bad-line-listed", ["-"], 1, "error: 3 of 5 tickets refused: nothing created", lines=4,
         stdin=ndjson({"title": "ok"}, {"title": ""}, {"title": "ok"}, "{oops", {"title": "x", "tags": "a b!"})),
    case("250-bad-lines", ["-"], 1, "error: ... and 50 more\nerror: 250 of 251 tickets refused", lines=202,
         stdin=ndjson({"title": "fine"}, *[{"title": ""}] * 250)),
    case("unknown-key", ["-"], 1, "unknown key 'colour'", stdin='{"title": "a", "colour": "red"}'),
    case("unknown-field-json", ["-"], 1, "unknown field 'colour'",
         stdin='{"title": "a", "type": "equipment_repair", "serial_number": "S", "colour": 1}'),
    case("bad-int-json", ["-"], 1, "affected_users",
         stdin='{"title": "a", "type": "it_support", "fields": {"affected_users": 2.5}}'),
    case("bool-as-int", ["-"], 1, "line 1: field 'affected_users' of type 'it_support' must be a whole number, not 'True'",
         stdin='{"title": "a", "type": "it_support", "fields": {"affected_users": true}}'),
    case("object-as-text-field", ["-"], 1, "field 'asset_tag' of type 'it_support' must be text, not an object",
         stdin='{"title": "a", "type": "it_support", "fields": {"asset_tag": {"x": [1, [2]]}}}'),
    case("missing-title-json", ["-"], 1, "title", stdin='{"type": "it_support"}'),
    case("title-501-json", ["-"], 1, "line 1: the title is longer than 500", stdin=json.dumps({"title": "t" * 501})),
    case("nul-in-title", ["-"], 1, "NUL", stdin='{"title": "a\\u0000b"}'),
    case("nul-in-field", ["-"], 1, "asset_tag", stdin='{"title": "a", "type": "it_support", "asset_tag": "x\\u0000"}'),
    case("nul-in-key", ["-"], 1, "the idempotency key contains a NUL", stdin='{"title": "a", "key": "k\\u0000"}'),
    case("surrogate-in-title", ["-"], 1, "the title contains a lone surrogate \\udc80",
         stdin='{"title": "a\\udc80b"}'),
    case("surrogate-in-body", ["-"], 1, "the body contains a lone surrogate \\ud800",
         stdin='{"title": "a", "body": "\\ud800"}'),
    case("surrogate-in-name", ["-"], 1, "customer name contains a lone surrogate",
         stdin='{"title": "a", "customer": "c@x.example", "customer_name": "\\udfff"}'),
    case("surrogate-in-field", ["-"], 1, "field 'asset_tag' of type 'it_support' contains a lone surrogate",
         stdin='{"title": "a", "type": "it_support", "fields": {"asset_tag": "\\udc00"}}'),
    case("surrogate-in-tag", ["-"], 1, "is not allowed", stdin='{"title": "a", "tags": ["x\\udc00"]}'),
    case("surrogate-in-key-name", ["-"], 1, "unknown key", stdin='{"title": "a", "ti\\udc80tle": "b"}'),
    case("a-valid-pair-is-fine-but-title-long", ["-"], 1, "longer than 500",
         stdin='{"title": "' + "\\ud83d\\ude00" * 501 + '"}'),
    case("stdin-not-utf8", ["-"], 1, "stdin line 1: not valid UTF-8 at byte 15 (0xe9)",
         stdin=b'{"title": "caf\xe9"}'),
    case("stdin-not-utf8-line-3", ["-"], 1, "stdin line 3: not valid UTF-8 at byte 12",
         stdin=b'{"title": "a"}\n{"title": "b"}\n{"title": "\xc3("}\n'),
    case("nested-100000", ["-"], 1, "JSON nested deeper than 32 levels", stdin=DEEP),
    case("nested-object-100000", ["-"], 1, "line 1: JSON nested deeper than 32 levels",
         stdin='{"title": "a", "fields": ' + '{"a": ' * 100_000 + "1" + "}" * 100_001),
    case("nested-33-in-line-2", ["-"], 1, "line 2: JSON nested deeper than 32 levels", lines=2,
         stdin='{"title": "a"}\n{"title": "b", "fields": ' + "[" * 32 + "]" * 32 + "}\n"),
    case("nested-fields-string", ["-"], 1, "JSON nested deeper than 32 levels",
         stdin=json.dumps({"title": "a", "type": "it_support", "fields": "[" * 5000 + "]" * 5000})),
    case("number-5000-digits", ["-"], 1, "line 1: JSON holds a number too long to read",
         stdin='{"title": "a", "type": "it_support", "fields": {"affected_users": ' + "9" * 5000 + "}}"),
    case("fields-not-object", ["-"], 1, "'fields' must be an object", stdin='{"title": "a", "fields": [1]}'),
    case("tags-object", ["-"], 1, "tags must be a list", stdin='[{"title": "a", "tags": {"x": 1}}]'),
    case("tag-is-object", ["-"], 1, "a tag must be text", stdin='{"title": "a", "tags": ["ok", {"x": 1}]}'),
    case("tags-100000", ["-"], 1, "more than 50 tags",
         stdin=json.dumps({"title": "a", "tags": [f"t{i}" for i in range(100_000)]})),
    case("tags-51-string", ["-"], 1, "more than 50 tags",
         stdin=json.dumps({"title": "a", "tags": ",".join(f"t{i}" for i in range(51))})),
    case("customer-name-201", ["-"], 1, "the customer name is longer than 200",
         stdin=json.dumps({"title": "a", "customer": "c@x.example", "customer_name": "n" * 201})),
    case("organisation-201", ["-"], 1, "the organisation is longer than 200",
         stdin=json.dumps({"title": "a", "customer": "c@x.example", "organisation": "o" * 201})),
    case("bad-channel", ["-"], 1, "channel 'fax'", stdin='{"title": "a", "channel": "fax"}'),
    case("large-batch-one-bad", ["-"], 1, "error: line 300: field 'category' of type 'it_support': 'toaster'",
         lines=2, stdin=ndjson(*[{"title": f"ticket {i}", "key": f"k{i}"} for i in range(299)],
                               {"title": "bad one", "type": "it_support", "fields": {"category": "toaster"}})),
]

# ---------------------------------------------------------------- update, reply, status, assign, ...

EDITS = [
    case("update-title-501", ["ticket", "update", "1", "--title", "t" * 501], 1,
         "the title is longer than 500 characters"),
    case("update-title-blank", ["ticket", "update", "1", "--title", " "], 1, "the title cannot be empty"),
    case("update-title-not-utf8", ["ticket", "update", "1", "--title", NOT_UTF8], 2, "--title"),
    case("update-priority", ["ticket", "update", "1", "--priority", "urgent"], 1, "URGENT"),
    case("update-type", ["ticket", "update", "1", "--type", "spaceship"], 1, "unknown type"),
    case("update-queue", ["ticket", "update", "1", "--queue", "nowhere"], 1, "unknown queue"),
    case("update-customer", ["ticket", "update", "1", "--customer", "nobody"], 1, "not an email address"),
    case("update-customer-321", ["ticket", "update", "1", "--customer", "c" * 320 + "@x.example"], 1,
         "the customer is longer than 320"),
    case("update-field-unknown", ["ticket", "update", "1", "--field", "colour=red"], 1, "unknown field 'colour'"),
    case("update-field-10001", ["ticket", "update", "1", "--field", "asset_tag=" + "a" * 10_001], 1,
         "longer than 10,000"),
    case("update-field-int", ["ticket", "update", "1", "--field", "affected_users=1.5"], 1, "affected_users"),
    case("update-tag", ["ticket", "update", "1", "--tag", "a/b"], 1, "tag 'a/b' is not allowed"),
    case("update-tags-51", ["ticket", "update", "1", *[f"--tag=n{i}" for i in range(50)]], 1,
         "ticket #1 would have more than 50 tags"),
    case("update-tags-51-in-one-go", ["ticket", "update", "1", *[f"--tag=n{i}" for i in range(51)]], 1,
         "more than 50 tags"),
    case("update-stale", ["ticket", "update", "1", "--title", "x", "--if-version", "1"], 1, "changed (version"),
    case("update-missing", ["ticket", "update", "999", "--title", "x"], 1, "#999 not found"),
    case("update-not-a-number", ["ticket", "update", "abc", "--title", "x"], 1, "'abc' is not a ticket number"),
    case("update-huge-number-arg", ["ticket", "update", "1" * 5000, "--title", "x"], 1, "not found"),
    case("reply-not-utf8", ["ticket", "reply", "1", "--body", "-"], 1, "stdin line 2: not valid UTF-8 at byte 1",
         stdin=b"hello\n\x80\n"),
    case("reply-piped-not-utf8", ["ticket", "reply", "1"], 1, "stdin line 1: not valid UTF-8", stdin=b"\xfe"),
    case("note-not-utf8", ["ticket", "reply", "1", "--note", "--body", "-"], 1, "not valid UTF-8",
         stdin=b"a\xc3"),
    case("reply-empty", ["ticket", "reply", "1", "--body", "   "], 1, "the reply is empty"),
    case("reply-1mb", ["ticket", "reply", "1", "--body", "-"], 1, "the reply is longer than 1,000,000", stdin=LONG_BODY),
    case("note-1mb", ["ticket", "reply", "1", "--note", "--body", "-"], 1, "the note is longer than 1,000,000",
         stdin=LONG_BODY),
    case("reply-nul", ["ticket", "reply", "1", "--body", "-"], 1, "NUL", stdin="a note\x00with a NUL"),
    case("reply-arg-surrogate", ["ticket", "reply", "1", "--body", "\udcff"], 2, "not valid UTF-8"),
    case("reply-closed", ["ticket", "reply", "2", "--body", "hi"], 1, "ticket #2 is closed"),
    case("reply-missing", ["ticket", "reply", "999", "--body", "hi"], 1, "#999 not found"),
    case("reply-macro-and-body", ["ticket", "reply", "1", "--macro", "x", "--body", "y"], 2, "--macro"),
    case("status-unknown", ["ticket", "status", "1", "sleeping"], 1, "unknown status 'sleeping'"),
    case("status-escape", ["ticket", "status", "1", "x\x1b[31m"], 1, "unknown status"),
    case("status-illegal", ["ticket", "status", "1", "closed"], 1, "cannot move from assigned to closed"),
    case("status-closed", ["ticket", "status", "2", "new"], 1, "a closed ticket is final"),
    case("status-same", ["ticket", "status", "1", "assigned"], 1, "already assigned"),
    case("status-reason-2001", ["ticket", "status", "1", "in_progress", "--reason", "r" * 2001], 1,
         "the reason is longer than 2,000 characters"),
    case("status-missing", ["ticket", "status", "999", "resolved"], 1, "#999 not found"),
    case("status-no-state", ["ticket", "status", "1"], 2, "STATE"),
    case("return-reason-2001", ["ticket", "return", "1", "--reason", "r" * 2001], 1, "the reason is longer"),
    case("reopen-open", ["ticket", "reopen", "1"], 1, "cannot be reopened"),
    case("merge-self", ["ticket", "merge", "1", "1"], 1, "into itself"),
    case("merge-reason-2001", ["ticket", "merge", "3", "1", "--reason", "r" * 2001], 1, "the reason is longer"),
    case("merge-closed", ["ticket", "merge", "2", "1"], 1, "is closed"),
    case("assign-unknown", ["ticket", "assign", "1", "zed"], 1, "agent 'zed' not found"),
    case("assign-both", ["ticket", "assign", "1", "bob", "--auto"], 2, "not both"),
    case("assign-neither", ["ticket", "assign", "1"], 2, "name an agent"),
    case("assign-closed", ["ticket", "assign", "2", "bob"], 1, "reopen it"),
    case("assign-same", ["ticket", "assign", "1", "tester"], 1, "already assigned to tester"),
    case("assign-inactive", ["ticket", "assign", "3", "ina"], 1, "not active"),
    case("assign-not-utf8", ["ticket", "assign", "1", NOT_UTF8], 2, "argument 4 is not valid UTF-8"),
    case("assign-huge-number", ["ticket", "assign", "9" * 20, "me"], 1, "not found"),
    case("transfer-unknown-queue", ["ticket", "transfer", "1", "--queue", "nowhere"], 1, "unknown queue 'nowhere'"),
    case("transfer-neither", ["ticket", "transfer", "1"], 2, "name an agent"),
    case("rate-out-of-range", ["ticket", "rate", "1", "9"], 1, "from 1 to 5"),
    case("rate-comment-4001", ["ticket", "rate", "1", "4", "--comment", "c" * 4001], 1,
         "the rating comment is longer than 4,000"),
    case("show-unicode-digit", ["ticket", "show", "\u00b2"], 1, "not a ticket number"),
    case("show-missing", ["ticket", "show", "999"], 1, "#999 not found"),
    case("show-zero", ["ticket", "show", "#000"], 1, "'#000' is not a ticket number"),
    case("show-5000-digits", ["ticket", "show", "7" * 5000], 1, "ticket #77777777777777777777... not found"),
    case("history-missing", ["ticket", "history", "999"], 1, "#999 not found"),
]

# ---------------------------------------------------------------- list and export (the query language)

QUERIES = [
    case("unknown-term", ["ticket", "list", "colour:red"], 1, "unknown term 'colour:red'"),
    case("bad-status", ["ticket", "list", "status:sleeping"], 1, "sleeping"),
    case("bad-priority-term", ["ticket", "list", "priority:P9"], 1, "P9"),
    case("bad-age", ["ticket", "list", "created:yesterday"], 1, "created:yesterday"),
    case("huge-age", ["ticket", "list", "created:<99999999999d"], 1, "too far back"),
    case("bad-sla", ["ticket", "list", "sla:bogus"], 1, "unknown SLA state 'bogus'"),
    case("bad-field", ["ticket", "list", "field.colour:red"], 1, "unknown field 'colour'"),
    case("huge-field-query", ["ticket", "list", "field.affected_users:" + "9" * 25], 1, "out of range"),
    case("unknown-agent", ["ticket", "list", "assignee:zed"], 1, "unknown agent 'zed'"),
    case("unknown-queue", ["ticket", "list", "queue:nowhere"], 1, "unknown queue 'nowhere'"),
    case("unclosed-quote", ["ticket", "list", '"paper jam'], 1, "quote"),
    case("terms-88-ok-but-one-bad", ["ticket", "list", *["status:open"] * 87, "status:nope"], 1, "'nope'"),
    case("terms-101", ["ticket", "list", *["vpn"] * 101], 1, "query: more than 100 terms"),
    case("terms-500", ["ticket", "list", *["status:open"] * 500], 1, "query: longer than 2,000 characters"),
    case("terms-1000-tags", ["ticket", "list", *["tag:vpn"] * 1000], 1, "longer than 2,000 characters"),
    case("terms-10000", ["ticket", "list", *["status:open"] * 10_000], 1, "longer than 2,000 characters"),
    case("one-long-term", ["ticket", "list", "customer:" + "c" * 3000], 1, "longer than 2,000 characters"),
    case("query-not-utf8", ["ticket", "list", "tag:" + NOT_UTF8], 2, "argument 3 is not valid UTF-8"),
    case("negative-limit", ["ticket", "list", "--limit", "-1"], 2, "--limit"),
    case("non-numeric-limit", ["ticket", "list", "--limit", "ten"], 2, "--limit"),
    case("json-and-csv", ["ticket", "list", "--json", "--csv"], 2, "--json"),
    case("export-bad-query", ["export", "status:sleeping"], 1, "sleeping"),
    case("export-long-query", ["export", " ".join(["priority:P1"] * 300)], 1, "longer than 2,000 characters"),
    case("export-unknown-agent", ["export", "assignee:zed", "--format", "json"], 1, "unknown agent 'zed'"),
    case("export-missing-dir", ["export", "--output", "/nonexistent/dir/out.csv"], 1, "/nonexistent/dir/out.csv"),
]

# ---------------------------------------------------------------- import (files written per row)

IMPORTS = [
    # (name, file name, content, needle, 'error:' lines): a refused row is listed, then the summary line.
    ("json-not-utf8", "t.json", b'[{"title": "caf\xe9"}]', "t.json line 1: not valid UTF-8 at byte 16", 1),
    ("ndjson-not-utf8-line-2", "t.ndjson", b'{"title": "a"}\n{"title": "\xff"}\n', "t.ndjson line 2", 1),
    ("json-nested-100000", "deep.json", DEEP.encode(), "JSON nested deeper than 32 levels", 1),
    ("ndjson-nested-line-2", "deep.ndjson", ('{"title": "a"}\n' + DEEP + "\n").encode(),
     "line 2: JSON nested deeper than 32 levels", 2),
    ("ndjson-surrogate", "s.ndjson", b'{"title": "a\\udc80"}\n', "line 1: the title contains a lone surrogate", 2),
    ("csv-title-501", "long.csv", ("title\n" + "t" * 501 + "\n").encode(), "line 2: the title is longer than 500", 2),
    ("csv-tags-51", "tags.csv", ('title,tags\na,"' + ",".join(f"t{i}" for i in range(51)) + '"\n').encode(),
     "line 2: more than 50 tags", 2),
    ("csv-bad-tag", "tag.csv", b"title,tags\na,b@d\n", "line 2: tag 'b@d' is not allowed", 2),
    ("csv-field-10001", "f.csv", ("title,type,asset_tag\na,it_support," + "x" * 10_001 + "\n").encode(),
     "line 2: the field 'asset_tag' of type 'it_support' is longer than 10,000 characters (10,001)", 2),
    ("json-tags-100000", "many.json", json.dumps([{"title": "a", "tags": [f"t{i}" for i in range(100_000)]}]).encode(),
     "item 1: more than 50 tags", 2),
    ("json-every-bad-row", "rows.json", json.dumps([{"title": "ok"}, {"title": "t" * 501}, {"priority": "P1"}]).encode(),
     "2 of 3 rows refused: nothing imported", 3),
]

# ---------------------------------------------------------------- agents and attachments

AGENTS_AND_FILES = [
    case("agent-name-201", ["agent", "add", "zoe", "--name", "n" * 201], 1, "the agent's name is longer than 200"),
    case("agent-email-321", ["agent", "add", "zoe", "--email", "e" * 311 + "@x.example"], 1,
         "the agent's email is longer than 320"),
    case("agent-email-not-address", ["agent", "add", "zoe", "--email", "zoe at acme"], 1, "is not an email address"),
    case("agent-update-name-201", ["agent", "update", "bob", "--name", "n" * 201], 1, "the agent's name is longer"),
    case("agent-login-not-utf8", ["agent", "add", NOT_UTF8], 2, "argument 3 is not valid UTF-8"),
    case("agent-exists", ["agent", "add", "bob"], 1, "already exists"),
    case("agent-me", ["agent", "add", "me"], 1, "me"),
    case("agent-update-missing", ["agent", "update", "nobody", "--capacity", "1"], 1, "not found"),
    case("agent-unknown-queue", ["agent", "add", "zoe", "--queue", "nowhere"], 1, "unknown queue"),
    case("agent-bad-capacity", ["agent", "add", "zoe", "--capacity", "many"], 2, "--capacity"),
    case("agent-huge-capacity", ["agent", "add", "zoe", "--capacity", "9" * 20], 1, "too large"),
    case("attach-missing-file", ["ticket", "attach", "1", "/nonexistent/file.log"], 1, "/nonexistent/file.log"),
    case("attach-missing-ticket", ["ticket", "attach", "999", "{file}"], 1, "#999 not found"),
    case("attach-name-not-utf8", ["ticket", "attach", "1", "/tmp/" + NOT_UTF8], 2, "argument 4 is not valid UTF-8"),
    case("import-missing-file", ["ticket", "import", "/nonexistent/file.csv"], 1, "no such file"),
    case("import-a-directory", ["ticket", "import", "/"], 1, "not a file"),
    case("unknown-command", ["ticket", "explode"], 2, "explode"),
    case("unknown-top-command", ["explode"], 2, "explode"),
    case("unknown-top-option", ["--colour"], 2, "--colour"),
    case("unknown-command-not-utf8", [NOT_UTF8], 2, "argument 1 is not valid UTF-8"),
    case("missing-argument", ["ticket", "show"], 2, "ID"),
]


# ---------------------------------------------------------------- running the table


def snapshot(desk) -> dict:
    """Everything a refused command must leave as it was, read straight from the database."""
    from helpdesk.store import sql

    tables = ("ticket", "conversation_entry", "audit_event", "ticket_tag", "customer", "organisation", "agent",
              "outbox", "attachment", "sla_clock")
    state = {t: sql.one(desk.db, f'SELECT COUNT(*) FROM "{t}"')[0] for t in tables}
    state["versions"] = sql.one(desk.db, 'SELECT MAX("version"), SUM("version") FROM "ticket"')
    state["agents"] = sql.rows(desk.db, 'SELECT "login", "name", "email", "capacity", "active" FROM "agent" ORDER BY "id"')
    return state


@pytest.fixture
def stocked(cli, desk, tmp_path):
    """Ticket 1 assigned to tester (it_support, tagged), 2 closed, 3 new; agents bob and ina (inactive)."""
    def ok(*args):
        run = cli(*args)
        assert run.exit_code == 0, (args, run.stderr)

    ok("agent", "add", "bob", "--skill", "it")
    ok("agent", "add", "ina", "--skill", "it")
    ok("agent", "update", "ina", "--inactive")
    ok("ticket", "create", "--title", "VPN drops", "--type", "it_support", "--customer", "ann@x.example",
       "--tag", "vpn")
    ok("ticket", "assign", "1", "tester")
    ok("ticket", "create", "--title", "Old request")
    ok("ticket", "status", "2", "resolved")
    ok("ticket", "status", "2", "closed")
    ok("ticket", "create", "--title", "Waiting")
    assert Ticket.select().count() == 3
    attachment = tmp_path / "screen.log"
    attachment.write_text("log")
    return attachment


def check_clean_refusal(run, c: Case) -> None:
    assert run.exit_code == c.code, f"exit {run.exit_code}, wanted {c.code}: {run.stderr[:500]!r}"
    text = run.stdout + run.stderr
    assert "Traceback" not in text and "internal error" not in text, run.stderr[:2000]
    assert run.stdout == "", f"stdout: {run.stdout[:500]!r}"
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert all(line.startswith("error: ") for line in lines), lines[:5]
    assert len(lines) == c.lines, lines[:5]
    assert c.needle in run.stderr, f"{c.needle!r} not in {run.stderr[:1000]!r}"
    longest = max(len(line) for line in lines)
    assert longest < 1000, f"an error line echoes the input: {longest:,} characters"


def refuse_all(cli, desk, cases, prefix=(), attachment: Path | None = None) -> None:
    """Every case against one desk; every failing case reported at once, by name."""
    failures = []
    for c in cases:
        before = snapshot(desk)
        args = [*prefix, *(str(attachment) if a == "{file}" else a for a in c.args)]
        try:
            run = cli(*args, input=c.stdin)
            check_clean_refusal(run, c)
            assert snapshot(desk) == before, "the database changed"
        except AssertionError as exc:
            failures.append(f"{c.name}: {str(exc)[:600]}")
    assert failures == [], "\n".join(failures)


def test_bad_create_flags(cli, desk, stocked):
    refuse_all(cli, desk, CREATE_FLAGS, ("ticket", "create"))


def test_bad_create_stdin(cli, desk, stocked):
    refuse_all(cli, desk, CREATE_STDIN, ("ticket", "create"))


def test_bad_edits(cli, desk, stocked):
    refuse_all(cli, desk, EDITS)


def test_bad_queries(cli, desk, stocked):
    refuse_all(cli, desk, QUERIES)


def test_bad_agents_and_files(cli, desk, stocked):
    refuse_all(cli, desk, AGENTS_AND_FILES, attachment=stocked)


def test_bad_import_files(cli, desk, stocked, tmp_path):
    cases = []
    for name, filename, content, needle, lines in IMPORTS:
        path = tmp_path / name / filename
        path.parent.mkdir()
        path.write_bytes(content)
        cases.append(case(name, ["ticket", "import", str(path)], 1, needle, lines=lines))
    cases.append(case("stdin-not-utf8", ["ticket", "import", "-", "--format", "json"], 1,
                      "stdin line 1: not valid UTF-8 at byte 13", stdin=b'[{"title": "\xff"}]'))
    refuse_all(cli, desk, cases)


def test_the_table_is_large_enough():
    cases = CREATE_FLAGS + CREATE_STDIN + EDITS + QUERIES + AGENTS_AND_FILES
    assert len(cases) + len(IMPORTS) >= 80
    assert len({c.name for c in cases}) == len(cases)


# ---------------------------------------------------------------- all or nothing: a bulk create killed midway


def _writer_busy(home, desk) -> bool:
    """Whether another process holds a write transaction on the desk (its tickets are being stored)."""
    if home.schema is None:
        import sqlite3

        probe = sqlite3.connect(str(home.path / "helpdesk.db"), timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    from helpdesk.store import sql

    return sql.one(desk.db, 'SELECT COUNT(*) FROM pg_locks AS l JOIN pg_class AS c ON c.oid = l.relation'
                   ' JOIN pg_namespace AS n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?'
                   " AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()", (home.schema, "ticket"))[0] > 0


def test_a_bulk_create_killed_midway_stores_nothing(desk, home, helpdesk_bin):
    import os
    import signal
    import subprocess
    import time

    tables_before = snapshot(desk)
    lines = ndjson(*[{"title": f"bulk ticket {i}", "body": "printer " * 20, "customer": f"c{i % 500}@x.example",
                      "tags": ["bulk", f"t{i % 7}"], "key": f"bulk-{i}"} for i in range(20_000)])
    proc = subprocess.Popen(helpdesk_bin + ["ticket", "create", "-"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy())
    try:
        proc.stdin.write(lines.encode())
        proc.stdin.close()
        deadline = time.monotonic() + 120
        while not _writer_busy(home, desk):
            assert proc.poll() is None, f"finished before it was seen writing: {proc.stderr.read()[:500]!r}"
            assert time.monotonic() < deadline, "the bulk create never started writing"
            time.sleep(0.02)
        time.sleep(0.5)  # well into the write (chunks of 2,000 used to commit one by one)
        assert proc.poll() is None, "the bulk create finished before the kill: make it larger"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    deadline = time.monotonic() + 30
    while _writer_busy(home, desk) and time.monotonic() < deadline:  # PostgreSQL rolls the session back
        time.sleep(0.05)
    assert snapshot(desk) == tables_before
    # The desk takes writes again, and the same input then stores every ticket.
    run = run_cli(helpdesk_bin, ["ticket", "create", "-"], lines)
    assert run.returncode == 0, run.stderr
    assert Ticket.select().count() == tables_before["ticket"] + 20_000


def run_cli(helpdesk_bin, args, stdin):
    from conftest import run_subprocess

    return run_subprocess(helpdesk_bin + args, input=stdin, timeout=300)


def test_undecodable_bytes_through_the_real_console_script(desk, helpdesk_bin):
    """Real argv and stdin bytes (the in-process runner hands over str): a clean error naming where."""
    import os
    import subprocess

    before = snapshot(desk)
    title = os.fsdecode(b"Caf\xe9 printer")  # what an ISO-8859-1 terminal sends
    run = subprocess.run(helpdesk_bin + ["ticket", "create", "--title", title], capture_output=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.decode() == "error: argument 4 (after --title) is not valid UTF-8: 'Caf\\\\xe9 printer'\n"
    run = subprocess.run(helpdesk_bin + ["ticket", "create", "-"], input=b'{"title": "Caf\xe9"}\n', capture_output=True,
                         timeout=60)
    assert (run.returncode, run.stderr.decode()) == (
        1, "error: stdin line 1: not valid UTF-8 at byte 15 (0xe9): save it as UTF-8\n")
    run = subprocess.run(helpdesk_bin + ["ticket", "list", os.fsdecode(b"\xff\xfe")], capture_output=True, timeout=60)
    assert run.returncode == 2 and b"argument 3 is not valid UTF-8" in run.stderr
    assert snapshot(desk) == before


# ---------------------------------------------------------------- names in the configuration


@pytest.mark.parametrize("snippet,message", [
    ('[[queue]]\nname = "front desk"\n', "name = 'front desk' is not a valid queue name"),
    ('[[queue]]\nname = "q\\u001b]8;;http://evil.example\\u0007"\n', "is not a valid queue name"),
    ('[[queue]]\nname = "' + "q" * 65 + '"\n', "at most 64"),
    ('[[queue]]\nname = "d\u00e9p\u00f4t"\n', "is not a valid queue name"),
    ('[[type]]\nname = "Laptop"\n', "name = 'Laptop' is not a valid name"),
    ('[[type]]\nname = "laptop"\nfields = { "serial number" = "text" }\n', "'serial number' is not a valid name"),
    ('[[rule]]\nname = "x"\non = "created"\nwhen = ""\ndo = [{ add_tag = "two words" }]\n',
     "tag 'two words' is not allowed"),
    ('[[rule]]\nname = "x"\non = "created"\nwhen = ""\ndo = [{ add_tag = ["ok", "[b]bold[/b]"] }]\n',
     "tag '[b]bold[/b]' is not allowed"),
    ('[[rule]]\nname = "' + "r" * 96 + '"\non = "created"\nwhen = ""\ndo = [{ note = "x" }]\n', "at most 95 characters"),
])
def test_bad_names_in_the_configuration_are_refused_at_start(configured, cli, snippet, message):
    configured.write_config(configured.default_config() + "\n" + snippet)
    run = cli("ticket", "list")
    assert run.exit_code == 1, run.stdout
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: config: ") and message in lines[0], lines


def test_a_config_file_that_is_not_utf8_is_named(configured, cli):
    configured.config_file.write_bytes(configured.default_config().encode() + b'\n[[queue]]\nname = "d\xe9p\xf4t"\n')
    run = cli("ticket", "list")
    assert run.exit_code == 1
    line = configured.default_config().count("\n") + 3
    assert run.stderr == f"error: config: {configured.config_file} line {line}: not valid UTF-8 at byte 10 (0xe9): " \
                         "save it as UTF-8\n"


def test_a_tag_stored_before_the_name_rule_can_be_removed_not_added(cli, desk, stocked):
    from helpdesk.store.models import TicketTag

    TicketTag.create(ticket=1, tag="störung")  # what an older desk may hold
    refused = cli("ticket", "update", "1", "--tag", "störung")
    assert refused.exit_code == 1 and "tag 'störung' is not allowed" in refused.stderr
    run = cli("ticket", "update", "1", "--untag", "Störung", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["tags"] == ["vpn"]
