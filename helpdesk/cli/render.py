"""Human output of the CLI (rich). Only loaded for text output: JSON/CSV paths never import rich."""

from __future__ import annotations

from helpdesk.cli.common import console
from helpdesk.views import EventView, TicketView, iso

PRIORITY_STYLE = {"P0": "bold red", "P1": "red", "P2": "yellow", "P3": "dim"}
STATUS_STYLE = {"new": "bold cyan", "assigned": "cyan", "in_progress": "green", "pending": "magenta",
                "resolved": "dim green", "closed": "dim"}


def _when(value) -> str:
    """A datetime or an ISO string (from a view's dict), to the minute."""
    text = value if isinstance(value, str) else iso(value)
    return text.replace("T", " ").rstrip("Z")[:16] if text else ""


def _minutes(value: float) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    if value >= 60 * 24:
        return f"{sign}{value / 60 / 24:.1f}d"
    if value >= 60:
        return f"{sign}{value / 60:.1f}h"
    return f"{sign}{value:.0f}m"


def ticket_table(rows: list[TicketView]) -> None:
    from rich.table import Table

    out = console()
    if not rows:
        out.print("no tickets match")
        return
    table = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    table.add_column("#", justify="right", no_wrap=True, min_width=2)
    table.add_column("pri", no_wrap=True, min_width=3)
    table.add_column("status", no_wrap=True, min_width=11)
    table.add_column("title", no_wrap=True, overflow="ellipsis", ratio=3, min_width=20)
    table.add_column("type", no_wrap=True, overflow="ellipsis", ratio=1, min_width=8)
    table.add_column("assignee", no_wrap=True, overflow="ellipsis", min_width=8)
    table.add_column("updated", no_wrap=True, min_width=11)
    for t in rows:
        table.add_row(str(t.number), f"[{PRIORITY_STYLE.get(t.priority, '')}]{t.priority}[/]",
                      f"[{STATUS_STYLE.get(t.status, '')}]{t.status}[/]", t.title, t.type or "",
                      t.assignee or "-", _when(t.updated_at)[5:])
    out.print(table)


def ticket(t: TicketView, full: bool = False) -> None:
    from rich.markup import escape

    out = console()
    out.print(f"[bold]#{t.number}[/] {escape(t.title)}")
    out.print(f"  status [{STATUS_STYLE.get(t.status, '')}]{t.status}[/]   priority "
              f"[{PRIORITY_STYLE.get(t.priority, '')}]{t.priority}[/]   type {t.type or '-'}   queue {t.queue or '-'}")
    out.print(f"  assignee {t.assignee or '-'}   customer {t.customer or '-'}"
              f"{' (' + escape(t.organisation) + ')' if t.organisation else ''}   channel {t.channel}")
    out.print(f"  created {_when(t.created_at)}   updated {_when(t.updated_at)}   version {t.version}")
    if t.tags:
        out.print(f"  tags {' '.join(t.tags)}")
    if t.merged_into:
        out.print(f"  merged into #{t.merged_into}")
    if t.parent:
        out.print(f"  follow-up of #{t.parent}")
    if t.fields:
        out.print("[bold]fields[/]")
        for k, v in t.fields.items():
            out.print(f"  {k}: {escape(str(v)) if v is not None else '-'}")
    if t.description:
        out.print("[bold]request[/]")
        out.print("  " + escape(t.description).replace("\n", "\n  "))
    if t.sla:
        out.print("[bold]SLA[/]")
        for c in t.sla:
            flag = "[red]breached[/]" if c["breached"] else ("[yellow]at risk[/]" if c["at_risk"] else "ok")
            out.print(f"  {c['kind']:15} {c['state']:8} target {_minutes(c['target_minutes'])}  used "
                      f"{_minutes(c['used_minutes'])}  remaining {_minutes(c['remaining_minutes'])}  {flag}"
                      + (f"  due {_when(c['due_at'])}" if c["due_at"] else "") + f"  ({c['policy']})")
    if t.rating:
        out.print(f"[bold]rating[/] {t.rating['score']}/5 ({t.rating['via']})"
                  + (f": {escape(t.rating['comment'])}" if t.rating["comment"] else ""))
    if t.attachments:
        out.print("[bold]attachments[/]")
        for a in t.attachments:
            out.print(f"  {a['id']}: {escape(a['filename'])} ({a['content_type']}, {a['size']} bytes)")
    if t.conversation:
        out.print("[bold]conversation[/]")
        for e in t.conversation:
            label = {"reply": "reply", "note": "[yellow]note[/]", "inbound": "[cyan]customer[/]"}.get(e.kind, e.kind)
            out.print(f"  {_when(e.created_at)} {label} {escape(e.author or '')}")
            body = e.full_body if full and e.full_body is not None else e.body
            out.print("    " + escape(body).replace("\n", "\n    "))
            if e.hidden_lines and not full:
                out.print(f"    [dim]({e.hidden_lines} quoted line{'s' if e.hidden_lines != 1 else ''} hidden: "
                          f"ticket show {t.number} --full)[/]")


def history(events: list[EventView]) -> None:
    import json

    from rich.markup import escape

    out = console()
    for e in events:
        data = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in e.data.items())
        out.print(f"{_when(e.created_at)}  {e.actor:12} [bold]{e.action}[/]  {escape(data)}")
