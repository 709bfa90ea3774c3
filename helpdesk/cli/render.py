"""Human output of the CLI (rich). Only loaded for text output: JSON/CSV paths never import rich.

Stored text (titles, bodies, names, filenames, field values) reaches the terminal only as rich `Text`
made inert by the one sanitiser: never as a markup string, so `[/]` or `[link=...]` in a mail subject is
printed as it is, and every control, escape and bidi character is shown, not obeyed. Times are shown
in the desk's time zone, SLA durations in words a person reads at a glance.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo
from dataclasses import dataclass, field

from rich.cells import cell_len
from rich.text import Text

from helpdesk.cli.common import console
from helpdesk.core.sanitise import inert, json_dumps
from helpdesk.core.views import EventView, TicketView

PRIORITY_STYLE = {"P0": "bold red", "P1": "red", "P2": "yellow", "P3": "dim"}
STATUS_STYLE = {"new": "bold cyan", "assigned": "cyan", "in_progress": "green", "pending": "magenta",
                "resolved": "dim green", "closed": "dim"}
ELLIPSIS = "…"


def plain(value, *, layout: bool = False, style: str = "") -> Text:
    """Stored text as a rich Text: inert, never parsed as markup. `layout` keeps newlines and tabs."""
    return Text(inert(value, layout=layout), style=style)


# ---------------------------------------------------------------- times and durations


@dataclass
class Local:
    """How this desk shows times and SLA targets: its time zone, and the length of a business day
    on each calendar that has business hours (a target of whole business days reads as days)."""

    zone: str = "UTC"
    business_day_minutes: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, desk, *, sla_targets: bool = False) -> "Local":
        days: dict[str, float] = {}
        if sla_targets:
            from helpdesk.services import sla  # lazy: only `ticket show` reads SLA targets

            days = sla.business_day_minutes(desk)
        return cls(zone=desk.config.timezone or "UTC", business_day_minutes=days)

    def moment(self, value) -> dt.datetime | None:
        """A stored time (naive UTC, or an ISO string from a view's dict) in the desk's zone."""
        if value is None or value == "":
            return None
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value.rstrip("Z"))
        if not isinstance(value, dt.datetime):
            return None
        try:
            zone = ZoneInfo(self.zone)
        except Exception:  # an unknown zone is the config check's to report; show UTC meanwhile
            zone = dt.timezone.utc
        return value.replace(tzinfo=dt.timezone.utc).astimezone(zone)

    def when(self, value, *, zone: bool = False, year: bool = True) -> str:
        """'2026-03-02 10:00' in the desk's zone; with `zone`, its abbreviation after it ('CET')."""
        local = self.moment(value)
        if local is None:
            return ""
        text = local.strftime("%Y-%m-%d %H:%M" if year else "%m-%d %H:%M")
        return f"{text} {local.tzname()}" if zone else text


def duration(minutes: float) -> str:
    """A length of (business) time for people: '15 min', '4 h', '2 h 5 min', '56 h' (whole minutes,
    never negative: the caller says 'overdue'; no days, which would read as calendar days)."""
    hours, mins = divmod(max(0, int(round(abs(minutes)))), 60)
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


def target(minutes: float, business_day_minutes: float | None) -> str:
    """An SLA target as configured: '1 business day (8 h)', '3 business days (24 h)', '4 h', '15 min'."""
    if business_day_minutes and minutes >= business_day_minutes and minutes % business_day_minutes == 0:
        days = int(minutes // business_day_minutes)
        return f"{days} business day{'s' if days != 1 else ''} ({duration(minutes)})"
    if minutes >= 24 * 60 and minutes % (24 * 60) == 0:
        days = int(minutes // (24 * 60))
        return f"{days} day{'s' if days != 1 else ''} ({duration(minutes)})"
    return duration(minutes)


def remaining(minutes: float) -> str:
    """Business time left on a clock: 'remaining 2 h', 'overdue 2 h 5 min', 'due now' (never '-0m')."""
    shown = int(round(minutes))
    if shown > 0:
        return f"remaining {duration(shown)}"
    if shown < 0:
        return f"overdue {duration(shown)}"
    return "due now"


# ---------------------------------------------------------------- the ticket list


@dataclass
class Column:
    header: str
    cells: list[Text]
    justify: str = "left"
    max_width: int | None = None  # longer cells are cut with an ellipsis
    keep: int = 0  # when the terminal is too narrow: lowest `keep` is dropped first; 99 never


def _fit(text: Text, width: int, justify: str) -> Text:
    """A cell cut (with an ellipsis) or padded to exactly `width` cells."""
    text = text.copy()
    if cell_len(text.plain) > width:
        kept = used = 0
        for char in text.plain:  # whole characters: a wide one that would be cut in half goes
            if used + cell_len(char) > width - 1:
                break
            used += cell_len(char)
            kept += 1
        text.truncate(kept)
        text.append(ELLIPSIS[:width])
    pad = width - cell_len(text.plain)
    if pad > 0:
        if justify == "right":
            text = Text(" " * pad) + text
        else:
            text.append(" " * pad)
    return text


TITLE_MIN = 20
GAP = "  "


def layout_columns(columns: list[Column], title: Column, width: int) -> tuple[list[Column], dict[int, int]]:
    """Which columns fit in `width`, and each one's width: the title gives way first, down to
    TITLE_MIN cells; only then are whole columns dropped, least useful first."""
    natural = {}
    for col in columns + [title]:
        widest = max([cell_len(col.header)] + [cell_len(c.plain) for c in col.cells])
        natural[id(col)] = min(widest, col.max_width) if col.max_width else widest
    shown = list(columns)

    def others() -> int:
        return sum(natural[id(c)] for c in shown if c is not title) + len(GAP) * (len(shown) - 1)

    title_min = min(natural[id(title)], TITLE_MIN)
    while others() + title_min > width:
        droppable = [c for c in shown if c.keep < 99]
        if not droppable:
            break
        shown.remove(min(droppable, key=lambda c: c.keep))
    widths = {id(c): natural[id(c)] for c in shown}
    widths[id(title)] = max(title_min, min(natural[id(title)], width - others()))
    return shown, widths


def ticket_table(rows: list[TicketView], *, local: Local | None = None, due: dict[int, dt.datetime] | None = None,
                 field_names: list[str] | None = None) -> None:
    """The list for people: what an agent scans a queue by. `due`: each ticket's nearest SLA due time;
    `field_names`: type field columns (--fields). Too narrow a terminal shortens the title first, then
    drops the least useful columns."""
    out = console()
    local = local or Local()
    if not rows:
        out.print(Text("no tickets match"))
        return
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    due = due or {}

    def due_cell(number: int) -> Text:
        when = due.get(number)
        if when is None:
            return Text("-")
        return Text(local.when(when, year=False), style="bold red" if when <= now else "")

    title = Column("title", [plain(t.title) for t in rows], keep=99)
    columns = [
        Column("#", [Text(str(t.number)) for t in rows], justify="right", keep=99),
        Column("pri", [Text(t.priority, style=PRIORITY_STYLE.get(t.priority, "")) for t in rows], keep=99),
        Column("status", [Text(t.status, style=STATUS_STYLE.get(t.status, "")) for t in rows], keep=99),
        title,
        Column("type", [plain(t.type or "-") for t in rows], max_width=18, keep=2),
        Column("queue", [plain(t.queue or "-") for t in rows], max_width=14, keep=3),
        Column("assignee", [plain(t.assignee or "-") for t in rows], max_width=16, keep=7),
        Column("customer", [plain(t.customer or "-") for t in rows], max_width=28, keep=4),
        Column("SLA due", [due_cell(t.number) for t in rows], keep=6),
    ]
    for name in field_names or []:
        columns.append(Column(name, [plain("-" if t.fields.get(name) is None else _field_text(t.fields[name]))
                                     for t in rows], max_width=20, keep=5))
    columns.append(Column("updated", [Text(local.when(t.updated_at, year=False)) for t in rows], keep=1))
    shown, widths = layout_columns(columns, title, out.width)
    header = Text(GAP).join(_fit(Text(c.header, style="bold"), widths[id(c)], c.justify) for c in shown)
    header.rstrip()
    out.print(header, no_wrap=True, overflow="crop")
    for i in range(len(rows)):
        line = Text(GAP).join(_fit(c.cells[i], widths[id(c)], c.justify) for c in shown)
        line.rstrip()
        out.print(line, no_wrap=True, overflow="crop")


def _field_text(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


# ---------------------------------------------------------------- one ticket


def ticket(t: TicketView, *, local: Local | None = None, full: bool = False) -> None:
    out = console()
    local = local or Local()

    def line(*parts) -> None:
        out.print(Text.assemble(*parts))

    def heading(name: str) -> None:
        out.print(Text(name, style="bold"))

    line((f"#{t.number}", "bold"), " ", plain(t.title))
    line("  status ", (t.status, STATUS_STYLE.get(t.status, "")), "   priority ",
         (t.priority, PRIORITY_STYLE.get(t.priority, "")), "   type ", plain(t.type or "-"),
         "   queue ", plain(t.queue or "-"))
    line("  assignee ", plain(t.assignee or "-"), "   customer ", plain(t.customer or "-"),
         *((" (", plain(t.organisation), ")") if t.organisation else ()), "   channel ", plain(t.channel))
    line(f"  created {local.when(t.created_at, zone=True)}   updated {local.when(t.updated_at, zone=True)}"
         f"   version {t.version}")
    if t.tags:
        line("  tags ", plain(" ".join(t.tags)))
    if t.merged_into:
        line(f"  merged into #{t.merged_into}")
    if t.parent:
        line(f"  follow-up of #{t.parent}")
    if t.fields:
        heading("fields")
        for k, v in t.fields.items():
            line("  ", plain(k), ": ", plain("-" if v is None else _field_text(v)))
    if t.description:
        heading("request")
        out.print(_indented(t.description, "  "))
    if t.sla:
        heading(f"SLA (times in {local.zone})")
        for c in t.sla:
            line(*sla_line(c, local))
    if t.rating:
        line(("rating", "bold"), f" {t.rating['score']}/5 (", plain(t.rating["via"]), ")",
             *((": ", plain(t.rating["comment"])) if t.rating["comment"] else ()))
    if t.attachments:
        heading("attachments")
        for a in t.attachments:
            line(f"  {a['index']}: ", plain(a["filename"]), " (", plain(a["content_type"]), f", {a['size']:,} bytes)")
    if t.conversation:
        heading("conversation")
        for e in t.conversation:
            label = {"reply": ("reply", ""), "note": ("note", "yellow"),
                     "inbound": ("customer", "cyan")}.get(e.kind, (inert(e.kind), ""))
            line(f"  {local.when(e.created_at, zone=True)} ", label, " ", plain(e.author or ""))
            body = e.full_body if full and e.full_body is not None else e.body
            out.print(_indented(body, "    "))
            if e.hidden_lines and not full:
                out.print(Text(f"    ({e.hidden_lines} quoted line{'s' if e.hidden_lines != 1 else ''} hidden: "
                               f"ticket show {t.number} --full)", style="dim"))


def _indented(text: str, prefix: str) -> Text:
    """A multi-line stored text (a body), inert, each line indented under its heading."""
    return Text(prefix + inert(text, layout=True).replace("\n", "\n" + prefix))


def sla_line(c: dict, local: Local) -> list:
    """One SLA clock as Text parts: kind, state, target, used, remaining or overdue, flag, due."""
    day = local.business_day_minutes.get(c.get("calendar") or "")
    parts: list = [f"  {c['kind']:15} {c['state']:8} target {target(c['target_minutes'], day)}",
                   f"  used {duration(c['used_minutes'])}"]
    if c["state"] != "stopped":
        parts.append(f"  {remaining(c['remaining_minutes'])}")
    if c["breached"]:
        parts += ["  ", ("breached", "red")]
    elif c["at_risk"]:
        parts += ["  ", ("at risk", "yellow")]
    elif c["state"] == "stopped":
        parts.append("  met")
    if c["due_at"] and c["state"] == "running":
        parts.append(f"  due {local.when(c['due_at'], zone=True)}")
    parts += ["  (", plain(c["policy"]), ")"]
    return parts


# ---------------------------------------------------------------- history


def history(events: list[EventView], *, local: Local | None = None) -> None:
    out = console()
    local = local or Local()
    for e in events:
        data = ", ".join(f"{k}={json_dumps(v, default=str)}" for k, v in e.data.items())
        out.print(Text.assemble(f"{local.when(e.created_at)}  ", plain(f"{e.actor:12}"), " ",
                                (inert(e.action), "bold"), "  ", plain(data)))
