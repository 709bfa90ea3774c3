"""OAuth2 for mailboxes, on loopback: msal and google-auth against a stand-in authorization server (OIDC
discovery, device code, authorization code with PKCE, refresh, client credentials, service account),
a token command, the token file, and XOAUTH2 logins to a real Dovecot (its oauth2 passdb asks the
stand-in's introspection endpoint) and to an SMTP server. The token never appears in output or logs."""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import shutil
import stat
import sys
import threading
import time

import pytest

from helpdesk.core.errors import ConfigError, ServiceUnavailable
from helpdesk.mail import tls
from helpdesk.mail.oauth2 import (AccessToken, LoginRequired, TokenFile, imap_login, make_provider, smtp_login,
                                  xoauth2_string)
from mailauth_servers import OAuthStandIn, TestCA, start_auth_smtp, start_oauth2_dovecot
from mailservers import PASSWORD, USER

PUBLIC_CLIENT = "desk-public-client"
APP_CLIENT, APP_SECRET = "desk-daemon", "app-secret-for-tests"
GOOGLE_CLIENT, GOOGLE_SECRET = "desk.apps.googleusercontent.example", "google-secret-for-tests"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def standin_server(ca):
    server = OAuthStandIn(ca.issue("oauth-server"))
    server.add_public_client(PUBLIC_CLIENT)
    server.add_confidential_client(APP_CLIENT, APP_SECRET)
    server.add_confidential_client(GOOGLE_CLIENT, GOOGLE_SECRET)
    yield server
    server.stop()


@pytest.fixture
def standin(standin_server):
    """The stand-in with its defaults back after each test."""
    yield standin_server
    standin_server.lifetime = 3600
    standin_server.browser_user = USER
    standin_server.browser_declines = False


@pytest.fixture(scope="module")
def oauth_dovecot(standin_server):
    server = start_oauth2_dovecot("oauth2", standin_server.introspection_url)
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def tokens(tmp_path):
    return tmp_path / "data" / "oauth2"


def microsoft(standin, ca, tokens, **kwargs):
    settings = dict(mailbox="support", user=USER, client_id=PUBLIC_CLIENT, tenant=standin.tenant,
                    authority=standin.authority, token_dir=tokens, ca_file=ca.cert_file)
    return make_provider("microsoft", **{**settings, **kwargs})


def google(standin, ca, tokens, **kwargs):
    settings = dict(mailbox="support", user=USER, client_id=GOOGLE_CLIENT, client_secret=GOOGLE_SECRET,
                    auth_uri=standin.google_auth_uri, token_uri=standin.google_token_uri, token_dir=tokens,
                    ca_file=ca.cert_file)
    return make_provider("google", **{**settings, **kwargs})


class Person:
    """Plays the person at the other end of a sign-in: reads what `show` tells them and acts on it."""

    def __init__(self, standin, ca, *, act=True):
        self.standin, self.ca, self.act = standin, ca, act
        self.shown: list[str] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, message: str) -> None:
        self.shown.append(message)
        if not self.act:
            return
        if (code := re.search(r"enter the code (\S+) ", message)) is not None:  # Microsoft's device page
            target, args = self.standin.approve, (code.group(1),)
        else:  # Google: open the address in a browser, which follows the redirect back to us
            import requests

            url = message.split()[-1]
            target, args = requests.get, (url,)
            kwargs = {"verify": str(self.ca.cert_file), "timeout": 10}
            thread = threading.Thread(target=lambda: target(*args, **kwargs))
            self.threads.append(thread)
            thread.start()
            return
        thread = threading.Timer(0.3, target, args)
        self.threads.append(thread)
        thread.start()

    def join(self):
        for thread in self.threads:
            thread.join(10)


def private(path) -> bool:
    return stat.S_IMODE(os.stat(path).st_mode) == 0o600


# ---------------------------------------------------------------- Microsoft (msal)


def test_microsoft_device_sign_in_is_kept_and_reused(standin, ca, tokens, capsys, caplog):
    caplog.set_level(logging.DEBUG)  # msal, requests and urllib3 log at DEBUG: none of it may hold a token
    provider = microsoft(standin, ca, tokens)
    assert provider.needs_login and provider.flow == "device"
    person = Person(standin, ca)
    account = provider.login(person, timeout=30)
    person.join()
    assert account == USER
    assert "enter the code" in person.shown[0]
    token = provider.access_token()
    assert standin.valid_user(token.token) == USER
    assert token.expires_at > time.time() + 3000
    # The grant is on disk, private; the directory too.
    [stored] = tokens.glob("*.json")
    assert private(stored) and stat.S_IMODE(os.stat(tokens).st_mode) == 0o700
    # Another process (a new provider) uses the stored grant: no new sign-in, and while the access token
    # has more than the margin left, no request to the token endpoint either.
    before = standin.count("refresh_token")
    again = microsoft(standin, ca, tokens)
    assert again.access_token().token == token.token
    assert standin.count("refresh_token") == before
    status = again.status()
    assert status["logged_in"] and status["account"] == USER and status["flow"] == "device"
    assert token.token not in capsys.readouterr().out + repr(token) + str(status)
    assert_token_hidden(token.token, caplog.text)
    [refresh] = json.loads(json.loads(stored.read_text())["msal_cache"])["RefreshToken"].values()
    assert refresh["secret"] not in caplog.text + capsys.readouterr().out


def test_microsoft_renews_before_expiry(standin, ca, tokens):
    provider = microsoft(standin, ca, tokens)
    provider.login(Person(standin, ca), timeout=30)
    first = provider.access_token()
    # Tokens that live 200 s have less than the five-minute margin left when they arrive: each use renews
    # from the refresh token, and the token being replaced is still valid (renewed before it expired).
    standin.lifetime = 200
    provider.invalidate()
    before = standin.count("refresh_token")
    second = provider.access_token()
    third = provider.access_token()
    assert standin.count("refresh_token") == before + 2
    assert len({first.token, second.token, third.token}) == 3
    assert standin.valid_user(second.token) == USER
    # With a margin shorter than the lifetime, the token is used until the margin is reached.
    provider.margin = 60
    assert provider.access_token() == third
    assert standin.count("refresh_token") == before + 2


def test_microsoft_revoked_grant_says_to_sign_in_again(standin, ca, tokens, capsys):
    provider = microsoft(standin, ca, tokens)
    provider.login(Person(standin, ca), timeout=30)
    standin.revoke(USER)
    provider.invalidate()  # what a refused XOAUTH2 login does
    with pytest.raises(LoginRequired) as caught:
        provider.access_token()
    error = caught.value
    assert error.exit_code == 3 and isinstance(error, ServiceUnavailable)
    assert "run `helpdesk mail login support` again" in str(error)
    assert "revoked" in str(error) and "\n" not in str(error)


def test_microsoft_without_sign_in(standin, ca, tokens):
    provider = microsoft(standin, ca, tokens)
    with pytest.raises(LoginRequired, match="not signed in to Microsoft yet.*helpdesk mail login support"):
        provider.access_token()
    assert provider.status()["logged_in"] is False
    # A damaged token file is no grant either.
    TokenFile(tokens, "support").write({"provider": "microsoft", "msal_cache": "{not json"})
    with pytest.raises(LoginRequired, match="damaged"):
        microsoft(standin, ca, tokens).access_token()


def test_microsoft_device_sign_in_declined_or_expired(standin, ca, tokens):
    provider = microsoft(standin, ca, tokens)

    def declines(message):
        standin.decline(re.search(r"enter the code (\S+) ", message).group(1))

    with pytest.raises(ServiceUnavailable, match="sign-in failed"):
        provider.login(declines, timeout=30)
    with pytest.raises(ServiceUnavailable, match="code expired before the sign-in was completed"):
        provider.login(Person(standin, ca, act=False), timeout=1.5)
    assert not list(tokens.glob("*.json"))


def test_microsoft_service_principal(standin, ca):
    provider = microsoft(standin, ca, None, client_id=APP_CLIENT, client_secret=APP_SECRET)
    assert provider.flow == "client_credentials" and not provider.needs_login
    token = provider.access_token()
    assert standin.valid_user(token.token) == USER
    assert provider.access_token() == token  # kept until the margin
    wrong = microsoft(standin, ca, None, client_id=APP_CLIENT, client_secret="wrong")
    with pytest.raises(ServiceUnavailable) as caught:
        wrong.access_token()
    assert not isinstance(caught.value, LoginRequired)
    assert "Invalid client secret" in str(caught.value)
    with pytest.raises(ConfigError, match="oauth2_tenant"):
        microsoft(standin, ca, None, client_secret=APP_SECRET, tenant="organizations")


def test_microsoft_endpoint_unreachable_or_untrusted(standin, ca, tokens):
    from mailservers import free_port

    closed = microsoft(standin, ca, tokens, authority=f"https://127.0.0.1:{free_port()}")
    with pytest.raises(ServiceUnavailable, match="unreachable: cannot connect"):
        closed.login(Person(standin, ca), timeout=5)
    untrusted = microsoft(standin, ca, tokens, ca_file=None)
    with pytest.raises(ServiceUnavailable, match="TLS verification failed"):
        untrusted.login(Person(standin, ca), timeout=5)


# ---------------------------------------------------------------- Google (google-auth)


def test_google_browser_sign_in_refresh_and_revocation(standin, ca, tokens):
    provider = google(standin, ca, tokens)
    assert provider.needs_login and provider.flow == "browser"
    person = Person(standin, ca)
    assert provider.login(person, timeout=30) == USER
    person.join()
    address = person.shown[0].split()[-1]
    assert address.startswith(standin.google_auth_uri + "?") and "code_challenge_method=S256" in address
    first = provider.access_token()
    assert standin.valid_user(first.token) == USER
    [stored] = tokens.glob("*.json")
    assert private(stored)
    assert first.token not in person.shown[0]
    # A new provider (another process) renews from the stored grant when the token is within its margin,
    # not before.
    before = standin.count("refresh_token")
    assert google(standin, ca, tokens, margin=60).access_token() == first
    assert standin.count("refresh_token") == before
    renewing = google(standin, ca, tokens, margin=3700)
    renewed = renewing.access_token()
    assert renewed.token != first.token and standin.valid_user(renewed.token) == USER
    assert standin.count("refresh_token") == before + 1
    assert google(standin, ca, tokens, margin=60).access_token() == renewed  # the renewal was stored
    standin.revoke(USER)
    renewing.invalidate()
    with pytest.raises(LoginRequired, match="Google sign-in has expired or was revoked.*mail login support"):
        renewing.access_token()


def test_google_sign_in_declined_or_forged(standin, ca, tokens):
    import requests

    standin.browser_declines = True
    with pytest.raises(ServiceUnavailable, match="sign-in failed: access_denied"):
        google(standin, ca, tokens).login(Person(standin, ca), timeout=30)
    standin.browser_declines = False

    def forger(message):
        # Someone else's code sent to our listener: its state does not match this sign-in.
        port = re.search(r"port (\d+)", message).group(1)
        threading.Timer(0.2, requests.get, (f"http://127.0.0.1:{port}/?code=stolen&state=forged",)).start()

    with pytest.raises(ServiceUnavailable, match="does not belong to this sign-in"):
        google(standin, ca, tokens).login(forger, timeout=30)
    with pytest.raises(ServiceUnavailable, match="no answer from the browser"):
        google(standin, ca, tokens).login(Person(standin, ca, act=False), timeout=0.5)
    assert not list(tokens.glob("*.json"))


def test_google_service_account(standin, ca, tmp_path):
    key = standin.add_service_account("desk@helpdesk-test.iam.gserviceaccount.example")
    key_file = tmp_path / "service-account.json"
    key_file.write_text(json.dumps(key))
    provider = google(standin, ca, None, client_id=None, client_secret=None, service_account_file=key_file)
    assert provider.flow == "service_account" and not provider.needs_login
    token = provider.access_token()
    assert standin.valid_user(token.token) == USER  # the subject: the mailbox it acts as
    # A key the server does not know (its signature does not verify) is refused, not "sign in again".
    forged = dict(key, private_key=standin.add_service_account("other@example")["private_key"])
    key_file.write_text(json.dumps(forged))
    with pytest.raises(ServiceUnavailable) as caught:
        google(standin, ca, None, client_id=None, service_account_file=key_file).access_token()
    assert not isinstance(caught.value, LoginRequired) and "Invalid JWT Signature" in str(caught.value)
    with pytest.raises(ConfigError, match="no such file"):
        google(standin, ca, None, service_account_file=tmp_path / "missing.json").access_token()
    with pytest.raises(ConfigError, match="oauth2_client_secret"):
        google(standin, ca, tokens_dir := tmp_path / "t", client_secret=None)
    assert not tokens_dir.exists()


# ---------------------------------------------------------------- a token command


def test_command_prints_the_token(tmp_path):
    counter = tmp_path / "runs"
    command = f'echo "$HELPDESK_MAILBOX $HELPDESK_MAIL_USER" >> {counter}; echo ya29.token-from-helper'
    provider = make_provider("command", mailbox="support", user="support@desk.example", command=command)
    token = provider.access_token()
    assert token == AccessToken("ya29.token-from-helper", None)
    assert "ya29" not in repr(token) + str(token) + repr(provider)
    provider.access_token()  # the helper keeps its own grant: it runs each time a token is needed
    assert counter.read_text().splitlines() == ["support support@desk.example"] * 2
    assert provider.status()["expires_at"] is None


def test_command_failures_are_one_line_without_secrets(tmp_path):
    def error_of(command, timeout=10):
        provider = make_provider("command", mailbox="support", user=USER, command=command, timeout=timeout)
        with pytest.raises(ServiceUnavailable) as caught:
            provider.access_token()
        text = str(caught.value)
        assert caught.value.exit_code == 3 and "\n" not in text
        assert text.startswith("mailbox support: the token command")
        return text

    assert error_of("echo starting >&2; echo 'refresh token expired: run oama authorize' >&2; exit 4") == (
        "mailbox support: the token command failed (exit 4): refresh token expired: run oama authorize")
    assert "printed no token" in error_of("true")
    secretish = "Password for support: hunter2 and more"
    text = error_of(f"echo '{secretish}'")
    assert "not an access token" in text and "hunter2" not in text
    assert "could not" in error_of("exec /nonexistent/helper") or "exit 127" in error_of("/nonexistent/helper")
    # A helper that hangs is killed with everything it started.
    pid_file = tmp_path / "grandchild.pid"
    started = time.monotonic()
    assert "gave no token within 0.5 s" in error_of(f"sleep 30 & echo $! > {pid_file}; wait", timeout=0.5)
    assert time.monotonic() - started < 10
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and os.path.exists(f"/proc/{grandchild}") and \
            open(f"/proc/{grandchild}/stat").read().split(") ")[1][0] != "Z":
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{grandchild}") or \
        open(f"/proc/{grandchild}/stat").read().split(") ")[1][0] == "Z"
    with pytest.raises(ConfigError):
        make_provider("command", mailbox="support", user=USER, command="  ")
    with pytest.raises(ConfigError, match="must be one of microsoft, google, command"):
        make_provider("yahoo", mailbox="support", user=USER)


def test_providers_load_their_libraries_only_when_used():
    from conftest import ROOT, run_subprocess

    code = ("import json, sys\n"
            "import helpdesk.mail.oauth2, helpdesk.mail.idle, helpdesk.mail.tls\n"
            "print(json.dumps(sorted(sys.modules)))\n")
    result = run_subprocess([sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert not loaded & {"msal", "google.auth", "google_auth_oauthlib", "requests", "cryptography"}


# ---------------------------------------------------------------- the token file


def test_token_file_names_stay_in_their_directory(tmp_path):
    directory = tmp_path / "tokens"
    names = ["support", "../../etc/passwd", "a/b", ".hidden", "support ", "Support", "ünïcode", ""]
    paths = {TokenFile(directory, name).path for name in names}
    assert len(paths) == len(names)  # no two mailboxes share a file
    assert all(path.parent == directory and not path.name.startswith(".") for path in paths)
    old_umask = os.umask(0)
    try:
        TokenFile(directory, "../../etc/passwd").write({"provider": "command"})
    finally:
        os.umask(old_umask)
    [written] = directory.iterdir()
    assert private(written) and stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert TokenFile(directory, "../../etc/passwd").read() == {"provider": "command"}
    assert TokenFile(directory, "support").read() is None


# ---------------------------------------------------------------- XOAUTH2 against Dovecot and SMTP


def test_xoauth2_string():
    assert xoauth2_string("support@desk.example", "abc") == "user=support@desk.example\x01auth=Bearer abc\x01\x01"
    with pytest.raises(ValueError):
        xoauth2_string("a\x01b", "abc")


def test_good_token_fetches_from_dovecot(standin, ca, oauth_dovecot, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    oauth_dovecot.reset_mailbox()
    oauth_dovecot.append(b"From: customer@example.com\r\nSubject: printer\r\n\r\nIt jams.\r\n")
    provider = microsoft(standin, ca, None, client_id=APP_CLIENT, client_secret=APP_SECRET)
    client = tls.open_imap("127.0.0.1", oauth_dovecot.port, mode="none")
    imap_login(client, provider, where="IMAP test (support)")
    client.select_folder("INBOX", readonly=True)
    [(uid, data)] = client.fetch(client.search("ALL"), ["BODY.PEEK[]"]).items()
    assert b"It jams." in data[b"BODY[]"]
    client.logout()
    token = provider.access_token().token
    assert_token_hidden(token, caplog.text, oauth_dovecot)
    assert "method=XOAUTH2" in (oauth_dovecot.root / "dovecot.log").read_text()


def assert_token_hidden(token: str, *texts_and_server) -> None:
    encoded = base64.b64encode(xoauth2_string(USER, token).encode()).decode()
    for item in texts_and_server:
        text = item if isinstance(item, str) else (item.root / "dovecot.log").read_text()
        assert token not in text and encoded not in text


def test_bad_or_expired_token_fails_cleanly(standin, ca, oauth_dovecot, caplog, capsys):
    import requests

    caplog.set_level(logging.DEBUG)
    # A token the server never issued, then one it issued that has expired: both refused, one line each.
    standin.lifetime = 1
    expired = requests.post(standin.google_token_uri, verify=str(ca.cert_file), timeout=10,
                            data={"grant_type": "client_credentials", "client_id": APP_CLIENT,
                                  "client_secret": APP_SECRET}).json()["access_token"]
    time.sleep(1.2)
    for token in ("never-issued-token", expired):
        provider = make_provider("command", mailbox="support", user=USER, command=f"echo {token}")
        client = tls.open_imap("127.0.0.1", oauth_dovecot.port, mode="none")
        with pytest.raises(ServiceUnavailable) as caught:
            imap_login(client, provider, where="IMAP test (support)")
        client.shutdown()
        assert str(caught.value) == ("IMAP test (support): XOAUTH2 login refused for 'support': "
                                     "[AUTHENTICATIONFAILED] Authentication failed.")
        assert_token_hidden(token, caplog.text, capsys.readouterr().out, oauth_dovecot)


def log_in_and_out(server, provider) -> None:
    """One IMAP session of `provider`'s mailbox on `server`, logged in with XOAUTH2."""
    client = tls.open_imap("127.0.0.1", server.port, mode="none")
    imap_login(client, provider, where="IMAP test (support)")
    client.logout()


def test_token_revoked_early_is_renewed_once(standin, ca, oauth_dovecot, tokens):
    # The access token is revoked before it expires (an administrator's action); the grant still holds:
    # the refused login renews the token and the second attempt succeeds.
    provider = microsoft(standin, ca, tokens)
    provider.login(Person(standin, ca), timeout=30)
    old = provider.access_token()
    standin.revoke_access_tokens(USER)
    before = standin.count("refresh_token")
    log_in_and_out(oauth_dovecot, provider)
    assert standin.count("refresh_token") == before + 1
    assert provider.access_token() != old


def test_refresh_happens_before_expiry_against_dovecot(standin, ca, oauth_dovecot, tokens):
    provider = google(standin, ca, tokens, margin=2)
    provider.login(Person(standin, ca), timeout=30)
    standin.lifetime = 4
    provider.invalidate()
    first = provider.access_token()
    for _ in range(2):  # two logins well within the token's life: the same token, no renewal
        log_in_and_out(oauth_dovecot, provider)
    assert provider.access_token() == first
    before = standin.count("refresh_token")
    time.sleep(max(0.0, first.expires_at - 2 - time.time()) + 0.1)  # into the margin, not past expiry
    assert standin.valid_user(first.token) == USER  # the old token still works...
    log_in_and_out(oauth_dovecot, provider)  # ...yet a new one is used
    assert standin.count("refresh_token") == before + 1
    assert provider.access_token().token != first.token


def test_smtp_xoauth2(standin, ca, caplog, smtp):
    caplog.set_level(logging.DEBUG)
    server = start_auth_smtp(standin=standin)
    try:
        provider = microsoft(standin, ca, None, client_id=APP_CLIENT, client_secret=APP_SECRET)
        client = tls.open_smtp("127.0.0.1", server.port, mode="none")
        smtp_login(client, provider, where="SMTP 127.0.0.1")
        client.sendmail("support@desk.example", ["customer@example.com"], b"Subject: re\r\n\r\nfixed\r\n")
        client.quit()
        assert server.logins == [USER] and len(server.messages) == 1
        bad = make_provider("command", mailbox="support", user=USER, command="echo not-a-live-token")
        client = tls.open_smtp("127.0.0.1", server.port, mode="none")
        with pytest.raises(ServiceUnavailable) as caught:
            smtp_login(client, bad, where="SMTP 127.0.0.1")
        client.close()
        assert str(caught.value) == ("SMTP 127.0.0.1: XOAUTH2 login refused for 'support': "
                                     "535 5.7.8 Username and Password not accepted")
        ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
        assert_token_hidden(provider.access_token().token, ours)
    finally:
        server.stop()
    # A server that does not offer XOAUTH2 (the suite's plain sink) is named as such.
    client = tls.open_smtp("127.0.0.1", smtp.port, mode="none")
    with pytest.raises(ServiceUnavailable, match="does not offer AUTH XOAUTH2"):
        smtp_login(client, provider, where="SMTP sink")
    client.close()


def test_password_logins_still_work_next_to_oauth2(oauth_dovecot):
    client = tls.open_imap("127.0.0.1", oauth_dovecot.port, mode="none")
    client.login(USER, PASSWORD)
    assert b"EXISTS" in client.select_folder("INBOX")
    client.logout()
    assert "method=PLAIN" in (oauth_dovecot.root / "dovecot.log").read_text()
