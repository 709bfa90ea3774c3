"""Customer organisations by mail domain: `[[organisation]] name, domains` in the config.

A new customer whose address is at a configured domain (or a subdomain of it) belongs to that
organisation, whichever channel brought them (CLI, JSON, mail, import), and so gets its SLA policies.
An organisation named explicitly (`--organisation`-style keys, an import column) wins; customers already
on the desk keep theirs.
"""

from __future__ import annotations


def for_address(desk, email: str | None) -> str | None:
    """The configured organisation owning the address's mail domain, or None."""
    if not email or "@" not in email or not desk.config.organisations:
        return None
    domain = email.rsplit("@", 1)[1].strip().lower().rstrip(".")
    owners = {d: org.name for org in desk.config.organisations for d in org.domains}
    while domain:
        if domain in owners:
            return owners[domain]
        _, _, domain = domain.partition(".")  # sub.globex.example -> globex.example -> example
    return None
