"""What every OAuth2 token provider shares: the access token it hands out, the in-memory cache renewed
a margin before expiry, the errors, and the token file a person's grant is kept in.

Secrets never leave through text: `AccessToken`'s repr hides the token, no message names it, nothing
here logs it. The token file holds the refresh token, 0600 inside a 0700 directory, replaced atomically
and written under a lock (the daemon and a `mail fetch` may renew the same grant at once).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import secrets
import threading
import time
from pathlib import Path
from typing import Callable, NamedTuple

from helpdesk.core.errors import ServiceUnavailable
from helpdesk.core.locations import FILE_MODE, create_private_file, make_private_dirs

# Renew this long before the access token expires: longer than one fetch or send takes, so a token
# handed out is never refused mid-connection (msal uses the same five minutes).
REFRESH_MARGIN = 300.0
# How long a token endpoint may take to answer.
HTTP_TIMEOUT = 30.0

ShowFn = Callable[[str], None]


class AccessToken(NamedTuple):
    """An access token and when it expires (epoch seconds; None when unknown: a token command's)."""

    token: str
    expires_at: float | None

    def __repr__(self) -> str:
        return f"AccessToken(token=<hidden>, expires_at={self.expires_at!r})"

    __str__ = __repr__


class LoginRequired(ServiceUnavailable):
    """The person's grant is missing, expired or revoked: only `helpdesk mail login MAILBOX` mends it.
    Exit 3 like any unreachable service; the daemon carries on with its other mailboxes."""

    def __init__(self, mailbox: str, reason: str):
        self.mailbox = mailbox
        super().__init__(f"mailbox {mailbox}: {reason}: run `helpdesk mail login {mailbox}` again")


def first_line(text: object, limit: int = 300) -> str:
    """One line of a server's or a program's words for an error message, bounded."""
    lines = [line.strip() for line in str(text or "").splitlines() if line.strip()]
    line = lines[0] if lines else ""
    return line if len(line) <= limit else line[:limit] + "…"


class TokenProvider:
    """Hands out access tokens for one mailbox's XOAUTH2 login.

    `access_token()` returns the cached token while it has more than `margin` seconds left, else gets a
    new one (`_fetch`). Thread-safe: one fetch at a time per provider."""

    provider = ""  # "microsoft", "google", "command"
    flow = ""  # how it signs in: "device", "browser", "client_credentials", "service_account", "command"
    needs_login = False  # a person must run `helpdesk mail login` once before it works
    title = ""  # the provider's name for people: "Microsoft", "Google"
    grant_key = ""  # what a stored person's grant holds under this key in the token file
    tokens: TokenFile | None = None  # where a person's grant is kept

    def __init__(self, *, mailbox: str, user: str, margin: float = REFRESH_MARGIN,
                 clock: Callable[[], float] = time.time):
        self.mailbox = mailbox
        self.user = user  # the address XOAUTH2 logs in as
        self.margin = margin
        self.clock = clock
        self._cached: AccessToken | None = None
        self._stale = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.provider}/{self.flow} mailbox={self.mailbox!r}>"

    def access_token(self) -> AccessToken:
        with self._lock:
            if self._cached is None or self._due(self._cached):
                self._cached = self._fetch(force=self._stale)
                self._stale = False
            return self._cached

    def invalidate(self) -> None:
        """A server refused the token: forget it, and renew it at the token endpoint next time even if
        a stored copy looks valid (it was revoked before it expired)."""
        with self._lock:
            self._cached = None
            self._stale = True

    def _due(self, token: AccessToken) -> bool:
        return token.expires_at is None or token.expires_at - self.margin <= self.clock()

    def _fetch(self, *, force: bool) -> AccessToken:
        """A token with more than `margin` left: a stored one, or (always, with `force`) a renewed one."""
        raise NotImplementedError

    def login(self, show: ShowFn, *, timeout: float = 900) -> str:
        """Sign in once: a person follows what `show` tells them (a URL and a code). Flows without a
        person just get a token, proving the settings work. Returns the account signed in."""
        self.invalidate()
        self.access_token()
        return self.user

    def status(self) -> dict:
        """How this mailbox authenticates, for `mail status`; reads no network. For a person's grant:
        whether one is stored, for which account, and when its access token expires."""
        cached = self._cached
        state = {"auth": "oauth2", "provider": self.provider, "flow": self.flow, "user": self.user,
                 "logged_in": True, "account": None, "expires_at": cached.expires_at if cached else None}
        if self.needs_login and self.tokens is not None:
            stored = self.tokens.read() or {}
            signed_in = self._holds_grant(stored)
            state.update(logged_in=signed_in, account=stored.get("account") if signed_in else None,
                         expires_at=state["expires_at"] or (stored.get("expires_at") if signed_in else None))
        return state

    def _holds_grant(self, stored: dict | None) -> bool:
        return bool(stored) and stored.get("provider") == self.provider and bool(stored.get(self.grant_key))

    def _stored_grant(self) -> dict:
        """The person's stored grant (call it holding `self.tokens.locked()`); LoginRequired if there is none."""
        stored = self.tokens.read()
        if not self._holds_grant(stored):
            raise LoginRequired(self.mailbox, f"not signed in to {self.title} yet")
        return stored


# ---------------------------------------------------------------- the token file


_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class TokenFile:
    """One mailbox's stored grant: JSON in `directory`, 0600, atomically replaced.

    The file name is derived from the mailbox name but always safe (a name with `/` or `..` cannot
    leave the directory); a short hash keeps two names that look alike apart."""

    def __init__(self, directory: str | Path, mailbox: str):
        self.directory = Path(directory)
        digest = hashlib.sha256(mailbox.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        slug = _UNSAFE_NAME.sub("_", mailbox)[:60].lstrip(".") or "mailbox"
        self.path = self.directory / f"oauth2-{slug}-{digest}.json"

    def read(self) -> dict | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None  # a damaged file is no grant: the person logs in again
        return data if isinstance(data, dict) else None

    def write(self, data: dict) -> None:
        make_private_dirs(self.directory)
        temporary = self.directory / f".{self.path.name}.{secrets.token_hex(6)}.tmp"
        create_private_file(temporary, json.dumps(data, sort_keys=True).encode("utf-8"))
        try:
            os.replace(temporary, self.path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        os.chmod(self.path, FILE_MODE)

    def remove(self) -> bool:
        try:
            self.path.unlink()
            return True
        except FileNotFoundError:
            return False

    @contextlib.contextmanager
    def locked(self):
        """Exclusive across processes while a grant is read, renewed and written back."""
        make_private_dirs(self.directory)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self
        finally:
            os.close(fd)  # closing releases the lock
