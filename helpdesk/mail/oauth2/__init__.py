"""OAuth2 (XOAUTH2) for the mail connections: token providers behind one interface, and the logins.

`make_provider(kind, ...)` builds the provider a mailbox is configured with ("microsoft", "google",
"command"); `provider.access_token()` -> (token, expires_at); `xoauth2.imap_login` / `xoauth2.smtp_login`
log a connection in with it. Grants of people are kept in the token directory the caller names (the
data directory), 0600; an expired or revoked one is `LoginRequired` (exit 3), whose message says to run
`helpdesk mail login MAILBOX` again.
"""

from __future__ import annotations

from pathlib import Path

from helpdesk.core.errors import ConfigError
from helpdesk.mail.oauth2.base import REFRESH_MARGIN, AccessToken, LoginRequired, TokenFile, TokenProvider
from helpdesk.mail.oauth2.command import CommandProvider
from helpdesk.mail.oauth2.xoauth2 import imap_login, smtp_login, xoauth2_string

PROVIDERS = ("microsoft", "google", "command")


def make_provider(kind: str, *, mailbox: str, user: str, token_dir: str | Path | None = None,
                  **settings) -> TokenProvider:
    """The token provider for one mailbox. `settings` are the provider's own (client_id, tenant, authority,
    client_secret, ... / client_id, client_secret, service_account_file, auth_uri, token_uri, ... /
    command, timeout) and the common ones (ca_file, margin)."""
    if kind == "microsoft":
        from helpdesk.mail.oauth2.microsoft import MicrosoftProvider  # lazy: msal loads requests and cryptography

        return MicrosoftProvider(mailbox=mailbox, user=user, token_dir=token_dir, **settings)
    if kind == "google":
        from helpdesk.mail.oauth2.google import GoogleProvider  # lazy: google-auth is as heavy

        return GoogleProvider(mailbox=mailbox, user=user, token_dir=token_dir, **settings)
    if kind == "command":
        return CommandProvider(mailbox=mailbox, user=user, **settings)
    raise ConfigError(f"mailbox {mailbox}: oauth2_provider = {kind!r}: must be one of {', '.join(PROVIDERS)}")


__all__ = ["PROVIDERS", "REFRESH_MARGIN", "AccessToken", "LoginRequired", "TokenFile", "TokenProvider",
           "imap_login", "make_provider", "smtp_login", "xoauth2_string"]
