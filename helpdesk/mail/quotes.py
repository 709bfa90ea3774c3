"""What a customer wrote in a reply, told apart from the history their mail client quoted below it.

Nothing here deletes anything: the whole body is stored with every conversation entry, and the text
found here is the view shown by default (`ticket show --full` shows the rest). So the rules lean towards
showing too much: a line is hidden only when it is recognisably quoted history or a trailing signature.

Plain text: every line is marked as one of

    e  empty
    m  quoted (`>`), or a quote found in the HTML structure
    s  a splitter: an attribution ("On ... wrote:", "Am ... schrieb ...:", wrapped over up to three
       lines), a header block ("From: / Sent: / To: / Subject:", bold or with a space before the
       colon, in eleven languages), "-----Original Message-----" and its translations
    f  the start of a forwarded message ("---------- Forwarded message ---------", "Begin forwarded
       message:", ...)
    t  anything else: the customer's own text

then:

- a forward (a forwarded-message line before any quote, or a subject saying so) is content: all kept;
- a splitter followed by unquoted text (Outlook's style) hides everything from the splitter on;
- a splitter or a `>` block followed by the customer's text (an answer written below the quote) hides
  the quote and keeps the answer;
- answers interleaved with quotes (an inline reply) keep the quotes between them, for context;
- a trailing signature (`-- ` and what follows, if short) and a trailing "Sent from my iPhone"-style
  line are hidden; a sentence that happens to start "Sent from my desk, ..." is not.

HTML-only mail (webmail) loses its `>` when converted to text, so its structure is read first: Gmail's
`gmail_quote`, `blockquote` (Apple Mail, Thunderbird, Yahoo), `yahoo_quoted` become `>` lines, and
Outlook's reply header (`divRplyFwdMsg`, the bordered "From:" block, Hotmail's `stopSpelling`, Zimbra's
`zwchr`, Outlook for Mac's `OLK_SRC_BODY_SECTION`) becomes a splitter; forwards are left alone.
"""

from __future__ import annotations

import re

# ---------------------------------------------------------------- what the lines look like

QUOTED_RE = re.compile(r"^\s*>")  # indented too: HTML conversions indent nested quotes
# A line the HTML reading puts where a reply header was: a splitter no one can type by accident (a
# private-use character; if a customer does type it, the worst is a hidden line, never a lost one).
HTML_SPLITTER = "\ue000"
BLANK_RE = re.compile(r"^[\s\u00a0\u200b]*$")

# Verbs ending an attribution, in the languages of the desk's customers (and a few neighbours).
_WROTE = (r"wrote|writes|sent|a\s+écrit|a\s+ecrit|schrieb|escribió|escribio|escreveu|ha\s+scritto|schreef|"
          r"geschreven|geschrieben|skrev|napisał\(-?a\)|napisała|napisał|napisal|pisze|nadesłał|kirjoitti|"
          r"đã\s+viết|написал\(а\)|написала|написал|yazdı|írta|napsal\(a\)|napsal")
_WROTE_RE = re.compile(rf"(?<!\w)(?:{_WROTE})(?!\w)", re.I)
# How attributions start ("On", "Am", "Le", "El", "Il giorno", "Op", "Em", "No dia", "Den", "På",
# "W dniu", "Dnia", "Dne", ...).
_LEAD_RE = re.compile(r"^(?:On|Le|Am|El|Il(?:\s+giorno)?|Op|Em|No\s+dia|Den|På|W\s+dniu|Dnia|Dne|Vào|"
                      r"W\s+(?:poniedziałek|wtorek|środę|czwartek|piątek|sobotę|niedzielę)|"
                      r"Sent from Samsung)[\s,]", re.I)
# A date first, perhaps after a short weekday ("wt., 3 mar 2026", "tir. 3. mar.", "ti 3.3.2026").
_STARTS_WITH_DATE_RE = re.compile(r"^(?:[^\W\d_]{1,4}\.?,?\s+)?\d")
_DATE_RE = re.compile(r"\d{1,2}[:.]\d{2}|\b(?:19|20)\d{2}\b|\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
# "---- John Smith wrote ----" (Android), "------On 12/29/1987 ..., Julius Caesar wrote-----".
_DASHED_RE = re.compile(r"^\s*-{2,}.*(?:wrote|schrieb|a écrit|escribió|skrev|schreef)\s*:?\s*-{2,}\s*$", re.I)
# Apple Mail in Polish names the sender first: "Wiadomość napisana przez X <x> w dniu 02.03.2026, o godz. 09:14:".
_POLISH_APPLE_RE = re.compile(r"^\s*Wiadomość napisana przez .{1,250} w dniu .{1,80}:\s*$")
# "2014-10-17 11:28 GMT+03:00 Bob <bob@example.com>:", "2011/4/7 Nathan <support@example.com>" (old Gmail).
_DATE_EMAIL_RE = re.compile(r"^\s*\d{4}[-/]\d{1,2}[-/]\d{1,2}\b.{0,150}@[^\s>]+>?\s*:?\s*$")
_MAX_ATTRIBUTION = 400

_ORIGINAL_RE = re.compile(
    r"^\s*[-_=*]{2,}\s*(?:Original Message|Reply Message|Original-Nachricht|Ursprüngliche Nachricht|"
    r"Antwort Nachricht|Oprindelig meddelelse|Message d'origine|Message original|Mensaje original|"
    r"Messaggio originale|Oorspronkelijk bericht|Origineel bericht|Ursprungligt meddelande|"
    r"Originalmeddelande|Opprinnelig melding|Opprinnelig e-post|Oryginalna wiadomość|"
    r"Wiadomość oryginalna|Mensagem original|Původní zpráva|Alkuperäinen viesti)\s*[-_=*]{2,}\s*$", re.I)

_FORWARD_CORE = (
    r"(?:[-_=*]{2,}\s*(?:Forwarded message|Forwarded Message|Weitergeleitete Nachricht|"
    r"Message transféré|Message transfere|Mensaje reenviado|Doorgestuurd bericht|Videresendt meddelelse|"
    r"Videresendt besked|Videresendt melding|Vidarebefordrat meddelande|Wiadomość przekazana dalej|"
    r"Messaggio inoltrato|Mensagem encaminhada|Mensagem reencaminhada)\s*[-_=*]{2,}"
    r"|(?:Begin forwarded message|Anfang der weitergeleiteten Nachricht|Début du message réexpédié|"
    r"Inicio del mensaje reenviado|Begin doorgestuurd bericht|Doorgestuurd bericht|Start på videresendt besked|"
    r"Videresendt besked|Vidarebefordrat mejl|Videresendt melding|Początek przekazywanej wiadomości|"
    r"Inizio messaggio inoltrato|Início da mensagem reencaminhada|Mensagem encaminhada)\s*:)")
_FORWARD_RE = re.compile(rf"^\s*{_FORWARD_CORE}\s*$", re.I)
_FORWARD_ANYWHERE_RE = re.compile(_FORWARD_CORE, re.I)
# "Fwd:", "FW:", "WG:" (Weitergeleitet), "TR:" (transféré), "RV:" (reenviado), "Doorst:", "VS:",
# "VB:", "PD:", "I:" (inoltrato), "Enc:" (encaminhada) starting the subject ("Re: Fwd:" is a reply).
_FORWARD_SUBJECT_RE = re.compile(r"^\s*(?:fwd?|wg|tr|rv|doorst|vs|vb|pd|i|enc|fw)\s*:", re.I)

# Header names of a quoted header block, by role, in English, German, French, Spanish, Dutch, Danish,
# Swedish, Norwegian, Polish, Italian and Portuguese.
_HEADER_KEYS = {
    "from": "from|von|de|van|fra|från|od|da|expéditeur|remetente|от",
    "date": "sent|date|datum|gesendet|envoyé|envoye|enviado|enviada|enviado el|fecha|verzonden|verstuurd|sendt|"
            "skickat|wysłano|wyslano|inviato|data|dato|sent at|отправлено|дата",
    "to": "to|an|à|a|para|aan|til|till|do|per|destinatario|destinatário|кому",
    "cc": "cc|kopie|kopi|kopia|dw|copie|copia|bcc",
    "subject": "subject|betreff|objet|asunto|onderwerp|emne|ämne|temat|oggetto|assunto|sujet|тема",
}
_HEADER_RE = re.compile(
    r"^\s{0,4}[*_]{0,2}\s*(?P<key>" + "|".join(_HEADER_KEYS.values()) + r")\s?[*_]{0,2}\s?:(?:\s|[*_]|$)", re.I)
_ROLE = {name: role for role, names in _HEADER_KEYS.items() for name in names.split("|")}
_RULE_RE = re.compile(r"^\s*(?:_{10,}|-{10,}|={10,})\s*$")  # Outlook's line above its header block

# Signatures: "-- " (RFC 3676) or "--" on its own line, and the one-line notes of mobile clients.
_SIG_DASHES_RE = re.compile(r"^\s*--\s*$")
_MAX_SIGNATURE_LINES = 12
_MOBILE_RE = re.compile(
    r"^\s*(?:Sent from my |Sent from (?=(?-i:[A-Z]))|Sent via |Sent with |Get Outlook for |Envoyé de mon |"
    r"Envoyé depuis (?:mon )?|Von meinem |Gesendet von (?:meinem )?|Gesendet mit |Enviado desde (?:mi )?|"
    r"Enviado do meu |Enviado de meu |"
    r"Verzonden (?:vanaf|met) (?:mijn )?|Verstuurd vanaf (?:mijn )?|Sendt fra (?:min )?|Skickat från (?:min )?|"
    r"Wysłano z (?:mojego )?|Wysłane z (?:mojego )?|Inviato da(?:l mio)? |Inviato dal mio )"
    r"(?P<what>[^\n]{1,60}?)\s*(?:<[^>\s]+>)?\s*$", re.I)


def _is_mobile_line(line: str) -> bool:
    """A client's "Sent from my iPhone": short, a device or app name, not a sentence."""
    match = _MOBILE_RE.match(line.strip())
    if not match:
        return False
    what = match.group("what").rstrip(".")
    return len(what.split()) <= 6 and not re.search(r"[,;:!?]|\.\s", what)


def _attribution_lines(lines: list[str], i: int) -> int:
    """How many lines (1-3) an attribution starting at line i spans, or 0."""
    first = lines[i].strip()
    if not first or len(first) > 250 or QUOTED_RE.match(lines[i]):
        return 0
    if _DASHED_RE.match(first) or _DATE_EMAIL_RE.match(first) or _POLISH_APPLE_RE.match(first):
        return 1
    start = first.lstrip("-").lstrip()
    if not (_LEAD_RE.match(start) or _STARTS_WITH_DATE_RE.match(start)):
        return 0  # an attribution starts like one (see _is_attribution): most lines stop here
    if _LEAD_RE.match(first):
        # Polymail breaks its attribution over blank lines and ends it with "> wrote:".
        for k in range(i + 1, min(i + 6, len(lines))):
            if re.match(r"^\s*>?\s*(?:wrote|schrieb|a écrit|escribió)\s*:\s*$", lines[k], re.I):
                if _DATE_RE.search(first) and any("@" in lines[m] for m in range(i, k)):
                    return k - i + 1
                break
    joined = ""
    for span in range(1, 4):
        j = i + span - 1
        if j >= len(lines) or BLANK_RE.match(lines[j]) or QUOTED_RE.match(lines[j]):
            break
        # A line ending in "=" is a quoted-printable soft break its client did not decode: no space.
        joined = joined[:-1] + lines[j].strip() if joined.endswith("=") else (joined + " " + lines[j].strip()).strip()
        if len(joined) > _MAX_ATTRIBUTION:
            break
        if _is_attribution(joined):
            return span
        if span == 1 and _DATE_EMAIL_RE.match(joined + " " + (lines[i + 1].strip() if i + 1 < len(lines) else "")):
            return 2  # the old Gmail form, its address wrapped to the next line
    return 0


def _is_attribution(text: str) -> bool:
    text = text.strip().lstrip("-").strip()
    if not text.endswith(":"):
        return False
    # It starts like one: "On", "Am", "Le", ... or a date (Gmail in Polish or Norwegian: "wt., 3 mar 2026
    # o 09:00 ...", "tir. 3. mar. 2026 kl. 09:00 skrev ..."). "Hello" then an attribution on the next
    # line is a greeting followed by an attribution, found from that next line.
    if not (_LEAD_RE.match(text) or _STARTS_WITH_DATE_RE.match(text)):
        return False
    dated = bool(_DATE_RE.search(text)) or "@" in text
    verbs = list(_WROTE_RE.finditer(text))
    if not dated:
        # Without a date or an address only the short English form counts ("On Mon, Support wrote:"),
        # the verb last: a sentence rarely ends that way.
        return bool(_LEAD_RE.match(text) and len(text) <= 100 and re.search(r"\s(?:wrote|writes):$", text))
    if not verbs:
        # No verb: "26.06.2014, 14:41, "Alexander L" <abc@example.com>:" (Yandex, Mail.ru, old Gmail):
        # a date and a time first, an address last.
        return bool(_STARTS_WITH_DATE_RE.match(text) and re.search(r"\d{1,2}:\d{2}", text)
                    and re.search(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*>?\s*:$", text))
    verb = verbs[-1]
    # After the verb: nothing but the colon (English, French), or the sender (German, Dutch, Nordic:
    # "schrieb Ann <ann@x.example>:"), never a sentence.
    tail = text[verb.end():-1].strip()
    return len(tail) <= 150 and ":" not in tail.replace("mailto:", "") and verb.start() >= 2


def _header_block_lines(lines: list[str], i: int) -> int:
    """How many lines a quoted header block starting at line i spans ("From: / Sent: / To: /
    Subject:"), or 0."""
    match = _HEADER_RE.match(lines[i])
    if not match or _ROLE.get(match.group("key").lower()) not in ("from", "date", "subject"):
        return 0
    roles = []
    end = i
    j = i
    continuation = 0
    while j < len(lines) and j < i + 12:
        line = lines[j]
        header = _HEADER_RE.match(line)
        if header:
            roles.append(_ROLE.get(header.group("key").lower()))
            end = j + 1
            continuation = 0
        elif BLANK_RE.match(line):
            if j == i + 1:  # a blank line between wrapped parts of the first header (Outlook plain text)
                j += 1
                continue
            break
        else:
            continuation += 1  # a wrapped value ("bob@example.com]" under "*From:* bob [mailto:")
            if continuation > 1:
                break
            end = j + 1
        j += 1
    distinct = set(roles)
    # A sender and one more header, or a date and a recipient: "Date: 2 March / Subject: laptop" in a
    # form someone filled in is not a mail header.
    if len(distinct) >= 2 and ("from" in distinct or {"date", "to"} <= distinct):
        # A wrapped subject can leave one more line after the last header: it is part of the block.
        return end - i
    return 0


def _splitter_lines(lines: list[str], i: int) -> int:
    line = lines[i]
    if HTML_SPLITTER in line:
        return 1
    if _ORIGINAL_RE.match(line):
        return 1
    if _RULE_RE.match(line):
        # Outlook's rule line counts when a header block follows it (a bare rule is often a footer).
        k = i + 1
        while k < len(lines) and k <= i + 2 and BLANK_RE.match(lines[k]):
            k += 1
        if k < len(lines) and _header_block_lines(lines, k):
            return k - i
        return 0
    return _attribution_lines(lines, i) or _header_block_lines(lines, i)


def _split_run_on_attribution(lines: list[str]) -> list[str]:
    """"reply On Wed, Apr 4, 2012 at 3:59 PM, bob@example.com wrote:" on one line: the reply and the
    attribution become two lines (a client that does not break the line before its quote)."""
    out = []
    for line in lines:
        if len(line) > 2 * _MAX_ATTRIBUTION or QUOTED_RE.match(line) or not line.rstrip().endswith(":") \
                or not _WROTE_RE.search(line):
            out.append(line)
            continue
        split = None
        leads = list(re.finditer(r"(?<=\S)\s*-*\s*(?=\b(?:On|Le|Am|El|Op|Em|Den)\s)", line))
        for lead in leads[:3]:  # the attribution follows the reply text: one of the first "On"s
            rest = line[lead.end():]
            if len(rest) <= _MAX_ATTRIBUTION and lead.start() > 0 and _is_attribution(rest) \
                    and not _is_attribution(line):
                split = (line[:lead.start()], rest)
                break
        if split:
            out.extend(split)
        else:
            out.append(line)
    return out


# What every splitter and forward line has: a colon, a leading dash, rule, star or digit, or an
# attribution's first word (its colon may be on the next line). A quick test before the real ones.
_MAYBE_SPLITTER_RE = re.compile(r":|^\s*(?:[-_=*\d]|[^\W\d_]{1,4}\.?,?\s+\d|(?:On|Le|Am|El|Il|Op|Em|No|Den|På|W|"
                                r"Dnia|Dne|Vào|Sent|Wiadomość)\b)", re.I)


def mark(lines: list[str]) -> str:
    """One marker per line: e (empty), m (quoted), s (splitter), f (forward), t (text)."""
    marks = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if BLANK_RE.match(line):
            marks.append("e")
        elif QUOTED_RE.match(line):
            marks.append("m")
        elif not _MAYBE_SPLITTER_RE.search(line) and HTML_SPLITTER not in line:
            marks.append("t")  # most lines: nothing a splitter or a forward line starts or ends with
        elif _FORWARD_RE.match(line):
            marks.append("f")
        else:
            span = _splitter_lines(lines, i)
            if span:
                marks.extend("s" * span)
                i += span
                continue
            marks.append("t")
        i += 1
    return "".join(marks)


# ---------------------------------------------------------------- the visible part


def is_forward_subject(subject: str) -> bool:
    return bool(_FORWARD_SUBJECT_RE.match(subject or ""))


def visible_text(text: str, *, html: str | None = None, subject: str = "") -> str:
    """The customer's own words in a reply (see the module docstring). `html` is used when there is
    no plain text (webmail): its quote structure is read before it is flattened."""
    if not (text or "").strip() and html:
        return html_text_and_reply(html, subject)[1]
    return _strip(text or "", forward=is_forward_subject(subject))


def _strip(text: str, *, forward: bool = False, structural: bool = False) -> str:
    """`structural`: the `>` lines come from the HTML's quote elements, so even one is a quote."""
    lines = _split_run_on_attribution(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))
    marks = _rejoin_wrapped_links(lines, mark(lines))
    if not structural and "s" not in marks and marks.count("m") < 2:
        marks = marks.replace("m", "t")  # one ">" line alone is text (">>> print(x)", "> 5 users")
    first = re.search("[smf]", marks)
    if first is None:
        return _finish(lines, whole=True)
    if marks[first.start()] == "f" or (forward and marks[first.start()] == "s"):
        return _finish(lines, whole=True)  # a forward is content
    if marks[first.start()] == "s" and "t" not in marks[:first.start()]:
        # The mail starts with a header block or an attribution and goes on unquoted: a forward without
        # a note, or a pasted mail. Hiding it all would show nothing: only the splitter is hidden.
        after = first.start()
        while after < len(marks) and marks[after] in "se":
            after += 1
        if after < len(marks) and marks[after] in "tf":
            return _strip("\n".join(lines[after:]), forward=forward, structural=structural)
    # Quote regions: a splitter or a ">" block with the blank and quoted lines after it. A splitter
    # followed by plain text is Outlook's unmarked history: the region runs to the end.
    regions: list[tuple[int, int]] = []
    i = first.start()
    n = len(marks)
    while i < n:
        if marks[i] not in "sm":
            i += 1
            continue
        start = i
        while i < n and marks[i] in "sme":
            i += 1
        if "s" in marks[start:i] and i < n and marks[i] in "tf" and not _answers_below(marks, start, i):
            regions.append((start, n))
            break
        regions.append((start, i))
    # The customer's text: the blocks outside the regions, but a last block that is a signature or a
    # list footer ("-- ", "_____") after the quote.
    gaps = [g for g in _gaps(regions, n) if "t" in marks[g[0]:g[1]] or "f" in marks[g[0]:g[1]]]
    if len(gaps) > 1 and gaps[-1][0] > regions[0][0] and _is_footer(lines[gaps[-1][0]:gaps[-1][1]]):
        regions.append(gaps.pop())
        regions.sort()
    own_after = [g for g in gaps if g[0] >= regions[0][0]]
    if len(own_after) >= 2:
        # An inline reply: answers between quotes. Keep it whole, up to the last answer, so each answer
        # keeps the question it answers.
        return _finish(lines[:own_after[-1][1]], whole=True)
    kept: list[str] = []
    for start, end in gaps:
        if kept:
            kept.append("")
        kept.extend(lines[start:end])
    return _finish(kept)


def _is_footer(block: list[str]) -> bool:
    first = next((line for line in block if not BLANK_RE.match(line)), "")
    return bool(_SIG_DASHES_RE.match(first) or _RULE_RE.match(first) or _is_mobile_line(first))


def _rejoin_wrapped_links(lines: list[str], marks: str) -> str:
    """A long link in a quote, wrapped by the sender's client, leaves an unquoted piece between quoted
    lines ("_nonce=3dd518)", "(http://example.com/c/Yz) >"): part of the quote, not an answer."""
    out = list(marks)
    for match in re.finditer(r"(?<=m)t(?=e?m)", marks):
        i = match.start()
        line, before = lines[i].strip(), lines[i - 1]
        wrapped = (before.count("(") > before.count(")") and "http" in before) or before.endswith("=")
        if wrapped or re.match(r"^\(?https?://", line) or (line.endswith(">") and "http" in line):
            out[i] = "m"
    return "".join(out)


def _answers_below(marks: str, start: int, end: int) -> bool:
    """A splitter whose quote is marked (">") and then followed by text: the text is an answer written
    below the quote, not more history (Outlook's unmarked history has no ">" lines)."""
    region = marks[start:end]
    return "m" in region[region.rindex("s"):]


def _gaps(regions: list[tuple[int, int]], n: int) -> list[tuple[int, int]]:
    gaps = []
    position = 0
    for start, end in regions:
        if start > position:
            gaps.append((position, start))
        position = max(position, end)
    if position < n:
        gaps.append((position, n))
    return gaps


def _finish(lines: list[str], *, whole: bool = False) -> str:
    """`whole`: nothing was quoted; otherwise a rule line left above the hidden quote goes too."""
    lines = [line.rstrip() for line in lines]
    lines = _drop_signature(lines)
    while lines and (BLANK_RE.match(lines[-1]) or HTML_SPLITTER in lines[-1]
                     or (not whole and _RULE_RE.match(lines[-1]))):
        lines.pop()
    while lines and BLANK_RE.match(lines[0]):
        lines.pop(0)
    text = "\n".join(line for line in lines if HTML_SPLITTER not in line)
    return re.sub(r"\n{3,}", "\n\n", text)


def _drop_signature(lines: list[str]) -> list[str]:
    content = [i for i, line in enumerate(lines) if not BLANK_RE.match(line)]
    if not content:
        return lines
    last = content[-1]
    if _is_mobile_line(lines[last]):
        lines = lines[:last]
        content = content[:-1]
        if content and _SIG_DASHES_RE.match(lines[content[-1]]):
            lines = lines[:content[-1]]
            content = content[:-1]
    # "-- " and at most a dozen lines after it, at the end (not the first line: then it is all there is).
    for index in reversed(content):
        if _SIG_DASHES_RE.match(lines[index]):
            below = [i for i in content if i > index]
            if index > 0 and any(i < index for i in content) and len(below) <= _MAX_SIGNATURE_LINES:
                return lines[:index]
            break
    return lines


# ---------------------------------------------------------------- HTML


def html_to_text(html: str) -> str:
    """HTML as readable text (inscriptis), for a mail that has no plain-text part."""
    return html_text_and_reply(html)[0]


_QUOTE_XPATH = (
    "//blockquote"
    " | //div[contains(concat(' ', normalize-space(@class), ' '), ' gmail_quote ')]"
    " | //*[contains(@class, 'yahoo_quoted')]"
)
# Where Outlook and others put the quoted history without marking it: a splitter goes before them.
_CUT_XPATH = (
    "//*[contains(@id, 'divRplyFwdMsg')]"
    " | //*[@id = 'stopSpelling'] | //hr[@id = 'zwchr'] | //*[@id = 'OLK_SRC_BODY_SECTION']"
    " | //*[contains(concat(' ', normalize-space(@class), ' '), ' OutlookMessageHeader ')]"
    " | //*[@id = 'mail-editor-reference-message-container']"
    " | //div[contains(translate(@style, ' ', ''), 'border-top:solid')]"
)
_CITE_PREFIX_XPATH = "//*[contains(concat(' ', normalize-space(@class), ' '), ' moz-cite-prefix ')]"
_FORWARD_CONTAINER_XPATH = "ancestor-or-self::*[contains(@class, 'moz-forward-container')]"
# Marks put into the document's text before it is flattened: where a quote element opens and closes
# (its lines become ">" lines), and HTML_SPLITTER where unmarked history starts. Private-use characters:
# removed again from the whole text.
QUOTE_OPEN, QUOTE_CLOSE = "\ue001", "\ue002"
_MARKS_RE = re.compile("[\ue000-\ue002]")
_NOT_XML_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def html_text_and_reply(html: str, subject: str = "") -> tuple[str, str]:
    """(the whole text, what the sender wrote) of an HTML body, from one parse and one conversion:
    the quote elements and the start of unmarked history are marked in the document, the document is
    flattened, and the marks become ">" lines and a splitter for `_strip` (and vanish from the whole
    text)."""
    marked = _marked_text(html)
    whole = _tidy(_MARKS_RE.sub("", marked))
    return whole, _strip(_quote_lines(marked), forward=is_forward_subject(subject), structural=True)


def _tidy(text: str) -> str:
    lines = [line.rstrip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _quote_lines(marked: str) -> str:
    """The flattened text with each line inside a marked quote element prefixed "> "."""
    out = []
    depth = 0
    for line in marked.split("\n"):
        quoted = depth > 0 or QUOTE_OPEN in line
        depth = max(0, depth + line.count(QUOTE_OPEN) - line.count(QUOTE_CLOSE))
        line = line.replace(QUOTE_OPEN, "").replace(QUOTE_CLOSE, "")
        out.append("> " + line.strip() if quoted and line.strip() else line)
    return "\n".join(out)


def _marked_text(html: str) -> str:
    from inscriptis import get_text  # lazy: inscriptis and lxml only for mail with an HTML part

    try:
        import lxml.html  # lazy: as above
        from inscriptis.html_engine import Inscriptis

        doc = lxml.html.document_fromstring(html.strip())
    except Exception:  # empty, or not HTML at all
        try:
            return get_text(html)
        except Exception:  # a broken document: strip tags roughly rather than lose the mail
            return re.sub(r"<[^>]+>", " ", html)
    _mark_quotes(doc)
    try:
        return Inscriptis(doc).get_text()
    except Exception:
        return re.sub(r"<[^>]+>", " ", html)


def _prepend(el, mark: str) -> None:
    el.text = mark + _NOT_XML_RE.sub("", el.text or "")


def _mark_quotes(doc) -> None:
    # Quotes first: what they hold (a quoted Outlook header, an attribution) is history already.
    quotes = doc.xpath(_QUOTE_XPATH)
    outermost = [q for q in quotes if not any(a in quotes for a in q.iterancestors())]
    inside = set()
    for el in outermost:
        if el.xpath(_FORWARD_CONTAINER_XPATH) or _is_forward_text(_text_of(el)[:200]) or \
                _is_forward_text(_text_before(el)):
            continue  # a forward is content
        _prepend(el, QUOTE_OPEN)
        if len(el):
            el[-1].tail = _NOT_XML_RE.sub("", el[-1].tail or "") + QUOTE_CLOSE
        else:
            el.text += QUOTE_CLOSE
        inside.update(el.iter())
    for el in doc.xpath(_CUT_XPATH):
        if el in inside or el.xpath(_FORWARD_CONTAINER_XPATH) or _is_forward_text(_text_of(el)[:200]):
            continue
        if el.tag == "div" and "border-top" in (el.get("style") or "").replace(" ", "") and \
                not _HEADER_RE.match(_text_of(el).lstrip()):
            continue  # a bordered box that is not a reply header
        _prepend(el, HTML_SPLITTER)
        break  # everything after the first one is history
    for el in doc.xpath("//hr"):
        # A rule right before "From: ... To: ..." (Hotmail, Windows Mail, AOL): the history starts there.
        if el in inside:
            continue
        after = " ".join(" ".join(t.split()) for t in el.xpath("following::text()")[:8]).strip()
        if _HEADER_RE.match(after) and not _is_forward_text(_text_before(el)):
            el.tail = HTML_SPLITTER + _NOT_XML_RE.sub("", el.tail or "")
            break
    for el in doc.xpath(_CITE_PREFIX_XPATH):
        if el not in inside:  # Thunderbird's attribution, in any language: a splitter
            _prepend(el, HTML_SPLITTER)


def _text_of(el) -> str:
    return " ".join(el.text_content().split())


def _text_before(el, limit: int = 200) -> str:
    """The last words before an element in document order (a forward's "Begin forwarded message:")."""
    words = " ".join(" ".join(t.split()) for t in el.xpath("preceding::text()")[-20:])
    return words[-limit:]


def _is_forward_text(text: str) -> bool:
    return _FORWARD_ANYWHERE_RE.search(text) is not None


def hidden_lines(full: str, visible: str) -> int:
    """How many non-blank lines of the whole body the visible text leaves out."""
    def count(text: str) -> int:
        return sum(1 for line in (text or "").splitlines() if line.strip())

    return max(0, count(full) - count(visible))
