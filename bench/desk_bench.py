#!/usr/bin/env python
"""Benchmark a realistic helpdesk desk: bulk intake, queue query, full-text search, CLI cold start.

    .venv/bin/python bench/desk_bench.py                       # 100,000 tickets on SQLite
    .venv/bin/python bench/desk_bench.py --million             # 1,000,000 tickets on SQLite
    .venv/bin/python bench/desk_bench.py --backend postgres    # schema bench_xxx in postgres@127.0.0.1/test
    .venv/bin/python bench/desk_bench.py --million --keep      # keep the desk; later measure it again with
    .venv/bin/python bench/desk_bench.py --reuse HOME [--backend postgres --reuse-schema bench_xxx]

What it does (see bench/README.md):
 1. a fresh desk in a temporary HELPDESK_HOME (config/helpdesk.toml copied to HOME/config.toml; on
    PostgreSQL a schema of its own, dropped at the end), `helpdesk init`;
 2. N realistic tickets as NDJSON piped through the real CLI, `helpdesk ticket create -` (one
    subprocess, timed as a whole: tickets/second);
 3. a realistic share of them moved to other states (direct SQL on the ticket table, benchmark only):
    assigned to a handful of agents added with `helpdesk agent add`, ~30% resolved/closed, with
    creation times spread over two years; then the queries are timed once before ANALYZE (as a desk
    that never ran ANALYZE sees them) and, after ANALYZE, for the report;
 4. p50/p95 of the queue query `status:open priority:P0,P1` and of full-text searches (limit 50),
    in-process through helpdesk.domain.tickets.list_tickets, and once each through the CLI;
 5. CLI cold start: median wall time of `helpdesk ticket list --json --limit 50` vs `python -c pass`;
 6. a table of the figures next to the targets, plus the database size; the query plans
    (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE) unless --no-explain. Results also go to bench/out/*.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helpdesk.domain import sample  # noqa: E402  (the shipped text corpora and random_ticket)

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

# The targets (they apply at 1,000,000 tickets on SQLite).
TARGET_QUERY_P50_MS = 20.0
TARGET_SEARCH_P50_MS = 20.0
TARGET_CREATE_PER_S = 5000.0
TARGET_COLD_RATIO = 3.0

QUEUE_QUERY = "status:open priority:P0,P1"
# The main search (a common printer problem, as an agent types it), then a few other shapes.
SEARCH_QUERY = 'printer "paper jam"'
EXTRA_QUERIES = [
    ("search, rare term", "ORA-12541"),
    ("search + filter", "status:open priority:P0,P1 vpn"),
    ("my queue (assignee)", "assignee:alice status:open"),
    ("tag filter", "tag:vip status:open"),
]

AGENTS = [  # login, name, skills, queues
    ("alice", "Alice Martin", ["it", "network"], ["it"]),
    ("bob", "Bob Keller", ["it", "repair"], ["it", "repairs"]),
    ("erin", "Erin Walsh", ["it"], ["it"]),
    ("frank", "Frank Osei", ["it", "network"], ["it"]),
    ("dave", "Dave Okafor", ["repair"], ["repairs"]),
    ("gina", "Gina Rossi", ["repair"], ["repairs"]),
    ("carol", "Carol Nguyen", ["care"], ["care"]),
    ("hugo", "Hugo Brandt", ["care"], ["care"]),
]
AGENTS_BY_TYPE = {"it_support": ["alice", "bob", "erin", "frank"], "equipment_repair": ["dave", "gina", "bob"],
                  "complaint": ["carol", "hugo"]}


# ====================================================================== realistic ticket text
#
# sample.py's corpora (IT_ISSUES, REPAIR_ISSUES, COMPLAINTS, REPLIES, NOTES, FIRST, ORGS) are the
# seed; around them the generator adds products, places, error codes, hosts, people, dates and free
# sentences drawn with a Zipf-like skew, so the full-text index has a realistic vocabulary (a few very
# common words, a long tail of codes, host names and model numbers).

LAST = ["muller", "schmidt", "garcia", "rossi", "novak", "kowalski", "smith", "jones", "dubois", "silva",
        "jensen", "nakamura", "okafor", "haddad", "larsen", "meyer", "costa", "ivanova", "brown", "weber",
        "fischer", "yilmaz", "petrov", "moreau", "lopez", "khan", "berg", "wagner", "hoffmann", "keller"]
EXTRA_ORGS = ["Acme Retail", "Blue Harbor Bank", "Cedar Clinics", "Delta Freight", "Evergreen Schools",
              "Fjord Energy", "Granite Insurance", "Helios Solar", "Ivory Hotels", "Juniper Foods",
              "Kestrel Aviation", "Lumen Labs", "Metro Transit", "Nimbus Cloud", "Orion Pharma", "Pioneer Farms",
              "Quartz Media", "Riverbend Council", "Summit Legal", "Tundra Mining"]
CITIES = ["Berlin", "Munich", "Hamburg", "Vienna", "Zurich", "Paris", "Lyon", "Madrid", "Milan", "Warsaw",
          "Prague", "Amsterdam", "Rotterdam", "Brussels", "Copenhagen", "Oslo", "Stockholm", "Helsinki",
          "Dublin", "London", "Manchester", "Lisbon", "Porto", "Barcelona", "Budapest", "Krakow", "Leipzig",
          "Cologne", "Frankfurt", "Stuttgart", "Graz", "Basel", "Geneva", "Antwerp", "Gothenburg", "Tallinn"]
BUILDINGS = ["headquarters", "warehouse", "plant", "branch office", "lab", "data centre", "depot", "store",
             "service centre", "training centre", "call centre", "campus"]
ROOMS = ["reception", "meeting room A", "meeting room B", "meeting room C", "board room", "canteen",
         "server room", "workshop", "loading bay", "open space", "finance office", "HR office", "print corner"]
IT_PRODUCTS = ["Outlook", "Teams", "Zoom", "SAP ERP", "Salesforce", "Excel", "Word", "OneDrive", "SharePoint",
               "Windows 11", "macOS Sonoma", "Ubuntu 22.04", "Chrome", "Firefox", "Edge", "Cisco AnyConnect",
               "GlobalProtect", "FortiClient", "Citrix Workspace", "Jira", "Confluence", "Slack", "Adobe Acrobat",
               "AutoCAD", "SPSS", "Tableau", "Power BI", "DATEV", "Oracle client", "Visual Studio", "Git",
               "Okta", "Azure AD", "Active Directory", "Exchange", "Intune", "BitLocker", "Defender",
               "ThinkPad T14", "ThinkPad X1 Carbon", "Latitude 5440", "Latitude 7420", "EliteBook 840",
               "MacBook Pro", "Surface Pro 9", "iPhone 13", "Galaxy S23", "Yealink T54W", "Jabra Evolve2",
               "Dell U2723QE", "LG UltraFine", "HP LaserJet M607", "Kyocera TASKalfa 3554ci", "Ricoh IM C3000",
               "Canon imageRUNNER", "Brother HL-L6400", "Meraki MR46", "FritzBox 7590", "Ubiquiti U6",
               "docking station", "headset", "webcam", "keyboard", "mouse", "badge reader", "smart card"]
REPAIR_PRODUCTS = ["P-200 pump", "P-350 pump", "C-90 compressor", "C-120 compressor", "G-40 generator",
                   "document scanner", "control unit", "HMI panel", "conveyor belt", "chiller", "boiler",
                   "forklift", "label printer", "packing machine", "CNC mill", "lathe", "air handler",
                   "UPS unit", "heat pump", "cooling tower", "hydraulic press", "weighing scale", "dosing pump",
                   "vacuum pump", "compact loader", "coffee machine", "vending machine", "elevator", "door drive"]
COMPLAINT_SUBJECTS = ["delivery", "invoice", "refund", "technician visit", "hotline", "replacement", "order",
                      "contract", "warranty claim", "spare part", "installation", "cancellation", "credit note",
                      "service level", "maintenance visit", "billing address", "direct debit", "subscription"]
SYMPTOMS = ["does not start", "keeps crashing", "is very slow", "shows an error", "freezes", "stopped working",
            "cannot connect", "drops the connection", "is not syncing", "asks for the password again",
            "makes a loud noise", "overheats", "leaks", "shows a fault code", "displays nothing",
            "is stuck in a reboot loop", "loses the settings", "prints blank pages", "reports a paper jam",
            "times out", "is locked", "rejects the licence", "runs out of memory", "fails the self test"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WHEN = ["since this morning", "since yesterday", "since the update last night", "since Monday",
        "for about a week", "after the last patch", "after the move to the new office", "intermittently",
        "every afternoon", "since the power cut", "after the firmware upgrade", "since the password change",
        "for two days now", "since the migration", "every few minutes", "at random times"]
ERROR_TEMPLATES = ["0x{h8}", "0x8007{h4}", "E{n2}", "C{n2}", "F{n2}", "D{n2}", "HTTP {http}", "ORA-{n5}",
                   "KB{n7}", "ERR_{word}_{n3}", "AADSTS{n5}", "SMTP {smtp}", "code {n3}", "SQLSTATE {n5}"]
KNOWN_CODES = ["0x80070643", "HTTP 502", "E17", "C04", "AADSTS50076", "0x800CCC0E", "ORA-12541", "SMTP 550",
               "KB5034441", "ERR_CERT_DATE_INVALID", "0xC004F074", "F12", "D02", "SQLSTATE 40001", "HTTP 403"]
ERR_WORDS = ["CONNECTION_RESET", "CERT_INVALID", "TIMED_OUT", "NAME_NOT_RESOLVED", "ACCESS_DENIED",
             "QUOTA_EXCEEDED", "SSL_PROTOCOL", "PROXY_AUTH", "DISK_FULL", "LICENSE_EXPIRED"]
HTTP = ["400", "401", "403", "404", "408", "429", "500", "502", "503", "504"]
SMTP = ["421", "450", "451", "452", "550", "552", "553", "554"]
LOG_SERVICES = ["auth-gw", "mail-relay", "vpn-edge", "erp-app", "print-srv", "file-srv", "sso", "crm-sync",
                "backup-agent", "dhcp", "dns", "proxy", "scada-bridge", "telemetry", "billing-api"]
LOG_MESSAGES = ["connection reset by peer", "certificate has expired", "authentication failed for user {user}",
                "timeout after 30000 ms", "disk quota exceeded on {host}", "job {n5} aborted", "retrying in 60 s",
                "could not resolve host {host}", "permission denied: {path}", "lock wait timeout exceeded",
                "sensor {n3} out of range", "pressure drop detected on circuit {n2}", "spooler queue full"]
PATHS = ["\\\\fs01\\projects", "\\\\fs02\\finance", "/srv/share/hr", "C:\\Users\\Public", "/home/shared/design",
         "\\\\nas\\scans", "/mnt/archive/2025", "S:\\Quality\\Audits"]

SENTENCES_COMMON = [
    "It happens {when} and affects {n_people} people in our team.",
    "We are at the {building} in {city}, {room}.",
    "The problem is urgent because we have a deadline on {weekday}.",
    "I already restarted the device twice, without success.",
    "Our colleague {person} has the same problem on another machine.",
    "Please call me back on extension {ext} if you need more details.",
    "The error message says: {code}.",
    "I attached a screenshot of the message.",
    "This worked fine until last {weekday}.",
    "Could someone from your team have a look today?",
    "We tried the steps from the knowledge base article {kb} but nothing changed.",
    "The issue started right after {person} changed the settings.",
    "Several users in {city} report the same behaviour.",
    "Asset tag {asset} is written on the sticker at the back.",
    "Our manager asked me to escalate this if it is not solved by {weekday}.",
    "The log shows: {log}",
    "Best regards, {person_name}",
    "Thanks in advance for your help.",
    "Reference from the previous ticket: #{n5}.",
    "We need this fixed before the audit next week.",
]
SENTENCES_IT = [
    "{it_product} {symptom} on my laptop {host}.",
    "{it_product} {symptom} {when}; {it_product2} still works.",
    "When I open {it_product} I get the error {code}.",
    "The VPN disconnects every {n1} minutes when I work from home in {city}.",
    "My password expired and now {it_product} keeps asking for credentials.",
    "I cannot access the folder {path} on the shared drive: access denied.",
    "The printer in the {room} shows a paper jam in tray {n1} but there is no paper stuck.",
    "The shared printer on floor {n1} {symptom}; we cannot print invoices.",
    "The wifi in the {room} is very slow, video calls freeze constantly.",
    "Please create an account for our new colleague {person_name} starting on {weekday}.",
    "The software centre fails with {code} when installing {it_product}.",
    "Email to external addresses bounces with {code}.",
    "Two-factor authentication on {it_product} does not send the code any more.",
    "The docking station does not detect the second screen ({it_product}).",
    "The laptop {host} is very slow after the update, boot takes {n2} minutes.",
    "Outlook search does not find any mails older than {n1} months.",
]
SENTENCES_REPAIR = [
    "The {repair_product} at our {building} in {city} {symptom}.",
    "Fault code {fault} is shown on the display of the {repair_product}.",
    "The {repair_product} {symptom} after about {n1} hours of operation.",
    "Serial number {serial}, installed in {year}.",
    "We need a technician on site; the line is down since {when_short}.",
    "The unit makes a grinding noise during the weekly test run.",
    "There is water leaking at the main seal of the {repair_product}.",
    "The control panel shows {fault} and the fan runs briefly then stops.",
    "The {repair_product} is under warranty according to contract {contract}.",
    "Please send the spare part {part} together with the technician.",
    "Pressure drops to {n1}.{n1} bar within minutes after start.",
    "The touch display of the {repair_product} flickers and sometimes stays black.",
]
SENTENCES_COMPLAINT = [
    "My {subject} for order {order} was handled very badly.",
    "The {subject} arrived {n1} days late and the packaging was torn.",
    "I was charged twice for invoice {invoice}; please refund the duplicate payment.",
    "The technician did not show up on {weekday} and nobody called to cancel.",
    "I waited more than {n2} minutes on the hotline before giving up.",
    "This is the {nth} time this happens and I am considering cancelling the contract.",
    "The replacement {repair_product} you sent is also damaged.",
    "I expect compensation for the downtime at our {building} in {city}.",
    "Your colleague {person} promised a call back that never came.",
    "The credit note for {invoice} still has not arrived.",
]
TITLE_TEMPLATES_IT = [
    "{it_product} {symptom}", "{it_product} {symptom} in {city}", "{code} when starting {it_product}",
    "{it_product}: {code}", "Cannot log in to {it_product}", "{it_product} {symptom} on {host}",
    "Access to {path} denied", "New starter in {city} needs {it_product}", "Printer in {room} {symptom}",
    "VPN {symptom} from home office", "Wifi in {room} {symptom}", "{it_product} licence expired",
]
TITLE_TEMPLATES_REPAIR = [
    "{repair_product} {symptom}", "{repair_product} {symptom} ({fault})", "Fault {fault} on {repair_product}",
    "{repair_product} at {building} {city} {symptom}", "Service visit needed: {repair_product}",
    "{repair_product} serial {serial} {symptom}",
]
TITLE_TEMPLATES_COMPLAINT = [
    "Complaint about {subject}", "{subject} for order {order} not as agreed", "Unhappy with the {subject}",
    "Second complaint: {subject}", "Invoice {invoice} is wrong", "No reply about my {subject}",
]
TAGS_COMMON = ["vip", "urgent", "remote", "onsite", "follow-up", "escalated", "security", "hardware", "software",
               "outage", "recurring", "new-starter", "leaver", "contract", "sla", "billing", "delivery"]


def _zipf_weights(n: int, s: float = 1.05) -> list[float]:
    return [1.0 / (rank + 1) ** s for rank in range(n)]


def _cum(weights: list[float]) -> list[float]:
    out, total = [], 0.0
    for w in weights:
        total += w
        out.append(total)
    return out


class Slots(dict):
    """Values for a text template, made on first use (most templates use two or three)."""

    def __init__(self, gen: "TextGen", shared: dict | None):
        super().__init__(shared or {})
        self.gen = gen
        self.shared: "Slots | None" = None  # the ticket's entities, if this sentence is about them

    def __missing__(self, key: str):
        if self.shared is not None and key in TextGen.ENTITY_KEYS:
            value = self.shared[key]
        else:
            value = SLOT_MAKERS[key](self.gen, self.gen.rng)
        self[key] = value
        return value


def _name(r: random.Random) -> str:
    return f"{r.choice(sample.FIRST).capitalize()} {r.choice(LAST).capitalize()}"


SLOT_MAKERS = {
    "when": lambda g, r: r.choice(WHEN),
    "when_short": lambda g, r: r.choice(["yesterday", "this morning", r.choice(WEEKDAYS)]),
    "n_people": lambda g, r: r.choice(["two", "three", "five", "all", "about ten", "several", "12", "40"]),
    "weekday": lambda g, r: r.choice(WEEKDAYS), "person_name": lambda g, r: _name(r),
    "person": lambda g, r: r.choice(sample.FIRST).capitalize(),
    "ext": lambda g, r: r.randint(1000, 9999), "kb": lambda g, r: f"KB-{r.randint(100, 4999)}",
    "asset": lambda g, r: f"AT-{r.randint(10000, 99999)}", "log": lambda g, r: g.log_line(),
    "n1": lambda g, r: r.randint(2, 9), "n2": lambda g, r: r.randint(10, 90), "n3": lambda g, r: r.randint(100, 999),
    "n5": lambda g, r: r.randint(10000, 99999), "path": lambda g, r: r.choice(PATHS),
    "it_product": lambda g, r: r.choices(IT_PRODUCTS, cum_weights=g.it_cw)[0],
    "it_product2": lambda g, r: r.choices(IT_PRODUCTS, cum_weights=g.it_cw)[0],
    "repair_product": lambda g, r: r.choices(REPAIR_PRODUCTS, cum_weights=g.rep_cw)[0],
    "year": lambda g, r: r.randint(2012, 2025), "contract": lambda g, r: f"SC-{r.randint(1000, 99999)}",
    "part": lambda g, r: f"{r.choice(['SP', 'PN', 'KIT'])}-{r.randint(1000, 99999)}",
    "nth": lambda g, r: r.choice(["second", "third", "fourth"]), "code": lambda g, r: g.code(),
    "host": lambda g, r: g.host(), "city": lambda g, r: r.choices(CITIES, cum_weights=g.city_cw)[0],
    "building": lambda g, r: r.choice(BUILDINGS), "room": lambda g, r: r.choice(ROOMS),
    "symptom": lambda g, r: r.choices(SYMPTOMS, cum_weights=g.sym_cw)[0],
    "fault": lambda g, r: r.choice("ECFDPH") + f"{r.randint(1, 99):02d}",
    "serial": lambda g, r: f"SN-{r.randint(10000, 999999)}", "subject": lambda g, r: r.choice(COMPLAINT_SUBJECTS),
    "order": lambda g, r: f"ORD-{r.randint(100000, 999999)}",
    "invoice": lambda g, r: f"INV-{r.randint(2023, 2026)}-{r.randint(10000, 99999)}",
}


class TextGen:
    """Ticket text with a realistic, skewed vocabulary (deterministic for a seed)."""

    def __init__(self, rng: random.Random, customers: int = 3000):
        self.rng = rng
        self.it_cw = _cum(_zipf_weights(len(IT_PRODUCTS)))
        self.rep_cw = _cum(_zipf_weights(len(REPAIR_PRODUCTS)))
        self.city_cw = _cum(_zipf_weights(len(CITIES), 0.8))
        self.sym_cw = _cum(_zipf_weights(len(SYMPTOMS), 0.7))
        self.known_cw = _cum(_zipf_weights(len(KNOWN_CODES), 0.9))
        self.customers = self._customers(customers)
        self.cust_cw = _cum(_zipf_weights(len(self.customers), 0.6))  # a few customers write a lot

    def _customers(self, count: int) -> list[tuple[str, str, str]]:
        rng = self.rng
        orgs = sample.ORGS + EXTRA_ORGS
        seen, out = set(), []
        while len(out) < count:
            first, last, org = rng.choice(sample.FIRST), rng.choice(LAST), rng.choice(orgs)
            domain = org.lower().replace(" ", "") + ".example"
            style = rng.random()
            local = f"{first}.{last}" if style < 0.6 else (f"{first[0]}{last}" if style < 0.85 else f"{first}{rng.randint(1, 99)}")
            email = f"{local}@{domain}"
            if email in seen:
                continue
            seen.add(email)
            out.append((email, f"{first.capitalize()} {last.capitalize()}", org))
        return out

    def customer(self) -> tuple[str, str, str]:
        return self.rng.choices(self.customers, cum_weights=self.cust_cw)[0]

    def code(self) -> str:
        r = self.rng
        if r.random() < 0.3:  # the well-known codes every helpdesk sees again and again
            return r.choices(KNOWN_CODES, cum_weights=self.known_cw)[0]
        t = r.choice(ERROR_TEMPLATES)
        return t.format(h8=f"{r.getrandbits(32):08X}", h4=f"{r.getrandbits(16):04X}", n2=f"{r.randint(1, 99):02d}",
                        n3=r.randint(100, 999), n5=r.randint(10000, 99999), n7=r.randint(4000000, 5099999),
                        http=r.choice(HTTP), smtp=r.choice(SMTP), word=r.choice(ERR_WORDS))

    def host(self) -> str:
        r = self.rng
        return f"{r.choice(['ws', 'nb', 'pc', 'mac', 'srv', 'vm'])}-{r.choice(CITIES)[:3].lower()}-{r.randint(100, 9999):04d}"

    ENTITY_KEYS = ("city", "building", "room", "it_product", "repair_product", "host", "person", "symptom",
                   "fault", "serial", "subject", "order", "invoice", "code")

    def entities(self) -> "Slots":
        """What one ticket is about: the same product, place, person and code throughout its text
        (made on first use, then shared by the title and every sentence)."""
        return Slots(self, None)

    def log_line(self) -> str:
        r = self.rng
        msg = r.choice(LOG_MESSAGES).format(user=f"{r.choice(sample.FIRST)}.{r.choice(LAST)}", host=self.host(),
                                            n5=r.randint(10000, 99999), n3=r.randint(100, 999),
                                            n2=r.randint(1, 40), path=r.choice(PATHS))
        stamp = f"2026-{r.randint(1, 3):02d}-{r.randint(1, 28):02d} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
        return f"{stamp} {r.choice(['ERROR', 'WARN', 'ERROR', 'FATAL'])} [{r.choice(LOG_SERVICES)}] {msg}"

    def _fill(self, templates: list[str], shared: "Slots | None" = None) -> str:
        """A template filled in; with `shared`, it speaks of the ticket's own product, place, person and
        code (fresh values for everything else: counts, days, log lines)."""
        slots = Slots(self, None)
        slots.shared = shared
        text = self.rng.choice(templates).format_map(slots)
        return text[0].upper() + text[1:]

    def ticket(self, i: int) -> dict:
        """One NDJSON record for `helpdesk ticket create -`."""
        r = self.rng
        base = sample.random_ticket(r)  # type, priority, type fields and the seed text from sample.py
        email, name, org = self.customer()
        own = {"it_support": (TITLE_TEMPLATES_IT, SENTENCES_IT),
               "equipment_repair": (TITLE_TEMPLATES_REPAIR, SENTENCES_REPAIR),
               "complaint": (TITLE_TEMPLATES_COMPLAINT, SENTENCES_COMPLAINT)}[base.type]
        ent = self.entities()
        # Title: the corpus title (sometimes with a place or a code), or one from the templates.
        roll = r.random()
        if roll < 0.3:
            title = base.title
        elif roll < 0.45:
            title = f"{base.title} ({self._fill(['{city}', '{building} {city}', '{code}', '{room}', '{host}'], ent)})"
        else:
            title = self._fill(own[0], ent)
        if r.random() < 0.04:
            title = r.choice(["URGENT: ", "Re: ", "Fwd: ", "[P1] ", "Again: "]) + title
        # Body: a greeting, the corpus body (40%) and/or 1-6 sentences of the type and common ones.
        parts = []
        if r.random() < 0.5:
            parts.append(r.choice(["Hello,", "Hi team,", "Dear support,", "Good morning,", "Hello IT,"]))
        if r.random() < 0.4:
            parts.append(base.body)
        used = set()
        for _ in range(r.choices([1, 2, 3, 4, 5, 6, 7, 8], weights=[1, 3, 4, 4, 3, 2, 1, 1])[0]):
            templates = own[1] if r.random() < 0.6 else SENTENCES_COMMON
            template = r.choice(templates)
            if template in used:
                continue
            used.add(template)
            parts.append(self._fill([template], ent if r.random() < 0.8 else None))
        if r.random() < 0.15:
            parts.append("Log excerpt:\n" + "\n".join(self.log_line() for _ in range(r.randint(1, 6))))
        if r.random() < 0.35:
            parts.append(r.choice(["Regards,", "Best regards,", "Thanks,", "Kind regards,"]) + f"\n{name}\n{org}")
        body = "\n".join(parts) if r.random() < 0.5 else " ".join(parts)
        tags = list(base.tags)
        for _ in range(r.choices([0, 1, 2], weights=[6, 3, 1])[0]):
            tag = r.choice(TAGS_COMMON)
            if tag not in tags:
                tags.append(tag)
        fields = dict(base.fields)
        if base.type == "it_support" and r.random() < 0.6:
            fields["asset_tag"] = f"AT-{r.randint(10000, 99999)}"
        if base.type == "equipment_repair":
            fields["serial_number"] = f"SN-{r.randint(10000, 999999)}"
            if r.random() < 0.5:
                fields["purchase_date"] = (dt.date(2015, 1, 1) + dt.timedelta(days=r.randint(0, 4000))).isoformat()
            if r.random() < 0.3:
                fields["spare_parts"] = f"{r.choice(['SP', 'PN'])}-{r.randint(1000, 99999)}"
            if not fields.get("fault_code") and r.random() < 0.5:
                fields["fault_code"] = r.choice("ECFDPH") + f"{r.randint(1, 99):02d}"
        if base.type == "complaint" and r.random() < 0.2:
            fields["compensation_offered"] = round(r.uniform(10, 500), 2)
        record = {"title": title[:480], "body": body, "type": base.type, "priority": base.priority,
                  "customer": email, "customer_name": name, "organisation": org, "fields": fields, "tags": tags,
                  "channel": r.choices(["email", "api", "cli", "import"], weights=[6, 2, 1, 1])[0]}
        if r.random() < 0.5:  # integrations and mail carry an idempotency key
            record["key"] = f"bench-{i}-{r.getrandbits(40):010x}"
        return record


def write_ndjson(path: Path, count: int, seed: int) -> dict:
    rng = random.Random(seed)
    gen = TextGen(rng)
    chars = 0
    with path.open("w", encoding="utf-8") as fh:
        for i in range(count):
            line = json.dumps(gen.ticket(i), ensure_ascii=False)
            chars += len(line)
            fh.write(line + "\n")
    return {"bytes": path.stat().st_size, "avg_record_chars": round(chars / max(count, 1))}


# ====================================================================== environment and helpers


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def helpdesk_cmd() -> list[str]:
    exe = Path(sys.executable).parent / "helpdesk"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("helpdesk")
    return [found] if found else [sys.executable, "-m", "helpdesk.cli.entry"]


class Bench:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.backend = args.backend
        self.n = args.tickets
        self.home = Path(args.reuse) if args.reuse else Path(tempfile.mkdtemp(prefix="helpdesk-bench-"))
        self.schema = None
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("HELPDESK_") and k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
        self.env.update({"HELPDESK_HOME": str(self.home), "HELPDESK_AGENT": "bench", "NO_COLOR": "1",
                         # Bytecode is cached as on any installed system (PYTHONDONTWRITEBYTECODE would make every
                         # start compile helpdesk/ from source); the cache lives in the temp home, not the tree.
                         "PYTHONPYCACHEPREFIX": str(self.home / "pycache")})
        if self.backend == "postgres":
            self.schema = args.reuse_schema or "bench_" + uuid.uuid4().hex[:10]
            base = args.pg_url
            self.pg_base = base
            self.env["HELPDESK_DATABASE_URL"] = base + ("&" if "?" in base else "?") + f"schema={self.schema}"
        self.db_path = self.home / "helpdesk.db"
        self.results: dict = {"backend": self.backend, "tickets": self.n, "seed": args.seed,
                              "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version,
                              "machine": f"{platform.machine()} {os.cpu_count()} cpu", "started": time.strftime("%Y-%m-%d %H:%M:%S")}
        self.cmd = helpdesk_cmd()
        self.results["code"] = code_state()
        self.results["load_before"] = [round(x, 2) for x in os.getloadavg()]

    # ---------------------------------------------------------------- raw database access (bench only)

    def raw(self):
        if self.backend == "sqlite":
            conn = sqlite3.connect(str(self.db_path), timeout=30, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 30000")
            return conn
        import psycopg2

        from helpdesk.store.db import parse_url

        params = dict(parse_url(self.pg_base).params)
        conn = psycopg2.connect(dbname=params.pop("database"), options=f"-c search_path={self.schema}", **params)
        conn.autocommit = True
        return conn

    def drop_schema(self) -> None:
        if not self.schema:
            return
        import psycopg2

        from helpdesk.store.db import parse_url

        params = dict(parse_url(self.pg_base).params)
        conn = psycopg2.connect(dbname=params.pop("database"), **params)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        conn.close()

    def cli(self, *args: str, stdin=None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.cmd + list(args), stdin=stdin, capture_output=True, text=True, env=self.env)
        if check and proc.returncode != 0:
            raise RuntimeError(f"helpdesk {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
        return proc

    # ---------------------------------------------------------------- steps

    def setup(self) -> None:
        shutil.copy(ROOT / "config" / "helpdesk.toml", self.home / "config.toml")
        t0 = time.perf_counter()
        self.cli("init")
        log(f"desk in {self.home} ({self.backend}{', schema ' + self.schema if self.schema else ''}), "
            f"init {time.perf_counter() - t0:.2f}s")

    def generate(self) -> Path:
        path = self.home / "tickets.ndjson"
        t0 = time.perf_counter()
        info = write_ndjson(path, self.n, self.args.seed)
        info["seconds"] = round(time.perf_counter() - t0, 1)
        self.results["ndjson"] = info
        log(f"generated {self.n:,} tickets as NDJSON ({info['bytes'] / 1e6:.0f} MB, "
            f"{info['avg_record_chars']} chars/record) in {info['seconds']}s")
        return path

    def bulk_create(self, path: Path) -> None:
        log(f"piping {self.n:,} tickets through `helpdesk ticket create -` ...")
        with path.open("rb") as fh:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = self.cli("ticket", "create", "-", stdin=fh)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        conn = self.raw()
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM ticket")
        stored = cur.fetchone()[0]
        conn.close()
        if stored != self.n:
            raise RuntimeError(f"expected {self.n} tickets, the desk holds {stored}: {proc.stdout} {proc.stderr}")
        self.results["create"] = {"seconds": round(wall, 2), "per_second": round(self.n / wall, 1),
                                  "cpu_seconds": round(cpu, 2), "max_rss_mb": round(after.ru_maxrss / 1024),
                                  "output": proc.stdout.strip()}
        log(f"created {self.n:,} tickets in {wall:.1f}s: {self.n / wall:,.0f} tickets/s "
            f"(CLI process CPU {cpu:.1f}s; the database server's time is not in it)")

    def build(self) -> None:
        """The desk: init, N tickets through the CLI, agents, a realistic spread of states (no ANALYZE
        after the state changes: `analyze()` does that). bench/tui_bench.py builds its desks this way."""
        self.setup()
        if self.n:
            path = self.generate()
            self.bulk_create(path)
            path.unlink()
        self.add_agents()
        if self.n:
            self.move_states()

    def add_agents(self) -> None:
        t0 = time.perf_counter()
        for login, name, skills, queues in AGENTS:
            args = ["agent", "add", login, "--name", name, "--email", f"{login}@acme.example", "--capacity", "500"]
            for s in skills:
                args += ["--skill", s]
            for q in queues:
                args += ["--queue", q]
            self.cli(*args)
        log(f"added {len(AGENTS)} agents via `helpdesk agent add` in {time.perf_counter() - t0:.1f}s")

    def move_states(self) -> None:
        """Spread creation times over two years and move tickets through the lifecycle (direct SQL)."""
        t0 = time.perf_counter()
        rng = random.Random(self.args.seed + 1)
        conn = self.raw()
        cur = conn.cursor()
        cur.execute("SELECT id, login FROM agent")
        agent_ids = {login: i for i, login in cur.fetchall()}
        cur.execute("SELECT number, type FROM ticket ORDER BY number")
        rows = cur.fetchall()
        n = len(rows)
        now = dt.datetime.utcnow().replace(microsecond=0)
        start = now - dt.timedelta(days=730)
        span = (now - start).total_seconds()
        share = self.args.closed_share
        out = []
        counts: dict[str, int] = {}
        for idx, (number, type_) in enumerate(rows):
            rank = idx / max(n - 1, 1)  # 0 oldest .. 1 newest
            created = start + dt.timedelta(seconds=span * rank + rng.uniform(-600, 600))
            created = min(created, now)
            p_done = min(0.97, share * (0.3 + 1.4 * (1 - rank)))
            login = rng.choice(AGENTS_BY_TYPE.get(type_, ["bob"]))
            first_resp = resolved = closed = None
            if rng.random() < p_done:
                status = "closed" if rng.random() < 0.6 else "resolved"
                first_resp = created + dt.timedelta(minutes=rng.randint(5, 600))
                resolved = first_resp + dt.timedelta(hours=rng.randint(1, 240))
                closed = resolved + dt.timedelta(days=rng.randint(1, 7)) if status == "closed" else None
                updated = closed or resolved
            else:
                status = rng.choices(["new", "assigned", "in_progress", "pending"], weights=[45, 20, 22, 13])[0]
                if status != "new":
                    first_resp = created + dt.timedelta(minutes=rng.randint(5, 600))
                updated = first_resp or created
            updated = min(updated, now)
            assignee = agent_ids[login] if status != "new" else None
            counts[status] = counts.get(status, 0) + 1
            out.append((number, status, assignee, created, updated, first_resp, resolved, closed,
                        1 if status == "new" else rng.randint(2, 6)))
        if self.backend == "sqlite":
            def f(v):
                return None if v is None else (v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v)

            cur.execute("CREATE TEMP TABLE bench_state (number INTEGER PRIMARY KEY, status TEXT, assignee_id INT, "
                        "created_at TEXT, updated_at TEXT, first_response_at TEXT, resolved_at TEXT, closed_at TEXT, "
                        "version INT)")
            cur.execute("BEGIN IMMEDIATE")
            cur.executemany("INSERT INTO bench_state VALUES (?,?,?,?,?,?,?,?,?)", ([f(v) for v in row] for row in out))
            cur.execute("UPDATE ticket SET status = s.status, assignee_id = s.assignee_id, created_at = s.created_at, "
                        "updated_at = s.updated_at, first_response_at = s.first_response_at, "
                        "resolved_at = s.resolved_at, closed_at = s.closed_at, version = s.version "
                        "FROM bench_state AS s WHERE ticket.number = s.number")
            cur.execute("COMMIT")
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            cur.execute("CREATE TEMP TABLE bench_state (number INTEGER PRIMARY KEY, status TEXT, assignee_id INT, "
                        "created_at TIMESTAMP, updated_at TIMESTAMP, first_response_at TIMESTAMP, "
                        "resolved_at TIMESTAMP, closed_at TIMESTAMP, version INT)")
            buf = io.StringIO()
            for row in out:
                buf.write("\t".join("\\N" if v is None else (v.isoformat(sep=" ") if isinstance(v, dt.datetime) else str(v))
                                    for v in row) + "\n")
            buf.seek(0)
            cur.copy_from(buf, "bench_state")
            cur.execute("UPDATE ticket t SET status = s.status, assignee_id = s.assignee_id, created_at = s.created_at, "
                        "updated_at = s.updated_at, first_response_at = s.first_response_at, "
                        "resolved_at = s.resolved_at, closed_at = s.closed_at, version = s.version "
                        "FROM bench_state s WHERE t.number = s.number")
        conn.close()
        done = counts.get("resolved", 0) + counts.get("closed", 0)
        self.results["states"] = {k: counts.get(k, 0) for k in ("new", "assigned", "in_progress", "pending", "resolved", "closed")}
        log(f"moved states by SQL in {time.perf_counter() - t0:.1f}s: {self.results['states']} "
            f"({done / n:.0%} resolved/closed)")

    def drop_statistics(self) -> None:
        """A reused desk as one whose planner has no statistics yet (PostgreSQL: the column statistics of
        the desk's tables deleted; SQLite: sqlite_stat1 emptied)."""
        conn = self.raw()
        cur = conn.cursor()
        if self.backend == "sqlite":
            cur.execute("DELETE FROM sqlite_stat1")
        else:
            cur.execute("DELETE FROM pg_statistic WHERE starelid IN (SELECT c.oid FROM pg_class c JOIN pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE n.nspname = %s)", (self.schema,))
        conn.close()
        log("statistics dropped (a reused desk, measured as one never analysed)")

    def count_tickets(self) -> int:
        conn = self.raw()
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM ticket")
        n = cur.fetchone()[0]
        conn.close()
        return n

    def analyze(self) -> None:
        t0 = time.perf_counter()
        conn = self.raw()
        if self.backend == "sqlite":
            conn.execute("ANALYZE")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            conn.cursor().execute("VACUUM ANALYZE")  # what autovacuum would reach after a bulk load
        conn.close()
        log(f"ANALYZE in {time.perf_counter() - t0:.1f}s")

    # ---------------------------------------------------------------- queries

    def open_desk(self):
        for key in [k for k in os.environ if k.startswith("HELPDESK_")]:
            del os.environ[key]
        os.environ.update({k: v for k, v in self.env.items() if k.startswith("HELPDESK_") or k == "NO_COLOR"})
        from helpdesk.domain.desk import open_desk

        return open_desk()

    def time_query(self, desk, query: str, runs: int) -> dict:
        from helpdesk.domain.tickets import list_tickets

        for _ in range(3):  # warm the cache and the statement cache
            found = list_tickets(desk, query, limit=50)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            found = list_tickets(desk, query, limit=50)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        return {"query": query, "runs": runs, "rows": len(found), "p50_ms": round(percentile(times, 50), 2),
                "p95_ms": round(percentile(times, 95), 2), "min_ms": round(times[0], 2), "max_ms": round(times[-1], 2)}

    def matches(self, desk, query: str) -> int:
        from helpdesk.domain import query as query_mod
        from helpdesk.store.models import Ticket

        return query_mod.find(desk, query_mod.parse(query))[0].count()

    def all_queries(self) -> list[tuple[str, str]]:
        return [("queue query", QUEUE_QUERY), ("full-text search", SEARCH_QUERY)] + list(EXTRA_QUERIES)

    def measure_queries(self, label: str, runs: int) -> dict:
        desk = self.open_desk()
        try:
            out = {}
            for name, q in self.all_queries():
                res = self.time_query(desk, q, runs)
                if label == "analyzed":
                    res["matches"] = self.matches(desk, q)
                out[name] = res
                log(f"  [{label}] {name:22} {q!r:40} p50 {res['p50_ms']:8.2f} ms  p95 {res['p95_ms']:8.2f} ms"
                    + (f"  ({res['matches']:,} matching)" if "matches" in res else ""))
        finally:
            desk.close()
        return out

    def explain(self) -> dict:
        """The SQL list_tickets runs for each query and its plan."""
        from helpdesk.domain import query as query_mod
        from helpdesk.store.models import Ticket

        desk = self.open_desk()
        plans = {}
        try:
            for name, q in self.all_queries():
                select, order = query_mod.find(desk, query_mod.parse(q))
                select = select.order_by(order.desc()).limit(50)
                sql, params = select.sql()
                if self.backend == "sqlite":
                    rows = desk.db.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
                    plan = [f"{'  ' * depth(rows, r)}{r[3]}" for r in rows]
                else:
                    rows = desk.db.execute_sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params).fetchall()
                    plan = [r[0] for r in rows]
                plans[name] = {"query": q, "sql": sql, "params": [str(p) for p in params], "plan": plan}
        finally:
            desk.close()
        return plans

    def cli_once(self) -> dict:
        out = {}
        for name, q in [("queue query", QUEUE_QUERY), ("full-text search", SEARCH_QUERY)]:
            t0 = time.perf_counter()
            proc = self.cli("ticket", "list", "--json", "--limit", "50", q)
            wall = (time.perf_counter() - t0) * 1000
            out[name] = {"query": q, "wall_ms": round(wall, 1), "rows": len(json.loads(proc.stdout))}
            log(f"  CLI {name:18} {wall:7.1f} ms wall ({out[name]['rows']} rows)")
        return out

    def cold_start(self, runs: int) -> dict:
        bare, cli = [], []
        for _ in range(2):  # warm the OS cache
            subprocess.run([sys.executable, "-c", "pass"], env=self.env, check=True)
            self.cli("ticket", "list", "--json", "--limit", "50")
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], env=self.env, check=True)
            bare.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            self.cli("ticket", "list", "--json", "--limit", "50")
            cli.append((time.perf_counter() - t0) * 1000)
        b, c = statistics.median(bare), statistics.median(cli)
        res = {"runs": runs, "bare_python_ms": round(b, 1), "cli_list_ms": round(c, 1), "ratio": round(c / b, 2),
               "cli_min_ms": round(min(cli), 1), "bare_min_ms": round(min(bare), 1)}
        log(f"cold start: helpdesk ticket list {c:.0f} ms vs python -c pass {b:.0f} ms: {c / b:.1f}x")
        return res

    def import_profile(self, runs: int = 5) -> dict:
        """Where the cold start's imports go (`python -X importtime`, best of `runs` per module)."""
        best: dict[str, list[int]] = {}
        order: list[str] = []
        for _ in range(runs):
            proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "helpdesk.cli.entry", "ticket", "list",
                                   "--json", "--limit", "50"], capture_output=True, text=True, env=self.env)
            for line in proc.stderr.splitlines():
                m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
                if not m:
                    continue
                name = m.group(4)
                if name not in best:
                    best[name] = [int(m.group(1)), int(m.group(2))]
                    order.append(name)
                else:
                    best[name] = [min(best[name][0], int(m.group(1))), min(best[name][1], int(m.group(2)))]
        total = sum(v[0] for v in best.values())
        out = {"total_ms": round(total / 1000, 1),
               "helpdesk_own_ms": round(sum(v[0] for k, v in best.items() if k.startswith("helpdesk")) / 1000, 1)}
        for name in ("typer", "rich", "peewee", "psycopg2", "platformdirs", "tomllib"):
            if name in best:
                out[f"{name}_ms"] = round(best[name][1] / 1000, 1)
        heavy = sorted(((v[0], k) for k, v in best.items() if k.startswith("helpdesk")), reverse=True)[:6]
        out["helpdesk_modules_self_ms"] = {k: round(v / 1000, 1) for v, k in heavy}
        log("imports: " + ", ".join(f"{k} {v}" for k, v in out.items() if k != "helpdesk_modules_self_ms"))
        return out

    def db_size(self) -> dict:
        conn = self.raw()
        tables: dict[str, int] = {}
        if self.backend == "sqlite":
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            total = sum(p.stat().st_size for p in self.home.glob("helpdesk.db*"))
            try:
                for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"):
                    tables[name] = size
            except sqlite3.OperationalError:
                pass  # no dbstat in this SQLite build
        else:
            cur = conn.cursor()
            cur.execute("SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n "
                        "ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY 2 DESC",
                        (self.schema,))
            tables = dict(cur.fetchall())
            total = sum(tables.values())
        conn.close()
        return {"bytes": total, "bytes_per_ticket": round(total / self.n), "largest": dict(list(tables.items())[:12])}

    # ---------------------------------------------------------------- the run

    def run(self) -> dict:
        args = self.args
        try:
            if args.reuse:
                self.n = self.results["tickets"] = self.count_tickets()
                self.results["reused"] = True
                self.open_desk().close()  # pending migrations applied before anything is timed
                self.drop_statistics()
                log(f"reusing the desk in {self.home} ({self.n:,} tickets)")
            else:
                self.build()
            log("queries before ANALYZE (no statistics: what a desk that never ran ANALYZE sees):")
            self.results["queries_no_stats"] = self.measure_queries("no stats", max(5, args.runs // 5))
            self.analyze()
            log(f"queries after ANALYZE ({args.runs} runs each, in-process list_tickets, limit 50):")
            self.results["queries"] = self.measure_queries("analyzed", args.runs)
            self.results["cli_queries"] = self.cli_once()
            self.results["cold_start"] = self.cold_start(args.cold_runs)
            self.results["imports"] = self.import_profile()
            self.results["db_size"] = self.db_size()
            if not args.no_explain:
                self.results["plans"] = self.explain()
            self.results["load_after"] = [round(x, 2) for x in os.getloadavg()]
            return self.results
        finally:
            if args.keep or args.reuse:
                log(f"kept: HELPDESK_HOME={self.home}" + (f" HELPDESK_DATABASE_URL={self.env['HELPDESK_DATABASE_URL']}"
                                                           if self.schema else ""))
            else:
                try:
                    from helpdesk.store.db import database

                    if database.obj is not None and not database.obj.is_closed():
                        database.obj.close()
                except Exception:
                    pass
                if self.schema:
                    self.drop_schema()
                shutil.rmtree(self.home, ignore_errors=True)


def code_state() -> dict:
    """Which code was measured: the commit and whether helpdesk/ had uncommitted changes (read-only git)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:
            return ""

    diff = git("diff", "HEAD", "--", "helpdesk", "pyproject.toml")
    import hashlib

    return {"commit": git("rev-parse", "--short", "HEAD"), "helpdesk_dirty": bool(diff),
            "diff_sha1": hashlib.sha1(diff.encode()).hexdigest()[:10] if diff else None}


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return math.nan
    k = (len(sorted_values) - 1) * pct / 100
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def depth(rows, row) -> int:
    parents = {r[0]: r[1] for r in rows}
    d, p = 0, row[1]
    while p in parents:
        d, p = d + 1, parents[p]
    return d


# ====================================================================== report


def human_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def report(res: dict) -> str:
    at_target = res["backend"] == "sqlite" and res["tickets"] >= 1_000_000
    lines = []
    title = f"helpdesk benchmark: {res['tickets']:,} tickets on {res['backend']}"
    lines += [title, "=" * len(title),
              f"python {res['python']}, sqlite {res['sqlite']}, {res['machine']}, started {res['started']}",
              f"code: commit {res['code']['commit']}" + (f" + uncommitted helpdesk/ changes (diff {res['code']['diff_sha1']})"
                                                         if res['code']['helpdesk_dirty'] else "")
              + f"; load average before/after {res['load_before'][0]} / {res.get('load_after', ['?'])[0]}"]
    if not at_target:
        lines.append("(the targets are set for 1,000,000 tickets on SQLite; shown here for orientation)")
    lines.append("")
    rows = []

    def verdict(ok: bool) -> str:
        return "ok" if ok else "MISSED"

    c = res.get("create")
    if c:  # (a reused desk was not built in this run)
        rows.append(("bulk create (CLI, NDJSON stdin)", f"{c['per_second']:,.0f} tickets/s",
                     f">= {TARGET_CREATE_PER_S:,.0f}/s", verdict(c["per_second"] >= TARGET_CREATE_PER_S)))
        rows.append(("  total wall time / CLI CPU time", f"{c['seconds']:,.1f} s / {c['cpu_seconds']:,.1f} s", "", ""))
    else:
        rows.append(("desk reused (--reuse), statistics dropped first", "", "", ""))
    q = res["queries"]
    for name, target in (("queue query", TARGET_QUERY_P50_MS), ("full-text search", TARGET_SEARCH_P50_MS)):
        r = q[name]
        rows.append((f"{name} p50  [{r['query']}]", f"{r['p50_ms']:.1f} ms", f"<= {target:.0f} ms", verdict(r["p50_ms"] <= target)))
        rows.append((f"{name} p95", f"{r['p95_ms']:.1f} ms", "", ""))
        nost = res.get("queries_no_stats", {}).get(name)
        if nost:
            rows.append((f"{name} p50 before ANALYZE", f"{nost['p50_ms']:.1f} ms", f"<= {target:.0f} ms",
                         verdict(nost["p50_ms"] <= target)))
        cl = res.get("cli_queries", {}).get(name)
        if cl:
            rows.append((f"{name} via CLI (one run, wall)", f"{cl['wall_ms']:.0f} ms", "", ""))
    for name, qtext in EXTRA_QUERIES:
        r = q[name]
        nost = res.get("queries_no_stats", {}).get(name)
        extra = f" (no stats {nost['p50_ms']:.1f})" if nost else ""
        rows.append((f"{name} p50/p95  [{qtext}]", f"{r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms{extra}", "", ""))
    cs = res["cold_start"]
    rows.append(("cold start `ticket list --json --limit 50`", f"{cs['cli_list_ms']:.0f} ms", "", ""))
    rows.append(("cold start `python -c pass`", f"{cs['bare_python_ms']:.0f} ms", "", ""))
    rows.append(("cold start ratio (median of %d)" % cs["runs"], f"{cs['ratio']:.1f}x", f"<= {TARGET_COLD_RATIO:.0f}x",
                 verdict(cs["ratio"] <= TARGET_COLD_RATIO)))
    imp = res.get("imports")
    if imp:
        rows.append(("  imports (-X importtime, sum)", f"{imp['total_ms']:.0f} ms", "", ""))
        parts = [f"{k[:-3]} {imp[k]:.0f}" for k in ("typer_ms", "peewee_ms", "psycopg2_ms", "rich_ms") if k in imp]
        rows.append(("  of which (cumulative ms)", ", ".join(parts) + f", helpdesk/ own code {imp['helpdesk_own_ms']:.0f}", "", ""))
    size = res["db_size"]
    rows.append(("database size", f"{human_bytes(size['bytes'])} ({size['bytes_per_ticket']:,} B/ticket)", "", ""))
    w = [max(len(r[i]) for r in rows) for i in range(4)]
    head = ("measure", "measured", "target", "")
    w = [max(w[i], len(head[i])) for i in range(4)]
    lines.append("  ".join(h.ljust(w[i]) for i, h in enumerate(head)).rstrip())
    lines.append("  ".join("-" * w[i] for i in range(4)))
    for r in rows:
        lines.append("  ".join(r[i].ljust(w[i]) for i in range(4)).rstrip())
    lines.append("")
    st = res.get("states", {})
    lines.append("states: " + ", ".join(f"{k} {v:,}" for k, v in st.items()))
    lines.append("matching tickets: " + ", ".join(f"{n} {r.get('matches', '?'):,}" for n, r in q.items()))
    if imp and imp.get("helpdesk_modules_self_ms"):
        lines.append("helpdesk modules by own import time: " + ", ".join(f"{k} {v} ms" for k, v in imp["helpdesk_modules_self_ms"].items()))
    if size.get("largest"):
        lines.append("largest tables/indexes: " + ", ".join(f"{k} {human_bytes(v)}" for k, v in size["largest"].items()))
    for name, p in (res.get("plans") or {}).items():
        lines.append("")
        lines.append(f"plan: {name} [{p['query']}]")
        sql = re.sub(r'^SELECT .*? FROM "ticket"', 'SELECT "t1".<all columns> FROM "ticket"', p["sql"])
        lines.append(f"  SQL: {sql}  -- {p['params']}")
        lines += ["    " + line for line in p["plan"]]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=100_000, help="tickets to create (default 100000)")
    ap.add_argument("--million", action="store_true", help="1,000,000 tickets (the size the targets are set for)")
    ap.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("HELPDESK_TEST_PG_URL", DEFAULT_PG_URL),
                    help=f"PostgreSQL server/database (a schema bench_xxx is made and dropped; default {DEFAULT_PG_URL})")
    ap.add_argument("--runs", type=int, default=50, help="timed runs per query (default 50)")
    ap.add_argument("--cold-runs", type=int, default=15, help="runs of each cold-start command (default 15)")
    ap.add_argument("--closed-share", type=float, default=0.3, help="share of tickets resolved/closed (default 0.3)")
    ap.add_argument("--seed", type=int, default=20260302)
    ap.add_argument("--keep", action="store_true", help="keep the desk (temp home / schema) for experiments")
    ap.add_argument("--reuse", metavar="HOME", help="measure a desk kept by --keep (its HELPDESK_HOME) instead of "
                    "building one; its statistics are dropped first, then the run is as usual; kept afterwards")
    ap.add_argument("--reuse-schema", metavar="SCHEMA", help="with --reuse on PostgreSQL: the kept desk's schema")
    ap.add_argument("--no-explain", action="store_true", help="do not print the query plans")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out", help="where the JSON results go")
    args = ap.parse_args(argv)
    if args.million:
        args.tickets = 1_000_000
    if args.tickets < 100:
        ap.error("--tickets must be at least 100")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(args)
    res = bench.run()
    text = report(res)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"{time.strftime('%Y%m%d-%H%M%S')}-{args.backend}-{res['tickets']}"
    (args.out / f"{stem}.json").write_text(json.dumps(res, indent=2, default=str))
    (args.out / f"{stem}.txt").write_text(text + "\n")
    log(f"results: {args.out / stem}.json / .txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
