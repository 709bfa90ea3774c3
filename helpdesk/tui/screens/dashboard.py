"""The dashboard: the desk's figures (open, new and resolved today, SLA compliance), tickets created and
resolved a day over the last 30 days as a chart, open tickets per agent and open breaches per queue, all
from one service call (`TicketDesk.summary`, what `helpdesk report summary` prints) read in a worker.
Changes anyone commits count it again, at most once every REFRESH_SECONDS."""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Static
from textual_plotext import PlotextPlot

from helpdesk.tui import keys
from helpdesk.tui.desk import SLA_COMPLIANCE_MEANS, ReportSummary, TicketDesk
from helpdesk.tui.notices import Banner
from helpdesk.tui.screens.live import LiveScreen
from helpdesk.tui.text import line_text
from helpdesk.tui.widgets.key_bar import KeyBar

REFRESH_SECONDS = 1.0  # at most one count a second, however many changes arrive
BAR_CELLS = 24  # the longest load bar


def _share(met: int, missed: int) -> str:
    total = met + missed
    return f"{100 * met / total:.1f} %" if total else "–"


def figures_table(summary: ReportSummary) -> Table:
    """The headline figures side by side: a big number over its label."""
    table = Table(box=None, expand=True, show_header=False, padding=(0, 2, 0, 0))
    cells = [("Open", f"{summary.open:,}", f"{summary.unassigned:,} unassigned"),
             ("New today", f"{summary.new_today:,}", ""),
             ("Resolved today", f"{summary.resolved_today:,}", ""),
             ("SLA compliance", _share(summary.sla.met, summary.sla.missed),
              f"{summary.sla.met:,} met, {summary.sla.missed:,} missed, {summary.days} days"),
             ("Breached open", f"{summary.breached:,}", "tickets past an SLA target")]
    for _ in cells:
        table.add_column(ratio=1)
    table.add_row(*(Text(value, style="bold") for _, value, _ in cells))
    table.add_row(*(Text(label, style="bold dim") for label, _, _ in cells))
    table.add_row(*(Text(note, style="dim") for _, _, note in cells))
    return table


def load_table(summary: ReportSummary) -> Table:
    """Each agent's open tickets against its capacity, with a bar (red past capacity)."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold", padding=(0, 1, 0, 0))
    table.add_column("Agent", no_wrap=True, ratio=2)
    table.add_column("Open", justify="right", no_wrap=True)
    table.add_column("Cap.", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, ratio=3)
    most = max((a.open for a in summary.load), default=0)
    for agent in summary.load:
        bar = "█" * (max(1, round(BAR_CELLS * agent.open / most)) if agent.open else 0)
        name = line_text(agent.agent, style="" if agent.active else "dim")
        if not agent.active:
            name.append(" (inactive)", "dim")
        table.add_row(name, f"{agent.open:,}", f"{agent.capacity:,}",
                      Text(bar, style="red" if agent.open > agent.capacity else "green"))
    if not summary.load:
        table.add_row(Text("no agents", style="dim"), "", "", "")
    return table


def breaches_table(summary: ReportSummary) -> Table:
    """Each queue's open tickets past an SLA target (red when there are any)."""
    table = Table(box=None, expand=True, show_header=True, header_style="bold", padding=(0, 1, 0, 0))
    table.add_column("Queue", no_wrap=True, ratio=1)
    table.add_column("Breached", justify="right", no_wrap=True)
    for queue in summary.breaches:
        name = line_text(queue.queue) if queue.queue is not None else Text("(no queue)", style="dim")
        table.add_row(name, Text(f"{queue.breached:,}", style="bold red" if queue.breached else "dim"))
    if not summary.breaches:
        table.add_row(Text("no queues", style="dim"), "")
    return table


class DashboardScreen(LiveScreen):
    """The desk's figures, read in a worker and counted again when the desk changes."""

    BANNER_ID = "dashboard-banner"
    BINDINGS = keys.bindings(keys.DASHBOARD)
    DEFAULT_CSS = """
    DashboardScreen {
        & #dashboard-figures { height: auto; padding: 0 1; margin-bottom: 1; }
        & #dashboard-volume { height: 1fr; min-height: 10; }
        & #dashboard-lists { height: auto; max-height: 45%; }
        & #dashboard-lists > Vertical { width: 1fr; height: auto; padding: 0 1; }
        & .dashboard--heading { text-style: bold underline; margin-top: 1; }
        & #dashboard-means { color: $text-muted; padding: 0 1; height: auto; }
    }
    """

    def __init__(self, desk: TicketDesk, *, days: int = 30) -> None:
        super().__init__()
        self.desk = desk
        self.days = days
        self.summary: ReportSummary | None = None  # the figures shown
        self._last_read = 0.0  # time.monotonic() of the last count asked for
        self._pending: Timer | None = None  # a count waiting for its second to come

    def compose(self) -> ComposeResult:
        yield Banner(id="dashboard-banner")
        yield Static("Counting…", id="dashboard-figures", markup=False)
        yield PlotextPlot(id="dashboard-volume")
        with Horizontal(id="dashboard-lists"):
            with Vertical():
                yield Static("Load per agent (open tickets)", classes="dashboard--heading", markup=False)
                yield Static("", id="dashboard-load", markup=False)
            with Vertical():
                yield Static("Breaches per queue (open tickets)", classes="dashboard--heading", markup=False)
                yield Static("", id="dashboard-breaches", markup=False)
        yield Static(f"SLA compliance: {SLA_COMPLIANCE_MEANS}.", id="dashboard-means", markup=False)
        yield KeyBar()

    def _changed_elsewhere(self, ids: frozenset[int]) -> None:  # the feed's thread
        self.app.call_from_thread(self._count_soon)

    def _count_soon(self) -> None:
        """Count again now, or once REFRESH_SECONDS have passed since the last count (one timer for
        however many changes arrive meanwhile)."""
        if self._pending is not None:
            return
        wait = self._last_read + REFRESH_SECONDS - time.monotonic()
        if wait <= 0:
            self.load()
        else:
            self._pending = self.set_timer(wait, self._count_now)

    def _count_now(self) -> None:
        self._pending = None
        self.load()

    def load(self) -> None:
        self._last_read = time.monotonic()
        self._read()

    @work(thread=True, exclusive=True, group="dashboard-read", exit_on_error=False)
    def _read(self) -> None:
        try:
            summary = self.desk.summary(days=self.days)
        except Exception as error:  # the desk's failure is shown on the banner, the last figures stay
            self.app.call_from_thread(self.banner.show, f"The figures could not be read: {error}")
            return
        self.app.call_from_thread(self._show, summary)

    def _show(self, summary: ReportSummary) -> None:
        self.summary = summary
        self.query_one("#dashboard-figures", Static).update(figures_table(summary))
        self.query_one("#dashboard-load", Static).update(load_table(summary))
        self.query_one("#dashboard-breaches", Static).update(breaches_table(summary))
        self._draw_volume(summary)
        if self.banner.shown:
            self.banner.clear()

    def _draw_volume(self, summary: ReportSummary) -> None:
        chart = self.query_one("#dashboard-volume", PlotextPlot)
        plt = chart.plt
        plt.clear_data()
        plt.clear_figure()
        days = list(range(1, len(summary.volume) + 1))
        plt.multiple_bar(days, [[d.created for d in summary.volume], [d.resolved for d in summary.volume]],
                         labels=["created", "resolved"], color=["blue", "green"], width=0.8)
        # A date under about every week: thirty would run into each other.
        step = max(1, len(days) // 5)
        ticks = days[::-1][::step][::-1]
        plt.xticks(ticks, [summary.volume[i - 1].date.strftime("%d %b") for i in ticks])
        plt.ylim(lower=0)
        plt.title(f"Tickets a day, last {summary.days} days ({summary.timezone})")
        chart.refresh()

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_reload(self) -> None:
        self.load()
