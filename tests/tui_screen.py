"""The screen of a running Textual app as plain text lines: what a person sees, styles aside, modal
screens and toasts included (read from the app's own SVG screenshot)."""

from __future__ import annotations

import html
import re

# Rich's SVG export: one <text> per run of equally styled cells, at x = column * 12.2 (0.61 * font size 20).
_RUN = re.compile(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)" textLength="[\d.]+" clip-path="[^"]*">(.*?)</text>')
CELL_WIDTH = 12.2


def screen_lines(app) -> list[str]:
    rows: dict[float, list[tuple[int, str]]] = {}
    for x, y, text in _RUN.findall(app.export_screenshot()):
        rows.setdefault(float(y), []).append((round(float(x) / CELL_WIDTH), html.unescape(text)))
    lines = []
    for y in sorted(rows):
        line = ""
        for column, text in sorted(rows[y]):
            line = line.ljust(column) + text
        lines.append(line.replace("\xa0", " "))
    return lines


def screen_text(app) -> str:
    return "\n".join(screen_lines(app))
