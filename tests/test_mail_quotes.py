"""Quote stripping: every fixture in tests/quote_fixtures, and properties of the stripper on any input.
No server, no database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpdesk.mail import parse, quotes
from helpdesk.core.views import hidden_line_count

FIXTURES = Path(__file__).parent / "quote_fixtures"
CASES = sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".txt", ".html", ".eml"))


def normalise(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def shown(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".eml":
        return parse.parse(data).reply_text
    if path.suffix == ".html":
        return quotes.visible_text("", html=data.decode("utf-8"))
    return quotes.visible_text(data.decode("utf-8"))


def test_the_fixture_set_covers_what_it_should():
    assert len(CASES) >= 160
    names = {p.stem for p in CASES}
    for lang in ("en", "de", "fr", "es", "nl", "da", "sv", "no", "pl", "it", "pt"):
        for client in ("gmail-top", "apple-mail-top", "iphone-top", "thunderbird-bottom", "outlook-top", "yahoo-top"):
            assert f"{client}-{lang}" in names
        for client in ("gmail", "outlook-web", "outlook-desktop", "apple-mail", "thunderbird-bottom", "yahoo"):
            assert f"{client}-{lang}" in names
    assert all(p.with_suffix(".expected").exists() for p in CASES)


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_fixture(path):
    expected = path.with_suffix(".expected").read_text(encoding="utf-8")
    assert normalise(shown(path)) == normalise(expected)


def test_a_parsed_reply_keeps_the_whole_text_beside_what_is_shown():
    raw = (FIXTURES / "eml" / "gmail-alternative-de.eml").read_bytes()
    mail = parse.parse(raw)
    assert mail.reply_text.startswith("Hallo,") and "Acme IT Support" not in mail.reply_text
    assert "> bitte starten Sie den Drucker neu" in mail.text  # the quote is kept in the whole text
    assert hidden_line_count(mail.text, mail.reply_text) == len(
        [line for line in mail.text.splitlines() if line.strip()]) - len(
        [line for line in mail.reply_text.splitlines() if line.strip()])


def test_hidden_line_count():
    assert hidden_line_count(None, "anything") == 0
    assert hidden_line_count("a\n\nb\n> c\n> d", "a\n\nb") == 2
    assert hidden_line_count("a", "a") == 0


def test_a_huge_body_is_stripped_in_linear_time():
    import time

    body = "Thanks!\n\n" + quotes_attribution() + "\n" + "> quoted line of history\n" * 50_000
    started = time.perf_counter()
    assert quotes.visible_text(body) == "Thanks!"
    assert time.perf_counter() - started < 5  # a generous bound: quadratic work would take minutes


def quotes_attribution() -> str:
    return "On Mon, Mar 2, 2026 at 9:14 AM Acme IT Support <support@acme.example> wrote:"


# ---------------------------------------------------------------- properties

LINES = st.one_of(
    st.text(max_size=80),
    st.sampled_from([
        "", "> quoted", ">> deeper", "-- ", "--", "Sent from my iPhone", quotes_attribution(),
        "On Mon, Mar 2, 2026 at 9:14 AM Acme <", "support@acme.example> wrote:", "From: Acme <a@b.example>",
        "Sent: Monday", "To: Ann", "Subject: x", "*From:* x", "De : x", "Envoyé : y", "-----Original Message-----",
        "---------- Forwarded message ---------", "Begin forwarded message:", "________________________________",
        "Am 02.03.2026 um 09:14 schrieb Acme <a@b.example>:", "\ue000", "(http://example.com/x", "_nonce=1)",
    ]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(LINES, max_size=30), st.text(max_size=30))
def test_stripping_never_raises_and_only_shows_what_arrived(lines, subject):
    text = "\n".join(lines)
    visible = quotes.visible_text(text, subject=subject)
    # Nothing is invented: every line shown is (part of) a line that arrived.
    for line in visible.splitlines():
        if line.strip():
            assert line.strip() in text
    assert hidden_line_count(text, visible) >= 0


HTML_BITS = st.sampled_from([
    "<div>", "</div>", "<blockquote>", "</blockquote>", '<blockquote type="cite">', '<div class="gmail_quote">',
    '<div class="yahoo_quoted">', '<div class="moz-cite-prefix">', '<div id="divRplyFwdMsg">', "<hr>",
    '<hr id="stopSpelling">', "<br>", "<p>", "</p>", "Hello", "From: a@b.example", "Sent: Monday", "To: x",
    quotes_attribution().replace("<", "&lt;").replace(">", "&gt;"), "---------- Forwarded message ---------",
    "<!--", "-->", "<", ">", "&", "<b>", "</b>", "<table><tr><td>", "<div style=\"border-top:solid #E1E1E1 1.0pt\">",
])


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(HTML_BITS, st.text(max_size=20)), max_size=40))
def test_html_stripping_never_raises(bits):
    html = "".join(bits)
    visible = quotes.visible_text("", html=html)
    assert isinstance(visible, str)
    if quotes.HTML_SPLITTER not in html:  # the reading's own splitter lines never show
        assert quotes.HTML_SPLITTER not in visible
