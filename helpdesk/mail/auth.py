"""How a mailbox or `[smtp]` connects and logs in: its TLS context (tls.py) and, with `auth = "oauth2"`,
its token provider (oauth2/), built from the configuration.

Providers are kept per process (by their settings), so a token is fetched once and reused until a
margin before it expires, by every fetch and send of a long-running daemon alike. People's grants are
kept in `<data directory>/oauth2`, 0600.
"""

from __future__ import annotations

import ssl
import threading

from helpdesk.config import SMTP_GRANT, MailboxSpec, MailLogin
from helpdesk.core import locations
from helpdesk.core.errors import ConfigError
from helpdesk.mail import tls
from helpdesk.mail.oauth2 import TokenProvider, make_provider

_providers: dict[tuple, TokenProvider] = {}
_providers_lock = threading.Lock()


def token_dir():
    """Where people's grants are kept: beside the database, private."""
    return locations.data_dir() / "oauth2"


def grant_name(spec: MailLogin) -> str:
    """The name a sign-in is kept and asked for under: the mailbox's, or "smtp" for [smtp]."""
    return spec.name if isinstance(spec, MailboxSpec) else SMTP_GRANT


def login_user(spec: MailLogin) -> str:
    """The account a connection logs in as."""
    if isinstance(spec, MailboxSpec):
        return spec.imap_user or spec.address
    return spec.user or ""


def _where(spec: MailLogin) -> str:
    return f"mailbox {spec.name}" if isinstance(spec, MailboxSpec) else "[smtp]"


def tls_context(spec: MailLogin) -> ssl.SSLContext | None:
    """The verifying context for `spec`'s connection (None for tls = "none")."""
    if spec.tls == "none":
        return None
    try:
        return tls.client_context(ca_file=spec.ca_file, cert_file=spec.client_cert, key_file=spec.client_key)
    except ConfigError as exc:
        raise ConfigError(f"{_where(spec)}: {exc}") from None


def _settings(spec: MailLogin) -> dict:
    kind = spec.oauth2_provider
    common: dict = {}
    if kind == "command":
        return {"command": spec.oauth2_command, "timeout": spec.oauth2_command_timeout}
    if spec.oauth2_ca_file:
        common["ca_file"] = spec.oauth2_ca_file
    if spec.oauth2_scopes:
        common["scopes"] = tuple(spec.oauth2_scopes)
    if spec.oauth2_client_id:
        common["client_id"] = spec.oauth2_client_id
    secret = spec.client_secret()
    if spec.oauth2_client_secret_env and not secret:
        # Not a silent switch to a person's sign-in: the secret decides which flow is meant.
        raise ConfigError(f"{_where(spec)}: oauth2_client_secret_env names {spec.oauth2_client_secret_env}, "
                          "which is not set in the environment")
    if secret:
        common["client_secret"] = secret
    if kind == "microsoft":
        if spec.oauth2_tenant:
            common["tenant"] = spec.oauth2_tenant
        if spec.oauth2_authority:
            common["authority"] = spec.oauth2_authority
        return common
    # google
    if spec.oauth2_service_account_file:
        common["service_account_file"] = spec.oauth2_service_account_file
    if spec.oauth2_auth_uri:
        common["auth_uri"] = spec.oauth2_auth_uri
    if spec.oauth2_token_uri:
        common["token_uri"] = spec.oauth2_token_uri
    common["redirect_port"] = spec.oauth2_redirect_port
    return common


def provider(spec: MailLogin) -> TokenProvider | None:
    """The token provider of `spec` (None when it logs in with a password); the same object for the same
    settings for the life of the process."""
    if spec.auth != "oauth2":
        return None
    name, user, settings = grant_name(spec), login_user(spec), _settings(spec)
    directory = token_dir()
    key = (name, user, spec.oauth2_provider, str(directory), tuple(sorted((k, repr(v)) for k, v in settings.items())))
    with _providers_lock:
        found = _providers.get(key)
        if found is None:
            found = _providers[key] = make_provider(spec.oauth2_provider, mailbox=name, user=user,
                                                    token_dir=directory, **settings)
        return found


def describe(spec: MailLogin) -> dict:
    """How `spec` authenticates, for `mail status`, reading no network: auth, provider, flow, whether a
    person has signed in, and when the token known here expires."""
    if spec.auth != "oauth2":
        return {"auth": "password", "provider": None, "flow": None, "user": login_user(spec), "logged_in": None,
                "account": None, "expires_at": None}
    try:
        return provider(spec).status()
    except ConfigError as exc:
        return {"auth": "oauth2", "provider": spec.oauth2_provider, "flow": None, "user": login_user(spec),
                "logged_in": False, "account": None, "expires_at": None, "error": str(exc)}
