"""XOAUTH2 (the SASL mechanism of Microsoft 365, Google and Dovecot) for IMAP and SMTP.

The initial response is `user=USER ^A auth=Bearer TOKEN ^A ^A`, base64-encoded on the wire. A server
that refuses it answers with a challenge (a base64 JSON error) which the client answers with an empty
line, then the failure. A refused token may only be stale (revoked server side, or the clock of one
side is off): the login drops it, gets a fresh one and tries once more before giving up.
"""

from __future__ import annotations

import smtplib

from helpdesk.core.errors import ServiceUnavailable
from helpdesk.mail.oauth2.base import AccessToken, TokenProvider, first_line


def xoauth2_string(user: str, token: str | AccessToken) -> str:
    """The XOAUTH2 initial client response (before base64)."""
    token = token.token if isinstance(token, AccessToken) else token
    if "\x01" in user or "\x01" in token:
        raise ValueError("XOAUTH2 user or token holds a ^A")
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def _imap_attempt(client, user: str, token: AccessToken) -> str | None:
    """Log in with XOAUTH2; None on success, else the server's refusal."""
    from imapclient.exceptions import LoginError  # lazy: imapclient only when a mailbox logs in

    try:
        client.oauth2_login(user, token.token)
        return None
    except LoginError as exc:
        return first_line(exc)


def _login(provider: TokenProvider, attempt, where: str) -> None:
    """`attempt(token)` with the provider's token; a refused token is dropped, renewed and tried once
    more. Refused again: ServiceUnavailable with the server's words (never the token)."""
    token = provider.access_token()
    refusal = attempt(provider.user, token)
    if refusal is None:
        return
    provider.invalidate()
    renewed = provider.access_token()
    if renewed.token != token.token:
        refusal = attempt(provider.user, renewed)
        if refusal is None:
            return
    raise ServiceUnavailable(f"{where}: XOAUTH2 login refused for {provider.user!r}: {refusal}")


def imap_login(client, provider: TokenProvider, *, where: str) -> None:
    """Log an IMAPClient in as `provider.user` with XOAUTH2 (see `_login`)."""
    _login(provider, lambda user, token: _imap_attempt(client, user, token), where)


def _smtp_attempt(client: smtplib.SMTP, user: str, token: AccessToken) -> str | None:
    initial = xoauth2_string(user, token)

    def respond(challenge: bytes | None = None) -> str:
        # First call: the initial response. Called again with the server's error challenge: an empty
        # answer, after which the server sends its final refusal.
        return initial if challenge is None else ""

    try:
        client.auth("XOAUTH2", respond, initial_response_ok=True)
        return None
    except smtplib.SMTPAuthenticationError as exc:
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else exc.smtp_error
        return f"{exc.smtp_code} {first_line(text)}"


def smtp_login(client: smtplib.SMTP, provider: TokenProvider, *, where: str) -> None:
    """Authenticate an SMTP client (after STARTTLS where used) as `provider.user` with XOAUTH2 (see
    `_login`)."""
    client.ehlo_or_helo_if_needed()
    if not client.has_extn("auth") or "XOAUTH2" not in client.esmtp_features.get("auth", "").upper().split():
        raise ServiceUnavailable(f"{where}: the server does not offer AUTH XOAUTH2")
    _login(provider, lambda user, token: _smtp_attempt(client, user, token), where)
