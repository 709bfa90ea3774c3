"""HTTP to the token endpoints (msal and google-auth both speak it through requests)."""

from __future__ import annotations

from pathlib import Path

import requests

from helpdesk.mail.oauth2.base import HTTP_TIMEOUT, first_line


class Session(requests.Session):
    """A requests session with a timeout on every request that verifies the endpoint against `ca_file`
    when one is given (else the default store). Per request, because requests lets REQUESTS_CA_BUNDLE
    override a session's `verify` (psf/requests#3829): a configured CA must win over the environment."""

    def __init__(self, ca_file: str | Path | None = None, timeout: float = HTTP_TIMEOUT):
        super().__init__()
        self.ca_file = str(ca_file) if ca_file else None
        self.timeout = timeout

    def request(self, method, url, **kwargs):
        if self.ca_file and kwargs.get("verify") in (None, True):
            kwargs["verify"] = self.ca_file
        # Ours, or shorter: google-auth asks for two minutes.
        timeout = kwargs.get("timeout")
        kwargs["timeout"] = self.timeout if not isinstance(timeout, (int, float)) else min(timeout, self.timeout)
        return super().request(method, url, **kwargs)


def network_reason(exc: BaseException) -> str:
    """Why a token endpoint could not be reached, in one line without the request's secrets."""
    cause = exc
    while not isinstance(cause, requests.RequestException) and cause.__cause__ is not None:
        cause = cause.__cause__  # google-auth wraps requests' errors in its TransportError
    if isinstance(cause, requests.exceptions.SSLError):
        return "TLS verification failed (set oauth2_ca_file if it uses a private CA)"
    if isinstance(cause, requests.Timeout):
        return "no answer in time"
    if isinstance(cause, requests.ConnectionError):
        return "cannot connect"
    return first_line(exc) or exc.__class__.__name__
