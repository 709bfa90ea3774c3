"""Is this an email address? The one checker for every path: mail intake, `--customer`, imports.

It accepts what RFC 5322 calls an addr-spec (section 3.4.1), with RFC 6532's UTF-8 in it:

- a local part that is a dot-atom (`ann.lee+it`, `o'brien`, `root`) or a quoted string
  (`"big bug bb"`, `"a\\"b"`);
- a domain that is a dot-atom, with or without a dot (`localhost`, `mailhost`: cron and monitoring
  mail comes from such hosts) or a domain literal (`[192.0.2.1]`).

Everything else is refused: no `@`, two of them outside quotes, empty parts, a leading, trailing or
doubled dot, spaces or control characters outside quotes, an address longer than 320 characters.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from helpdesk.core.limits import EMAIL_MAX

# RFC 5322 atext; any non-ASCII character is refused or allowed below, by its Unicode category.
_ATEXT = r"A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff"


@functools.cache
def _patterns() -> tuple[re.Pattern, re.Pattern, re.Pattern]:
    """The dot-atom, quoted-string and domain-literal patterns, compiled on first use: the Unicode
    ranges take milliseconds to compile, which every CLI start would pay for nothing."""
    dot_atom = re.compile(rf"[{_ATEXT}]+(?:\.[{_ATEXT}]+)*")
    # qtext (printable ASCII but `"` and `\`), spaces and tabs (FWS), quoted pairs.
    quoted = re.compile(r'"(?:[\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff \t]|\\[\x20-\x7e\t])*"')
    # dtext (printable ASCII but `[`, `]` and `\`) and spaces.
    domain_literal = re.compile(r"\[[\x21-\x5a\x5e-\x7e \t]*\]")
    return dot_atom, quoted, domain_literal


def _invisible(text: str) -> bool:
    """A control, format (bidi, zero-width), separator or unassigned character outside ASCII."""
    return any(ord(c) > 0x7F and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")
               for c in text)


def is_address(text: str) -> bool:
    """True if `text` is an RFC 5322 addr-spec (see the module's docstring)."""
    if not isinstance(text, str) or not text or len(text) > EMAIL_MAX or _invisible(text):
        return False
    local, at, domain = text.rpartition("@")  # the domain holds no `@`; a quoted local part may
    if not at:
        return False
    dot_atom, quoted, domain_literal = _patterns()
    if not (dot_atom.fullmatch(local) or quoted.fullmatch(local)):
        return False
    return bool(dot_atom.fullmatch(domain) or domain_literal.fullmatch(domain))
