"""Test servers for mail authentication, all on loopback: a test CA (made here, with `cryptography`),
Dovecots of their own with TLS, OAuth2 (the `oauth2` passdb) or without IDLE, a stand-in OAuth2
authorization server (token, device-code, authorize and OIDC discovery endpoints over HTTPS, token
introspection over HTTP for Dovecot) and an SMTP server that takes XOAUTH2.

The Dovecots here are started by `mailservers.start_dovecot` with configuration appended, on ports of
their own, so the shared test server of the other mail tests is never disturbed.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from mailservers import DOVECOT, USER, Dovecot, free_port, start_dovecot

# ---------------------------------------------------------------- a test CA


@dataclass
class Issued:
    cert: Path
    key: Path


class TestCA:
    """A certificate authority made for one test session, under `root`; it issues server and client
    certificates (PEM files, unencrypted keys)."""

    __test__ = False  # not a pytest test class

    def __init__(self, root: Path, name: str = "Helpdesk Test CA"):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(self._name).issuer_name(self._name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        self.cert_file = root / "ca.pem"
        self.cert_file.write_bytes(self._cert.public_bytes(_pem()))

    def issue(self, name: str, *, hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), client: bool = False,
              expired: bool = False) -> Issued:
        """A certificate for `hosts` (DNS names and IP addresses), for a server or a client."""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        if expired:
            start, end = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
        else:
            start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)
        names = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0] if hosts else name)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH if client
                                                  else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                           critical=False)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        issued = Issued(self.root / f"{name}.pem", self.root / f"{name}.key")
        issued.cert.write_bytes(cert.public_bytes(_pem()))
        issued.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                 serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        return issued


def _pem():
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.PEM


# ---------------------------------------------------------------- Dovecots of their own


def private_root(label: str) -> Path:
    """A fresh folder for a Dovecot: under /tmp (pytest's folders are 0700, the mail user could not
    enter them, and Dovecot's socket paths must stay short)."""
    root = Path("/tmp") / f"helpdesk-dovecot-{os.getpid()}-{label}"
    shutil.rmtree(root, ignore_errors=True)
    return root


def tls_conf(server: Issued, imaps_port: int) -> str:
    """Configuration appended to the test Dovecot's: TLS with the test CA's certificate, IMAPS on
    `imaps_port`, STARTTLS on the plain port (plain-text logins stay allowed on loopback)."""
    os.chmod(server.key, 0o600)
    conf = f"""
ssl = yes
ssl_cert = <{server.cert}
ssl_key = <{server.key}
ssl_min_protocol = TLSv1.2
service imap-login {{
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
}}
"""
    return conf


def start_tls_dovecot(label: str, server_cert: Issued) -> tuple[Dovecot, int]:
    """A Dovecot with TLS: (server, imaps_port); its `port` speaks STARTTLS."""
    imaps_port = free_port()
    server = start_dovecot(private_root(label), tls_conf(server_cert, imaps_port))
    return server, imaps_port


def _master_pid(server: Dovecot) -> int | None:
    try:
        return int((server.root / "run" / "master.pid").read_text().split()[0])
    except (OSError, ValueError):
        return None


def imap_pids(server: Dovecot) -> list[int]:
    """The pids of the server's imap processes (one per logged-in connection): children of its master."""
    master = _master_pid(server)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after its closing parenthesis.
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        if ppid == master and comm == "imap":
            found.append(int(entry.name))
    return found


def kill_imap(server: Dovecot) -> list[int]:
    """SIGKILL the server's imap processes: their connections end with no BYE, as in a crash."""
    pids = imap_pids(server)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return pids


def kick(server: Dovecot, user: str = USER) -> None:
    """Disconnect every IMAP connection of `user`, as an administrator (or a failover) does."""
    subprocess.run(["doveadm", "-c", str(server.root / "dovecot.conf"), "kick", user], check=True,
                   stdin=subprocess.DEVNULL, capture_output=True)


def stop_hard(server: Dovecot, timeout: float = 10) -> None:
    """Stop the whole server, connections included (its master alone would let them linger)."""
    master = _master_pid(server)
    kill_imap(server)
    server.stop()
    deadline = time.time() + timeout
    while master and time.time() < deadline:
        try:
            os.kill(master, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)


def restart_dovecot(server: Dovecot, timeout: float = 15) -> None:
    """Start a stopped Dovecot again with the same configuration (so on the same ports)."""
    subprocess.run([DOVECOT, "-c", str(server.root / "dovecot.conf")], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    while True:
        try:
            server.client().logout()
            return
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


# ---------------------------------------------------------------- a stand-in OAuth2 authorization server


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unsigned_jwt(claims: dict) -> str:
    """An ID token as msal reads it (it decodes the claims and checks none of the signature)."""
    return ".".join([_b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode()),
                     _b64url(json.dumps(claims).encode()), ""])


@dataclass
class Token:
    user: str
    client_id: str
    expires_at: float
    revoked: bool = False


@dataclass
class Grant:
    """A refresh token's grant."""

    user: str
    client_id: str
    scope: str
    revoked: bool = False


class OAuthError(Exception):
    def __init__(self, error: str, description: str = "", status: int = 400):
        super().__init__(error)
        self.error, self.description, self.status = error, description, status


class OAuthStandIn:
    """An OAuth2 authorization server on loopback, speaking what msal, google-auth and Dovecot need:

    - HTTPS (`authority`, `google_auth_uri`, `google_token_uri`), with a certificate of the test CA:
      OIDC discovery (/TENANT/v2.0/.well-known/openid-configuration), the device-code endpoint, the
      token endpoint (device code, refresh token, client credentials, authorization code with PKCE,
      JWT bearer of a service account, signature checked) and an authorize endpoint that stands in for
      the person in the browser: it approves at once as `browser_user` and redirects back.
    - HTTP (`introspection_url`): RFC 7662 token introspection, as Dovecot's oauth2 passdb posts it.

    Tests play the person with `approve(user_code)`, revoke grants with `revoke(user)`, and read what
    was asked in `requests` (endpoint, grant type) and `introspected` (how many introspections)."""

    tenant = "tenant-1"

    def __init__(self, server_cert: Issued, *, lifetime: float = 3600):
        import ssl

        self.lifetime = lifetime
        self.lock = threading.Lock()
        self.public_clients: set[str] = set()
        self.secrets: dict[str, str] = {}  # confidential client id -> secret
        self.app_users: dict[str, str] = {}  # service principal -> the mailbox it may use
        self.service_accounts: dict[str, object] = {}  # service account email -> public key
        self.tokens: dict[str, Token] = {}
        self.grants: dict[str, Grant] = {}
        self.devices: dict[str, dict] = {}
        self.codes: dict[str, dict] = {}
        self.browser_user = USER
        self.browser_declines = False
        self.requests: list[tuple[str, str]] = []
        self.introspected = 0

        handler = self._handler()
        self._https = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(server_cert.cert), str(server_cert.key))
        self._https.socket = context.wrap_socket(self._https.socket, server_side=True)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"https://127.0.0.1:{self._https.server_address[1]}"
        self.authority = self.base  # msal: authority=self.authority, tenant=self.tenant
        self.google_auth_uri = f"{self.base}/google/authorize"
        self.google_token_uri = f"{self.base}/google/token"
        self.introspection_url = f"http://127.0.0.1:{self._http.server_address[1]}/introspect"
        self._threads = [threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
                         for s in (self._https, self._http)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        for server in (self._https, self._http):
            server.shutdown()
            server.server_close()

    # ------------------------------------------------------------ what tests do

    def add_public_client(self, client_id: str) -> None:
        self.public_clients.add(client_id)

    def add_confidential_client(self, client_id: str, secret: str, *, mailbox_user: str = USER) -> None:
        self.secrets[client_id] = secret
        self.app_users[client_id] = mailbox_user

    def add_service_account(self, email: str, private_key_path: Path | None = None) -> dict:
        """Register a service account; returns its key file's content (pointing at this token URI)."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.service_accounts[email] = key.public_key()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        return {"type": "service_account", "project_id": "helpdesk-test", "private_key_id": "k1",
                "private_key": pem, "client_email": email, "client_id": "1234567890",
                "token_uri": self.google_token_uri}

    def approve(self, user_code: str, user: str = USER) -> None:
        """The person signs in on the device page and enters `user_code`."""
        with self.lock:
            for device in self.devices.values():
                if device["user_code"] == user_code:
                    device["user"] = user
                    return
        raise KeyError(user_code)

    def decline(self, user_code: str) -> None:
        with self.lock:
            for device in self.devices.values():
                if device["user_code"] == user_code:
                    device["declined"] = True

    def revoke(self, user: str = USER) -> None:
        """Revoke every grant and token of `user` (a password reset, an administrator's revocation)."""
        with self.lock:
            for grant in self.grants.values():
                if grant.user == user:
                    grant.revoked = True
            for token in self.tokens.values():
                if token.user == user:
                    token.revoked = True

    def revoke_access_tokens(self, user: str = USER) -> None:
        """Revoke the access tokens only: the grant still renews them."""
        with self.lock:
            for token in self.tokens.values():
                if token.user == user:
                    token.revoked = True

    def count(self, grant_type: str) -> int:
        return sum(1 for _endpoint, kind in self.requests if kind == grant_type)

    def valid_user(self, access_token: str) -> str | None:
        """The user an access token is for, if it is live."""
        with self.lock:
            token = self.tokens.get(access_token)
            if token is None or token.revoked or token.expires_at <= time.time():
                return None
            return token.user

    # ------------------------------------------------------------ the endpoints

    def _issue(self, user: str, client_id: str, scope: str, *, refresh: bool, oidc: bool = False) -> dict:
        access = secrets.token_urlsafe(32)
        answer = {"token_type": "Bearer", "access_token": access, "expires_in": int(self.lifetime),
                  "scope": scope}
        with self.lock:
            self.tokens[access] = Token(user, client_id, time.time() + self.lifetime)
            if refresh:
                answer["refresh_token"] = refresh_token = secrets.token_urlsafe(32)
                self.grants[refresh_token] = Grant(user, client_id, scope)
        if oidc:  # what Entra ID adds for a person: who signed in, for msal's account
            oid = hashlib.sha256(user.encode()).hexdigest()[:32]
            now = int(time.time())
            answer["id_token"] = _unsigned_jwt({
                "iss": f"{self.base}/{self.tenant}/v2.0", "aud": client_id, "sub": oid, "oid": oid,
                "tid": self.tenant, "iat": now, "nbf": now, "exp": now + 3600,
                "preferred_username": user, "name": user})
            answer["client_info"] = _b64url(json.dumps({"uid": oid, "utid": self.tenant}).encode())
        return answer

    def _client(self, form: dict, headers) -> tuple[str, str | None]:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client_id, secret = urllib.parse.unquote_plus(client_id), urllib.parse.unquote_plus(secret)
        if not client_id:
            raise OAuthError("invalid_client", "no client_id", 401)
        if client_id in self.secrets:
            if secret != self.secrets[client_id]:
                raise OAuthError("invalid_client", "AADSTS7000215: Invalid client secret provided.", 401)
        elif client_id not in self.public_clients:
            raise OAuthError("unauthorized_client", f"AADSTS700016: Application {client_id} not found", 400)
        return client_id, secret

    def _token(self, form: dict, headers) -> dict:
        grant_type = form.get("grant_type", "")
        if grant_type.endswith("jwt-bearer"):
            return self._jwt_bearer(form)
        client_id, _secret = self._client(form, headers)
        if grant_type in ("device_code", "urn:ietf:params:oauth:grant-type:device_code"):
            with self.lock:
                device = self.devices.get(form.get("device_code", ""))
            if device is None or device["client_id"] != client_id:
                raise OAuthError("invalid_grant", "unknown device code")
            if device.get("declined"):
                raise OAuthError("authorization_declined", "the person declined")
            if time.time() > device["expires_at"]:
                raise OAuthError("expired_token", "the device code expired")
            if device["user"] is None:
                raise OAuthError("authorization_pending", "AADSTS70016: the person has not signed in yet")
            with self.lock:
                self.devices.pop(form["device_code"], None)
            return self._issue(device["user"], client_id, device["scope"], refresh=True, oidc=True)
        if grant_type == "refresh_token":
            with self.lock:
                grant = self.grants.get(form.get("refresh_token", ""))
            if grant is None or grant.revoked or grant.client_id != client_id:
                raise OAuthError("invalid_grant", "AADSTS50173: The provided grant has expired due to it being "
                                 "revoked, a fresh auth token is needed.")
            return self._issue(grant.user, client_id, grant.scope, refresh=True, oidc=client_id in self.public_clients)
        if grant_type == "client_credentials":
            if client_id not in self.secrets:
                raise OAuthError("unauthorized_client", "a public client has no client credentials")
            return self._issue(self.app_users[client_id], client_id, form.get("scope", ""), refresh=False)
        if grant_type == "authorization_code":
            with self.lock:
                code = self.codes.pop(form.get("code", ""), None)
            if code is None or code["client_id"] != client_id:
                raise OAuthError("invalid_grant", "Malformed auth code.")
            if form.get("redirect_uri") != code["redirect_uri"]:
                raise OAuthError("redirect_uri_mismatch", "Bad Request")
            verifier = form.get("code_verifier", "")
            if _b64url(hashlib.sha256(verifier.encode()).digest()) != code["challenge"]:
                raise OAuthError("invalid_grant", "Invalid code verifier.")
            return self._issue(code["user"], client_id, code["scope"], refresh=True)
        raise OAuthError("unsupported_grant_type", grant_type)

    def _jwt_bearer(self, form: dict) -> dict:
        import jwt

        assertion = form.get("assertion", "")
        try:
            issuer = jwt.decode(assertion, options={"verify_signature": False})["iss"]
            key = self.service_accounts[issuer]
            # google-auth addresses the assertion to Google's token endpoint whatever the key file says.
            claims = jwt.decode(assertion, key, algorithms=["RS256"], audience="https://oauth2.googleapis.com/token")
        except (KeyError, jwt.PyJWTError) as exc:
            raise OAuthError("invalid_grant", f"Invalid JWT Signature. ({exc.__class__.__name__})") from None
        user = claims.get("sub") or issuer
        return self._issue(user, issuer, claims.get("scope", ""), refresh=False)

    def _device_code(self, form: dict, headers) -> dict:
        client_id, _ = self._client(form, headers)
        user_code = secrets.token_hex(4).upper()
        device_code = secrets.token_urlsafe(24)
        with self.lock:
            self.devices[device_code] = {"user_code": user_code, "client_id": client_id, "user": None,
                                         "scope": form.get("scope", ""), "expires_at": time.time() + 900}
        page = f"{self.base}/devicelogin"
        return {"device_code": device_code, "user_code": user_code, "verification_uri": page,
                "expires_in": 900, "interval": 1,
                "message": f"To sign in, use a web browser to open the page {page} and enter the code "
                           f"{user_code} to authenticate."}

    def _authorize(self, query: dict) -> str:
        """The person in the browser: signs in as `browser_user` and is sent back with a code."""
        redirect = query["redirect_uri"]
        answer = {"state": query.get("state", "")}
        if self.browser_declines:
            answer["error"] = "access_denied"
        else:
            code = secrets.token_urlsafe(16)
            with self.lock:
                self.codes[code] = {"client_id": query.get("client_id"), "redirect_uri": redirect,
                                    "challenge": query.get("code_challenge", ""), "user": self.browser_user,
                                    "scope": query.get("scope", "")}
            answer["code"] = code
        return redirect + ("&" if "?" in redirect else "?") + urllib.parse.urlencode(answer)

    def _introspect(self, form: dict) -> dict:
        self.introspected += 1
        user = self.valid_user(form.get("token", ""))
        if user is None:
            return {"active": False}
        return {"active": True, "username": user, "scope": "imap"}

    def _discovery(self) -> dict:
        prefix = f"{self.base}/{self.tenant}"
        return {"issuer": f"{prefix}/v2.0", "authorization_endpoint": f"{prefix}/oauth2/v2.0/authorize",
                "token_endpoint": f"{prefix}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{prefix}/oauth2/v2.0/devicecode",
                "response_types_supported": ["code"], "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"]}

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, status: int, body: dict | None = None, location: str | None = None) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path, _, query = self.path.partition("?")
                standin.requests.append((path, "GET"))
                if path.endswith("/v2.0/.well-known/openid-configuration"):
                    self._answer(200, standin._discovery())
                elif path.endswith("/authorize"):
                    self._answer(302, location=standin._authorize(dict(urllib.parse.parse_qsl(query))))
                else:
                    self._answer(404, {"error": "not_found"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                path = self.path.partition("?")[0]
                standin.requests.append((path, form.get("grant_type", "")))
                try:
                    if path.endswith("/token"):
                        self._answer(200, standin._token(form, self.headers))
                    elif path.endswith("/devicecode"):
                        self._answer(200, standin._device_code(form, self.headers))
                    elif path.endswith("/introspect"):
                        self._answer(200, standin._introspect(form))
                    else:
                        self._answer(404, {"error": "not_found"})
                except OAuthError as exc:
                    self._answer(exc.status, {"error": exc.error, "error_description": exc.description})

            def log_message(self, format, *args):
                pass

        return Handler


# ---------------------------------------------------------------- Dovecot with the oauth2 passdb


def oauth2_conf(root: Path, introspection_url: str) -> str:
    """Configuration appended to the test Dovecot's: XOAUTH2 and OAUTHBEARER checked by posting the
    token to `introspection_url` (RFC 7662); plain logins still go to the passwd-file."""
    (root / "dovecot-oauth2.conf.ext").write_text(f"""
introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
""")
    # Refused tokens are the point of some tests: no failure delay, and no penalty slowing the address down
    # after failures (up to 15 s a login; a socket no process may open turns it off, as Dovecot documents).
    return f"""
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""


def start_oauth2_dovecot(label: str, introspection_url: str) -> Dovecot:
    root = private_root(label)
    root.mkdir(parents=True)
    return start_dovecot(root, oauth2_conf(root, introspection_url))


# ---------------------------------------------------------------- SMTP with XOAUTH2 and TLS


@dataclass
class AuthSmtp:
    """An aiosmtpd server that takes AUTH XOAUTH2 (checked against the stand-in's tokens) and keeps
    what it receives; optionally over TLS (implicit or STARTTLS)."""

    port: int
    messages: list = field(default_factory=list)
    logins: list = field(default_factory=list)  # users that authenticated
    controller: object = None

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


def start_auth_smtp(*, standin: OAuthStandIn | None = None, certificate: Issued | None = None,
                    implicit_tls: bool = False, client_ca: Path | None = None) -> AuthSmtp:
    """`client_ca`: the TLS handshake requires a client certificate signed by that CA."""
    import ssl

    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    server = AuthSmtp(port=free_port())

    class Handler:
        async def handle_DATA(self, smtp, session, envelope):
            server.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
            return "250 Message accepted"

        async def auth_XOAUTH2(self, smtp, args):
            if standin is None:
                return AuthResult(success=False, handled=False)
            if len(args) > 1:
                initial = args[1].encode()
            else:
                initial = await smtp.challenge_auth("", encode_to_b64=False)
            try:
                fields = dict(part.split("=", 1) for part in base64.b64decode(initial).decode().split("\x01")
                              if "=" in part)
            except ValueError:
                return AuthResult(success=False, handled=False)
            user = fields.get("user", "")
            token = fields.get("auth", "").removeprefix("Bearer ")
            if standin.valid_user(token) == user:
                server.logins.append(user)
                return AuthResult(success=True)
            # XOAUTH2: the error as a challenge, the client's empty answer, then the refusal.
            await smtp.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
            return AuthResult(success=False, handled=False, message="535 5.7.8 Username and Password not accepted")

    kwargs: dict = {"auth_require_tls": False}
    context = None
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(certificate.cert), str(certificate.key))
        if client_ca is not None:
            context.load_verify_locations(str(client_ca))
            context.verify_mode = ssl.CERT_REQUIRED
        if not implicit_tls:
            kwargs["tls_context"] = context
    controller = Controller(Handler(), hostname="127.0.0.1", port=server.port,
                            ssl_context=context if implicit_tls else None, **kwargs)
    controller.start()
    server.controller = controller
    return server
