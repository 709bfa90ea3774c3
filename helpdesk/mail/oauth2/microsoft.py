"""Microsoft 365 (Entra ID) through msal.

- A person (`flow = "device"`): `helpdesk mail login MAILBOX` runs the device-code flow (the person opens
  a page on any device and types a code); the grant (msal's token cache, with the refresh token) is kept in
  the token file and renewed silently from then on. A shared mailbox works the same way: the person who
  signs in needs Full Access to it, and XOAUTH2 logs in as the mailbox's address.
- A service principal (`flow = "client_credentials"`, when a client secret is configured): the app's own
  token, no person, no token file. Exchange must allow the app on the mailbox (Add-MailboxPermission).

`authority` (default https://login.microsoftonline.com) and `tenant` are configurable: national clouds,
and the tests' stand-in authorization server on loopback. `ca_file` is the CA bundle to trust for it.
"""

from __future__ import annotations

import time
from pathlib import Path

import msal
import requests

from helpdesk.core.errors import ConfigError, ServiceUnavailable
from helpdesk.mail.oauth2.base import (HTTP_TIMEOUT, AccessToken, LoginRequired, ShowFn, TokenFile, TokenProvider,
                                       first_line)
from helpdesk.mail.oauth2 import transport

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
# Delegated permissions of Exchange Online for IMAP and SMTP (msal adds openid, profile, offline_access).
PERSON_SCOPES = ("https://outlook.office.com/IMAP.AccessAsUser.All", "https://outlook.office.com/SMTP.Send")
# An app's token carries the permissions granted to it (IMAP.AccessAsApp, SMTP.SendAsApp).
APP_SCOPES = ("https://outlook.office365.com/.default",)
# Errors of the token endpoint that mean the person's grant is gone (expired, revoked, password changed,
# consent withdrawn): only a new sign-in helps.
_GRANT_GONE = {"invalid_grant", "interaction_required", "consent_required", "login_required", "no_account"}


class MicrosoftProvider(TokenProvider):
    provider = "microsoft"
    title = "Microsoft"
    grant_key = "msal_cache"

    def __init__(self, *, mailbox: str, user: str, client_id: str, tenant: str | None = None,
                 authority: str = DEFAULT_AUTHORITY, client_secret: str | None = None,
                 token_dir: str | Path | None = None, scopes: tuple[str, ...] | None = None,
                 ca_file: str | Path | None = None, timeout: float = HTTP_TIMEOUT, **kwargs):
        super().__init__(mailbox=mailbox, user=user, **kwargs)
        if not client_id:
            raise ConfigError(f"mailbox {mailbox}: oauth2_client_id is required for Microsoft")
        self.client_id = client_id
        self.client_secret = client_secret
        self.flow = "client_credentials" if client_secret else "device"
        self.needs_login = self.flow == "device"
        if self.flow == "client_credentials" and tenant in (None, "", "organizations", "common", "consumers"):
            raise ConfigError(f"mailbox {mailbox}: a service principal needs oauth2_tenant (the tenant's id or "
                              "domain), not a multi-tenant alias")
        if self.flow == "device" and token_dir is None:
            raise ConfigError(f"mailbox {mailbox}: no directory to keep the sign-in in")
        self.authority_url = f"{authority.rstrip('/')}/{tenant or 'organizations'}"
        self.scopes = tuple(scopes) if scopes else (PERSON_SCOPES if self.flow == "device" else APP_SCOPES)
        self.tokens = TokenFile(token_dir, mailbox) if token_dir is not None else None
        self.ca_file = ca_file
        self.timeout = timeout
        self._app_for_client: msal.ConfidentialClientApplication | None = None

    # ------------------------------------------------------------ msal

    def _where(self) -> str:
        return f"mailbox {self.mailbox}: Microsoft sign-in at {self.authority_url}"

    def _application(self, cache: msal.TokenCache | None = None):
        try:
            if self.flow == "client_credentials":
                return msal.ConfidentialClientApplication(
                    self.client_id, client_credential=self.client_secret, authority=self.authority_url,
                    token_cache=cache, http_client=transport.Session(self.ca_file, self.timeout),
                    instance_discovery=False)
            return msal.PublicClientApplication(
                self.client_id, authority=self.authority_url, token_cache=cache,
                http_client=transport.Session(self.ca_file, self.timeout), instance_discovery=False)
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"{self._where()}: unreachable: {transport.network_reason(exc)}") from None
        except ValueError as exc:  # the authority's discovery document is missing or not JSON
            raise ServiceUnavailable(f"{self._where()}: {first_line(exc)}") from None

    def _result(self, result: dict | None, *, person: bool) -> AccessToken:
        if result and "access_token" in result:
            return AccessToken(result["access_token"], self.clock() + float(result.get("expires_in", 0)))
        error = (result or {}).get("error", "no_account")
        said = first_line((result or {}).get("error_description", "")) or error
        if person and error in _GRANT_GONE:
            raise LoginRequired(self.mailbox, f"the Microsoft sign-in has expired or was revoked ({said})")
        raise ServiceUnavailable(f"{self._where()}: refused: {said}")

    # ------------------------------------------------------------ tokens

    def _fetch(self, *, force: bool) -> AccessToken:
        try:
            if self.flow == "client_credentials":
                if self._app_for_client is None or force:  # msal keeps the app's token: a new app renews it
                    self._app_for_client = self._application()
                return self._result(self._app_for_client.acquire_token_for_client(list(self.scopes)), person=False)
            return self._renew_person(force)
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"{self._where()}: unreachable: {transport.network_reason(exc)}") from None

    def _renew_person(self, force: bool) -> AccessToken:
        with self.tokens.locked():
            stored = self._stored_grant()
            cache = msal.SerializableTokenCache()
            try:
                cache.deserialize(stored["msal_cache"])
            except (ValueError, TypeError, AttributeError):
                raise LoginRequired(self.mailbox, "the stored Microsoft sign-in is damaged") from None
            app = self._application(cache)
            accounts = app.get_accounts()
            account = next((a for a in accounts if a.get("home_account_id") == stored.get("home_account_id")),
                           accounts[0] if accounts else None)
            if account is None:
                raise LoginRequired(self.mailbox, "the stored Microsoft sign-in holds no account")
            result = app.acquire_token_silent_with_error(list(self.scopes), account, force_refresh=force)
            token = self._result(result, person=True)
            if result.get("token_source") == "cache" and self._due(token):  # msal kept it, our margin says renew
                token = self._result(app.acquire_token_silent_with_error(list(self.scopes), account,
                                                                         force_refresh=True), person=True)
            if cache.has_state_changed:
                self._save(cache, account, token)
            return token

    def _save(self, cache: msal.SerializableTokenCache, account: dict, token: AccessToken) -> None:
        self.tokens.write({"provider": self.provider, "flow": self.flow, "msal_cache": cache.serialize(),
                           "home_account_id": account.get("home_account_id"),
                           "account": account.get("username"), "expires_at": token.expires_at,
                           "saved_at": time.time()})

    def login(self, show: ShowFn, *, timeout: float = 900) -> str:
        if self.flow != "device":
            return super().login(show, timeout=timeout)
        try:
            cache = msal.SerializableTokenCache()
            app = self._application(cache)
            flow = app.initiate_device_flow(scopes=list(self.scopes))
            if "user_code" not in flow:
                said = first_line(flow.get("error_description", "")) or flow.get("error", "no user code")
                raise ServiceUnavailable(f"{self._where()}: the device sign-in could not start: {said}")
            show(flow["message"])
            flow["expires_at"] = min(flow.get("expires_at", time.time() + timeout), time.time() + timeout)
            result = app.acquire_token_by_device_flow(flow)
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"{self._where()}: unreachable: {transport.network_reason(exc)}") from None
        if not result or "access_token" not in result:
            error = (result or {}).get("error", "")
            said = first_line((result or {}).get("error_description", "")) or error or "no answer"
            if error in ("expired_token", "authorization_pending"):
                said = "the code expired before the sign-in was completed"
            raise ServiceUnavailable(f"{self._where()}: sign-in failed: {said}")
        claims = result.get("id_token_claims") or {}
        accounts = app.get_accounts()
        account = next((a for a in accounts if a.get("local_account_id") == claims.get("oid")),
                       accounts[0] if accounts else {"username": claims.get("preferred_username")})
        token = AccessToken(result["access_token"], self.clock() + float(result.get("expires_in", 0)))
        with self.tokens.locked():
            self._save(cache, account, token)
        with self._lock:
            self._cached = token
        return account.get("username") or claims.get("preferred_username") or ""
