"""The chart widget the dashboard will draw its 30-day volume with (textual-plotext) works with the
Textual version we pin: a bar chart renders inside a running app, in both our themes."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual_plotext import PlotextPlot

from helpdesk.tui import themes
from tui_screen import screen_text

pytestmark = pytest.mark.anyio


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield PlotextPlot()

    def on_mount(self) -> None:
        for theme in themes.THEMES.values():
            self.register_theme(theme)
        self.theme = themes.DARK.name
        plot = self.query_one(PlotextPlot).plt
        days = list(range(1, 31))
        plot.bar(days, [40 + (day * 7) % 23 for day in days])
        plot.title("Tickets a day, last 30 days")


async def test_a_volume_chart_renders_under_the_pinned_textual():
    app = ChartApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        assert "Tickets a day, last 30 days" in shown
        assert "█" in shown or "▄" in shown  # bars were drawn
        app.theme = themes.LIGHT.name
        await pilot.pause()
        assert "Tickets a day, last 30 days" in screen_text(app)
