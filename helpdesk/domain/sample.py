"""Sample data for `helpdesk init --sample`: agents, customers and tickets of every shipped type,
some of them moved through the lifecycle, so a new user has a desk to explore at once.

The text generator is shared with the benchmark, which builds desks of a million realistic tickets.
"""

from __future__ import annotations

import random

from helpdesk.domain import agents, lifecycle, tickets
from helpdesk.domain.tickets import TicketInput

AGENTS = [
    # login, name, skills, queues, capacity
    ("alice", "Alice Martin", ["it", "network"], ["it"], 25),
    ("bob", "Bob Keller", ["it", "repair"], ["it", "repairs"], 20),
    ("carol", "Carol Nguyen", ["care"], ["care"], 15),
    ("dave", "Dave Okafor", ["repair"], ["repairs"], 20),
]

ORGS = ["Northwind", "Contoso", "Globex", "Initech", "Umbrella Health", "Stark Logistics"]
FIRST = ["anna", "ben", "chen", "dora", "emil", "fatima", "gus", "hana", "ivan", "jo", "kim", "lena", "mo",
         "nina", "omar", "paula", "quinn", "rosa", "sami", "tara"]

IT_ISSUES = [
    ("VPN drops every few minutes", "Since this morning the VPN client disconnects every five minutes when I work "
     "from home. Reconnecting works but the session to the file server is lost each time.", "network"),
    ("Password reset for the ERP account", "I locked myself out of the ERP system after the password change "
     "and need a reset before the month-end closing.", "account"),
    ("Outlook keeps asking for credentials", "Outlook prompts for my password every time it starts, even "
     "after I tick remember me. Webmail works fine.", "software"),
    ("New starter needs laptop and accounts", "Please prepare a laptop, an email account and VPN access for "
     "our new colleague starting on Monday in accounting.", "access"),
    ("Printer on floor 3 shows paper jam", "The shared printer on the third floor reports a paper jam in tray "
     "2 but there is no paper stuck anywhere.", "hardware"),
    ("Cannot install the statistics package", "The software centre fails with error 0x80070643 when I try to "
     "install the statistics package for the quarterly report.", "software"),
    ("Wifi in meeting room B is very slow", "Video calls in meeting room B freeze constantly; the wifi speed "
     "test shows less than 1 Mbit/s there.", "network"),
    ("Shared drive permissions for project folder", "Our team cannot open the new project folder on the "
     "shared drive; we get access denied.", "access"),
]
REPAIR_ISSUES = [
    ("Pump P-200 leaking at the seal", "The P-200 pump at our site leaks water at the main seal after about "
     "an hour of operation. Fault code E17 shows on the display.", "E17"),
    ("Compressor will not start", "The compressor unit does not start; the control panel shows fault "
     "code C04 and the fan runs briefly then stops.", "C04"),
    ("Scanner feed roller worn out", "The document scanner pulls several sheets at once; the feed roller "
     "looks worn. It is under warranty according to our contract.", "F12"),
    ("Display flickers on the control unit", "The touch display of the control unit flickers and sometimes "
     "stays black after power on.", "D02"),
    ("Unusual noise from the generator", "The backup generator makes a grinding noise during the weekly test "
     "run; no fault code is shown.", ""),
]
COMPLAINTS = [
    ("Order delivered damaged", "The order arrived with a broken casing and the packaging was torn. I expect "
     "a replacement as soon as possible.", "high"),
    ("Invoice charged twice", "My credit card was charged twice for the same invoice last week. Please refund "
     "the duplicate payment.", "medium"),
    ("Technician missed the appointment", "The technician did not show up for the agreed appointment and "
     "nobody called to cancel. This is the second time.", "high"),
    ("Hotline waiting time too long", "I waited more than forty minutes on the hotline before giving up. "
     "This is not acceptable for a premium contract.", "low"),
]
REPLIES = [
    "Thanks for reporting this. I am looking into it now and will update you shortly.",
    "Could you send a screenshot of the error message and tell us when it started?",
    "We have ordered the spare part; it should arrive within two working days.",
    "I have reset the account; please try again and let us know if it works.",
    "The issue was caused by an expired certificate, which we have renewed.",
]
NOTES = [
    "Checked the logs: the same error appears for two other users.",
    "Waiting for the vendor to confirm the warranty status.",
    "Customer is a key account, keep the manager informed.",
]


def customer_for(rng: random.Random) -> tuple[str, str, str]:
    first = rng.choice(FIRST)
    org = rng.choice(ORGS)
    domain = org.lower().replace(" ", "") + ".example"
    return f"{first}@{domain}", first.capitalize(), org


def random_ticket(rng: random.Random, *, key: str | None = None, channel: str = "sample") -> TicketInput:
    """One realistic ticket of a random shipped type (used by the sample desk and the benchmark)."""
    email, name, org = customer_for(rng)
    roll = rng.random()
    priority = rng.choices(["P0", "P1", "P2", "P3"], weights=[1, 4, 10, 5])[0]
    if roll < 0.5:
        title, body, category = rng.choice(IT_ISSUES)
        return TicketInput(title=title, body=body, type="it_support", priority=priority, customer=email,
                           customer_name=name, organisation=org, key=key, channel=channel,
                           fields={"category": category, "affected_users": rng.randint(1, 40)},
                           tags=rng.sample(["vpn", "email", "printer", "onboarding", "wifi", "erp"], k=rng.randint(0, 2)))
    if roll < 0.8:
        title, body, code = rng.choice(REPAIR_ISSUES)
        return TicketInput(title=title, body=body, type="equipment_repair", priority=priority, customer=email,
                           customer_name=name, organisation=org, key=key, channel=channel,
                           fields={"serial_number": f"SN-{rng.randint(10000, 99999)}", "fault_code": code or None,
                                   "under_warranty": rng.random() < 0.4},
                           tags=rng.sample(["onsite", "warranty", "spare-part"], k=rng.randint(0, 1)))
    title, body, severity = rng.choice(COMPLAINTS)
    return TicketInput(title=title, body=body, type="complaint", priority=priority, customer=email,
                       customer_name=name, organisation=org, key=key, channel=channel,
                       fields={"order_number": f"ORD-{rng.randint(100000, 999999)}", "severity": severity},
                       tags=rng.sample(["billing", "delivery", "vip"], k=rng.randint(0, 1)))


def load(desk, *, tickets_count: int = 40, seed: int = 7) -> dict:
    """Fill the desk with sample agents, customers and tickets; safe to run twice (keys dedupe)."""
    rng = random.Random(seed)
    known = {a.login for a in agents.list_agents(desk)}
    for login, name, skills, queues, capacity in AGENTS:
        if login not in known:
            agents.add(desk, login, name=name, email=f"{login}@acme.example", skills=skills,
                       queues=[q for q in queues if desk.config.queue(q)], capacity=capacity)
    inputs = [random_ticket(rng, key=f"sample-{i}") for i in range(tickets_count)]
    inputs = [i for i in inputs if desk.config.type(i.type)]  # the config may have dropped a type
    results = tickets.intake_many(desk, inputs)
    created = [r.number for r in results if r.created]
    for number in created:
        plan = rng.random()
        if plan < 0.25:
            continue  # stays new
        t = tickets.get(desk, number)
        login = {"it_support": "alice", "equipment_repair": "dave", "complaint": "carol"}.get(t.type, "bob")
        as_agent = desk.acting_as(login)
        lifecycle.assign(as_agent, number, login, force=True)
        if plan < 0.4:
            continue
        lifecycle.change_status(as_agent, number, "in_progress")
        tickets.reply(as_agent, number, rng.choice(REPLIES))
        if rng.random() < 0.3:
            tickets.reply(as_agent, number, rng.choice(NOTES), note=True)
        if plan < 0.6:
            continue
        if plan < 0.7:
            lifecycle.change_status(as_agent, number, "pending", reason="waiting for the customer")
            continue
        lifecycle.change_status(as_agent, number, "resolved")
        if plan > 0.85:
            lifecycle.change_status(as_agent, number, "closed")
    return {"agents": len(AGENTS), "tickets": len(created)}
