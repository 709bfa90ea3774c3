"""TLS for the mail connections (IMAP and SMTP), on public and on private infrastructure.

- Verification is always on for `ssl` and `starttls`: the certificate must chain to a trusted CA and
  name the host. There is no switch to turn it off and no silent downgrade: a server that does not offer
  STARTTLS is refused, not talked to in plain text.
- Trust: the system's CA store by default; `ca_file` (a PEM bundle, e.g. the corporate CA) instead of it,
  as curl's `--cacert` does, so a mailbox on private infrastructure trusts exactly its own CA.
- An optional client certificate (`cert_file`, `key_file`) for servers that ask for one. An encrypted key
  is refused with a clear line instead of OpenSSL prompting on the terminal (the daemon has none).
- A failed handshake is one line naming the host and the reason (unknown CA, host name mismatch,
  expired), never a traceback.
"""

from __future__ import annotations

import smtplib
import ssl
from pathlib import Path

from helpdesk.core.errors import ConfigError, ServiceUnavailable

MODES = ("ssl", "starttls", "none")

# OpenSSL's X509_V_ERR_* codes, as carried by ssl.SSLCertVerificationError.verify_code.
_UNKNOWN_CA = {2, 18, 19, 20, 21}  # issuer unknown, self-signed (leaf or in chain), cannot verify leaf
_EXPIRED = 10
_NOT_YET_VALID = 9
_REVOKED = 23
_NAME_MISMATCH = {62, 64}  # host name, IP address


def client_context(*, ca_file: str | Path | None = None, cert_file: str | Path | None = None,
                   key_file: str | Path | None = None) -> ssl.SSLContext:
    """The SSLContext for a mail client: verification on (CA chain and host name), TLS 1.2 or newer;
    trusting `ca_file` if given, else the system store; presenting `cert_file`/`key_file` if given.
    A missing or unreadable file is a ConfigError naming it."""
    if key_file and not cert_file:
        raise ConfigError("a client key_file needs its cert_file")
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except FileNotFoundError:
        raise ConfigError(f"ca_file {str(ca_file)!r}: no such file") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"ca_file {str(ca_file)!r}: not a PEM CA bundle ({_reason(exc)})") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    if cert_file:
        try:
            # A callable password: an encrypted key fails here instead of OpenSSL prompting on a terminal.
            context.load_cert_chain(str(cert_file), str(key_file) if key_file else None, password=_no_password)
        except FileNotFoundError as exc:
            raise ConfigError(f"client certificate: {exc.filename or cert_file!s}: no such file") from None
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"client certificate {str(cert_file)!r}: cannot be used ({_reason(exc)}; "
                              "the key must be an unencrypted PEM matching the certificate)") from None
    return context


def _no_password() -> bytes:
    return b""


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).lower().replace("_", " ")
    return str(exc) or exc.__class__.__name__


def failure_reason(exc: ssl.SSLError, host: str) -> str:
    """Why a handshake with `host` failed, in words a person can act on."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code in _UNKNOWN_CA:
            return "its certificate is signed by an unknown CA (set ca_file to the CA bundle that signed it)"
        if code == _EXPIRED:
            return "its certificate has expired"
        if code == _NOT_YET_VALID:
            return "its certificate is not valid yet (or this machine's clock is wrong)"
        if code == _REVOKED:
            return "its certificate has been revoked"
        if code in _NAME_MISMATCH:
            return f"its certificate is not valid for the name {host!r} (connect by a name the certificate lists)"
        return f"its certificate was refused: {exc.verify_message or _reason(exc)}"
    reason = _reason(exc)
    if "wrong version number" in reason or "record layer failure" in reason:
        return "it does not speak TLS on this port (check the port and the tls setting)"
    if "certificate required" in reason:
        return "it requires a client certificate (set cert_file and key_file)"
    return reason


def failure(where: str, host: str, exc: ssl.SSLError) -> ServiceUnavailable:
    """The one-line error (exit 3) for a failed TLS handshake; `where` names the service and mailbox."""
    return ServiceUnavailable(f"{where}: TLS with {host} failed: {failure_reason(exc, host)}")


def _first_line(exc: BaseException) -> str:
    text = exc.decode(errors="replace") if isinstance(exc, bytes) else str(exc)
    text = text.strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ConfigError(f"tls = {mode!r}: must be one of {', '.join(MODES)}")


def _opened(where: str, host: str, connect, errors: tuple[type[BaseException], ...]):
    """`connect(keep)` opens a client and passes it to `keep` as soon as it exists; any failure closes it
    and becomes one ServiceUnavailable line: TLS failures with their reason, `errors` as "cannot connect"."""
    kept = []

    def keep(client):
        kept.append(client)
        return client

    try:
        return connect(keep)
    except BaseException as exc:
        for client in kept:
            try:
                client.shutdown() if hasattr(client, "shutdown") else client.close()
            except Exception:  # already broken: nothing left to close cleanly
                pass
        if isinstance(exc, ssl.SSLError):
            raise failure(where, host, exc) from None
        if isinstance(exc, errors) and not isinstance(exc, ServiceUnavailable):
            raise ServiceUnavailable(f"{where}: cannot connect: {_first_line(exc)}") from None
        raise


def open_imap(host: str, port: int, *, mode: str, context: ssl.SSLContext | None = None, timeout: float = 30,
              where: str | None = None):
    """An IMAPClient connected (not logged in) with `mode` ssl, starttls or none. `context` defaults to
    `client_context()`. Every failure is one ServiceUnavailable line starting with `where`."""
    # lazy: imapclient only when a mailbox is opened, not for every command that imports mail
    from imapclient import IMAPClient
    from imapclient.exceptions import IMAPClientError

    _check_mode(mode)
    where = where or f"IMAP {host}:{port}"
    if mode != "none" and context is None:
        context = client_context()

    def connect(keep):
        client = keep(IMAPClient(host, port=port, ssl=mode == "ssl", ssl_context=context if mode == "ssl" else None,
                                 timeout=timeout))
        if mode == "starttls":
            if not client.has_capability("STARTTLS"):
                raise ServiceUnavailable(f"{where}: the server does not offer STARTTLS; refusing to log in "
                                         "without TLS")
            client.starttls(context)
        return client

    return _opened(where, host, connect, (IMAPClientError, OSError))  # socket errors and timeouts are OSErrors


def open_smtp(host: str, port: int, *, mode: str, context: ssl.SSLContext | None = None, timeout: float = 30,
              where: str | None = None) -> smtplib.SMTP:
    """An smtplib client connected (not logged in) with `mode` ssl, starttls or none; after STARTTLS it has
    said EHLO again. Every failure is one ServiceUnavailable line starting with `where`."""
    _check_mode(mode)
    where = where or f"SMTP {host}:{port}"
    if mode != "none" and context is None:
        context = client_context()

    def connect(keep):
        if mode == "ssl":
            return keep(smtplib.SMTP_SSL(host, port, timeout=timeout, context=context))
        client = keep(smtplib.SMTP(host, port, timeout=timeout))
        if mode == "starttls":
            client.ehlo()
            if not client.has_extn("starttls"):
                raise ServiceUnavailable(f"{where}: the server does not offer STARTTLS; refusing to send "
                                         "without TLS")
            client.starttls(context=context)
            client.ehlo()
        return client

    return _opened(where, host, connect, (smtplib.SMTPException, OSError))
