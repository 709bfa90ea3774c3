"""Google Workspace and Gmail through google-auth.

- A person (`flow = "browser"`, an OAuth client of type "Desktop app"): `helpdesk mail login MAILBOX`
  shows a Google sign-in address; the browser that opens it comes back to a listener on this machine's
  loopback (http://127.0.0.1:PORT/, PKCE-protected). On a server without a browser, open an SSH tunnel to
  that port (`oauth2_redirect_port` fixes it) or sign in on the server's desktop. Google's device flow is
  not offered: Google does not grant the mail scope to it. The grant (with the refresh token) is kept in
  the token file and renewed silently from then on.
- A service account (`flow = "service_account"`, when a key file is configured) with domain-wide
  delegation for https://mail.google.com/, acting as the mailbox's address. No person, no token file.

`auth_uri` and `token_uri` are configurable (the tests point them at a stand-in on loopback); a service
account's token endpoint is the `token_uri` of its key file. `ca_file` is the CA bundle to trust for them.
"""

from __future__ import annotations

import calendar
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import google.auth.exceptions
import google.auth.transport.requests
import google.oauth2.credentials
import google.oauth2.service_account
import requests
from google_auth_oauthlib.flow import Flow

from helpdesk.core.errors import ConfigError, ServiceUnavailable
from helpdesk.mail.oauth2 import transport
from helpdesk.mail.oauth2.base import (HTTP_TIMEOUT, AccessToken, LoginRequired, ShowFn, TokenFile, TokenProvider,
                                       first_line)

AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
TOKEN_URI = "https://oauth2.googleapis.com/token"
SCOPES = ("https://mail.google.com/",)  # the one scope Gmail's IMAP and SMTP accept


class GoogleProvider(TokenProvider):
    provider = "google"
    title = "Google"
    grant_key = "authorized_user"

    def __init__(self, *, mailbox: str, user: str, client_id: str | None = None, client_secret: str | None = None,
                 service_account_file: str | Path | None = None, token_dir: str | Path | None = None,
                 auth_uri: str = AUTH_URI, token_uri: str = TOKEN_URI, scopes: tuple[str, ...] | None = None,
                 ca_file: str | Path | None = None, redirect_port: int = 0, timeout: float = HTTP_TIMEOUT,
                 **kwargs):
        super().__init__(mailbox=mailbox, user=user, **kwargs)
        self.flow = "service_account" if service_account_file else "browser"
        self.needs_login = self.flow == "browser"
        if self.flow == "browser":
            if not client_id or not client_secret:
                raise ConfigError(f"mailbox {mailbox}: Google needs oauth2_client_id and oauth2_client_secret "
                                  "(a Desktop app client) or oauth2_service_account_file")
            if token_dir is None:
                raise ConfigError(f"mailbox {mailbox}: no directory to keep the sign-in in")
        self.client_id = client_id
        self.client_secret = client_secret
        self.service_account_file = Path(service_account_file) if service_account_file else None
        self.auth_uri = auth_uri
        self.token_uri = token_uri
        self.scopes = tuple(scopes) if scopes else SCOPES
        self.ca_file = ca_file
        self.redirect_port = redirect_port
        self.timeout = timeout
        self.tokens = TokenFile(token_dir, mailbox) if token_dir is not None else None
        self._service_credentials = None

    def _where(self) -> str:
        return f"mailbox {self.mailbox}: Google sign-in"

    def _request(self) -> google.auth.transport.requests.Request:
        return google.auth.transport.requests.Request(transport.Session(self.ca_file, self.timeout))

    @staticmethod
    def _token(credentials) -> AccessToken:
        expiry = credentials.expiry  # naive UTC
        return AccessToken(credentials.token, calendar.timegm(expiry.utctimetuple()) if expiry else None)

    def _refresh(self, credentials, *, person: bool) -> None:
        try:
            credentials.refresh(self._request())
        except google.auth.exceptions.RefreshError as exc:
            details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
            error = details.get("error", "")
            said = first_line(details.get("error_description") or (exc.args[0] if exc.args else exc))
            if person and error == "invalid_grant":
                raise LoginRequired(self.mailbox, f"the Google sign-in has expired or was revoked ({said})") from None
            raise ServiceUnavailable(f"{self._where()}: refused: {said}") from None
        except google.auth.exceptions.TransportError as exc:
            raise ServiceUnavailable(f"{self._where()}: {self.token_uri} unreachable: "
                                     f"{transport.network_reason(exc)}") from None

    # ------------------------------------------------------------ tokens

    def _fetch(self, *, force: bool) -> AccessToken:
        if self.flow == "service_account":
            return self._fetch_service_account()
        with self.tokens.locked():
            stored = self._stored_grant()
            try:
                stored_credentials = google.oauth2.credentials.Credentials.from_authorized_user_info(
                    stored["authorized_user"])
            except (ValueError, TypeError, AttributeError):
                raise LoginRequired(self.mailbox, "the stored Google sign-in is incomplete") from None
            # from_authorized_user_info always sets Google's token URI: ours is the configured one (the copy
            # that changes it forgets the expiry).
            credentials = stored_credentials.with_token_uri(self.token_uri)
            credentials.expiry = stored_credentials.expiry
            token = self._token(credentials) if credentials.token else None
            if force or token is None or self._due(token):
                self._refresh(credentials, person=True)
                token = self._token(credentials)
                self._save(credentials, stored.get("account"))
            return token

    def _fetch_service_account(self) -> AccessToken:
        if self._service_credentials is None:
            try:
                self._service_credentials = google.oauth2.service_account.Credentials.from_service_account_file(
                    str(self.service_account_file), scopes=list(self.scopes), subject=self.user)
            except FileNotFoundError:
                raise ConfigError(f"mailbox {self.mailbox}: oauth2_service_account_file "
                                  f"{str(self.service_account_file)!r}: no such file") from None
            except (ValueError, KeyError, OSError):
                raise ConfigError(f"mailbox {self.mailbox}: oauth2_service_account_file "
                                  f"{str(self.service_account_file)!r} is not a service account key (JSON)") from None
        self._refresh(self._service_credentials, person=False)
        return self._token(self._service_credentials)

    def _save(self, credentials, account: str | None) -> None:
        self.tokens.write({"provider": self.provider, "flow": self.flow, "account": account,
                           "authorized_user": json.loads(credentials.to_json()),
                           "expires_at": self._token(credentials).expires_at, "saved_at": time.time()})

    # ------------------------------------------------------------ a person signs in

    def login(self, show: ShowFn, *, timeout: float = 900) -> str:
        if self.flow != "browser":
            return super().login(show, timeout=timeout)
        receiver = _RedirectReceiver(self.redirect_port)
        try:
            flow = Flow.from_client_config(
                {"installed": {"client_id": self.client_id, "client_secret": self.client_secret,
                               "auth_uri": self.auth_uri, "token_uri": self.token_uri,
                               "redirect_uris": [receiver.uri]}},
                scopes=list(self.scopes), redirect_uri=receiver.uri)
            # prompt=consent: Google sends a refresh token only when the person consents anew.
            url, state = flow.authorization_url(prompt="consent", login_hint=self.user)
            show(f"To sign in to Google for mailbox {self.mailbox} ({self.user}), open this address in a "
                 f"browser on this machine (or through an SSH tunnel to port {receiver.port}):\n{url}")
            answer = receiver.wait(timeout)
        finally:
            receiver.close()
        if answer is None:
            raise ServiceUnavailable(f"{self._where()}: no answer from the browser within {timeout:g} s")
        if answer.get("state") != state:
            raise ServiceUnavailable(f"{self._where()}: the browser's answer does not belong to this sign-in")
        if "error" in answer:
            raise ServiceUnavailable(f"{self._where()}: sign-in failed: {first_line(answer['error'])}")
        try:
            flow.fetch_token(code=answer.get("code", ""), timeout=self.timeout,
                             verify=str(self.ca_file) if self.ca_file else None)
        except Exception as exc:  # requests-oauthlib raises oauthlib's errors and requests' alike
            if isinstance(exc, requests.RequestException):
                reason = transport.network_reason(exc)
            else:
                reason = first_line(getattr(exc, "description", "") or exc)
            raise ServiceUnavailable(f"{self._where()}: the code could not be exchanged: {reason}") from None
        credentials = flow.credentials
        if not credentials.refresh_token:
            raise ServiceUnavailable(f"{self._where()}: Google sent no refresh token; remove the app's access "
                                     "in the Google account settings and sign in again")
        with self.tokens.locked():
            self._save(credentials, self.user)
        with self._lock:
            self._cached = self._token(credentials)
        return self.user


class _RedirectReceiver:
    """A one-shot listener on loopback for the browser's redirect with the authorization code."""

    def __init__(self, port: int = 0):
        receiver = self
        self.answer: dict | None = None
        self.done = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                if "code" not in query and "error" not in query:
                    self.send_error(404)
                    return
                if not receiver.done.is_set():
                    receiver.answer = {key: values[0] for key, values in query.items()}
                    receiver.done.set()
                ok = "code" in query
                body = (b"Signed in: helpdesk has the grant. You can close this window.\n" if ok
                        else b"The sign-in was not completed. Run `helpdesk mail login` again.\n")
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format, *args):  # the query holds the authorization code: never logged
                pass

        try:
            self.server = HTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise ServiceUnavailable(f"cannot listen on 127.0.0.1:{port} for the browser's answer: "
                                     f"{exc.strerror or exc}") from None
        self.port = self.server.server_address[1]
        self.uri = f"http://127.0.0.1:{self.port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.2},
                                       name="oauth2-redirect", daemon=True)
        self.thread.start()

    def wait(self, timeout: float) -> dict | None:
        return self.answer if self.done.wait(timeout) else None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
