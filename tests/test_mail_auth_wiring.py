"""The configured mail channel with OAuth2, private CAs and IDLE, through the CLI and the daemon, on
loopback: a Dovecot whose oauth2 passdb asks the stand-in authorization server, a Dovecot with TLS from a
test CA, an SMTP server taking XOAUTH2. The token never appears in output."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import threading
import time

import pytest
import requests

from helpdesk.config import parse
from helpdesk.core.errors import ConfigError
from mailauth_servers import OAuthStandIn, TestCA, start_auth_smtp, start_oauth2_dovecot, start_tls_dovecot
from mailservers import PASSWORD, USER

PUBLIC_CLIENT = "desk-public-client"
APP_CLIENT, APP_SECRET = "desk-daemon", "app-secret-for-tests"


def mail(subject="Printer broken", message_id="<a1@globex.example>") -> bytes:
    return (f"From: Ann <ann@globex.example>\r\nTo: support@desk.example\r\nSubject: {subject}\r\n"
            f"Message-ID: {message_id}\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\nIt jams.\r\n").encode()


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def standin(ca):
    server = OAuthStandIn(ca.issue("oauth-server"))
    server.add_public_client(PUBLIC_CLIENT)
    server.add_confidential_client(APP_CLIENT, APP_SECRET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def oauth_dovecot(standin):
    server = start_oauth2_dovecot("wiring", standin.introspection_url)
    yield server
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture
def oauth_imap(oauth_dovecot):
    oauth_dovecot.reset_mailbox()
    return oauth_dovecot


def app_token(standin, ca, lifetime: float = 3600) -> str:
    """An access token the stand-in issued (as a token helper would print it)."""
    standin.lifetime = lifetime
    try:
        return requests.post(standin.google_token_uri, verify=str(ca.cert_file), timeout=10,
                             data={"grant_type": "client_credentials", "client_id": APP_CLIENT,
                                   "client_secret": APP_SECRET}).json()["access_token"]
    finally:
        standin.lifetime = 3600


def mailbox_toml(port: int, *auth_lines: str, tls: str = "none") -> str:
    return "\n".join(["[[mailbox]]", 'name = "support"', 'address = "support@desk.example"',
                      'imap_host = "127.0.0.1"', f"imap_port = {port}", f'imap_user = "{USER}"',
                      f'tls = "{tls}"', *auth_lines]) + "\n"


def microsoft_lines(standin, ca) -> list[str]:
    return ['auth = "oauth2"', 'oauth2_provider = "microsoft"', f'oauth2_client_id = "{PUBLIC_CLIENT}"',
            f'oauth2_tenant = "{standin.tenant}"', f'oauth2_authority = "{standin.authority}"',
            f'oauth2_ca_file = "{ca.cert_file}"']


def one_line_error(run, *needles: str) -> str:
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), run.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in run.stderr
    return lines[0]


# ---------------------------------------------------------------- configuration


@pytest.mark.parametrize("table, message", [
    ({"auth": "token"}, "auth = 'token': must be one of password, oauth2"),
    ({"auth": "oauth2"}, "needs oauth2_provider = one of microsoft, google, command"),
    ({"auth": "oauth2", "oauth2_provider": "microsoft"}, 'oauth2_provider = "microsoft" needs oauth2_client_id'),
    ({"auth": "oauth2", "oauth2_provider": "google"}, "needs oauth2_client_id and a client secret"),
    ({"auth": "oauth2", "oauth2_provider": "command"}, 'oauth2_provider = "command" needs oauth2_command'),
    ({"oauth2_command": "x"}, 'oauth2_command is set but auth is not "oauth2"'),
    ({"auth": "oauth2", "oauth2_provider": "command", "oauth2_command": "x", "imap_password": "p"},
     'imap_password is set but auth = "oauth2" logs in with a token'),
    ({"auth": "oauth2", "oauth2_provider": "command", "oauth2_command": "x", "oauth2_tenant": "t"},
     'oauth2_tenant does not apply to oauth2_provider = "command"'),
    ({"client_key": "k.pem"}, "client_key needs its client_cert"),
    ({"ca_file": 3}, "ca_file must be str"),
    ({"auth": "oauth2", "oauth2_provider": "microsoft", "oauth2_client_id": "c", "oauth2_scopes": "x"},
     "oauth2_scopes must be list"),
])
def test_bad_auth_settings_are_refused_at_load(table, message):
    base = {"name": "support", "address": "support@desk.example", "imap_host": "127.0.0.1"}
    with pytest.raises(ConfigError) as caught:
        parse({"mailbox": [{**base, **table}]})
    assert message in str(caught.value) and "[mailbox support]" in str(caught.value)


def test_smtp_auth_settings():
    smtp = {"host": "h", "auth": "oauth2", "oauth2_provider": "command", "oauth2_command": "x"}
    with pytest.raises(ConfigError, match=r"\[smtp\] auth = \"oauth2\" needs the account to log in as \(user\)"):
        parse({"smtp": smtp})
    config = parse({"smtp": {**smtp, "user": "desk@acme.example", "ca_file": "/etc/ca.pem"}})
    assert config.smtp.auth == "oauth2" and config.smtp.ca_file == "/etc/ca.pem"
    mailbox = {"name": "smtp", "address": "a@b.example", "imap_host": "h"}
    with pytest.raises(ConfigError, match="would share one sign-in"):
        parse({"mailbox": [mailbox], "smtp": {**smtp, "user": "desk@acme.example"}})


# ---------------------------------------------------------------- fetch and send with XOAUTH2


def test_fetch_with_a_good_token_and_a_bad_one(configured, oauth_imap, standin, ca, cli, caplog):
    token = app_token(standin, ca)
    configured.write_config(configured.default_config() + mailbox_toml(
        oauth_imap.port, 'auth = "oauth2"', 'oauth2_provider = "command"', f'oauth2_command = "echo {token}"'))
    oauth_imap.append(mail())
    run = cli("mail", "fetch", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()[0]["outcomes"] == {"new_ticket": 1}
    assert "method=XOAUTH2" in (oauth_imap.root / "dovecot.log").read_text()
    status = cli("mail", "status", "--json").json()[0]
    assert (status["auth"], status["oauth2_provider"], status["oauth2_flow"]) == ("oauth2", "command", "command")
    text = cli("mail", "status").stdout
    assert "OAuth2 via command" in text

    # An expired token, then one never issued: exit 3, one line, the token nowhere.
    for bad in (app_token(standin, ca, lifetime=1), "never-issued-token"):
        time.sleep(1.2)
        configured.write_config(configured.default_config() + mailbox_toml(
            oauth_imap.port, 'auth = "oauth2"', 'oauth2_provider = "command"', f'oauth2_command = "echo {bad}"'))
        oauth_imap.append(mail(message_id=f"<{bad[:8]}@globex.example>"))
        run = cli("mail", "fetch")
        assert run.exit_code == 3
        one_line_error(run, "XOAUTH2 login refused for 'support'", "(support)")
        for text in (run.stdout, run.stderr, caplog.text, (oauth_imap.root / "dovecot.log").read_text()):
            assert bad not in text


def test_microsoft_sign_in_fetch_status_and_revocation(configured, oauth_imap, standin, ca, cli):
    configured.write_config(configured.default_config() + mailbox_toml(oauth_imap.port, *microsoft_lines(standin, ca)))
    oauth_imap.append(mail())

    run = cli("mail", "fetch")  # nobody has signed in yet
    assert run.exit_code == 3
    one_line_error(run, "mailbox support: not signed in to Microsoft yet: run `helpdesk mail login support` again")
    status = cli("mail", "status", "--json").json()[0]
    assert status["signed_in"] is False and status["token_expires_at"] is None
    assert "not signed in (run `helpdesk mail login support`)" in cli("mail", "status").stdout

    # The person: waits for the code to be shown and enters it on the device page.
    pending = {d["user_code"] for d in standin.devices.values()}

    def person():
        deadline = time.time() + 20
        while time.time() < deadline:
            for device in list(standin.devices.values()):
                if device["user_code"] not in pending and device["user"] is None:
                    standin.approve(device["user_code"])
                    return
            time.sleep(0.1)

    helper = threading.Thread(target=person)
    helper.start()
    run = cli("mail", "login", "support")
    helper.join(20)
    assert run.exit_code == 0, run.stderr
    assert f"{standin.base}/devicelogin" in run.stdout and "enter the code" in run.stdout
    assert f"mailbox support: signed in to microsoft as {USER}" in run.stdout
    [grant] = (configured.path / "oauth2").glob("oauth2-support-*.json")
    assert stat.S_IMODE(grant.stat().st_mode) == 0o600
    stored = json.loads(grant.read_text())
    issued = [t for t in standin.tokens if t in json.dumps(stored)]
    assert issued and all(t not in run.stdout + run.stderr for t in issued)

    run = cli("mail", "fetch", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()[0]["outcomes"] == {"new_ticket": 1}
    status = cli("mail", "status", "--json").json()[0]
    assert status["auth"] == "oauth2" and status["oauth2_provider"] == "microsoft"
    assert status["oauth2_flow"] == "device" and status["signed_in"] is True and status["account"] == USER
    assert status["token_expires_at"].endswith("Z")
    assert status["idle"] is None and status["watch"] is None  # no daemon watching here

    # The grant is revoked (a password reset): the next fetch says to sign in again.
    standin.revoke(USER)
    oauth_imap.append(mail(message_id="<a2@globex.example>"))
    run = cli("mail", "fetch")
    assert run.exit_code == 3
    line = one_line_error(run, "the Microsoft sign-in has expired or was revoked",
                          "run `helpdesk mail login support` again")
    assert all(t not in line for t in standin.tokens)


def test_login_of_a_password_mailbox_or_an_unknown_one(mail_desk, cli):
    run = cli("mail", "login", "support")
    assert run.exit_code == 1
    one_line_error(run, 'mailbox support logs in with a password (auth = "password")')
    run = cli("mail", "login", "nosuch")
    assert run.exit_code != 0
    one_line_error(run, "no mailbox named 'nosuch' (configured: support, smtp)")


def test_login_with_a_token_command_checks_it_works(configured, standin, ca, cli):
    token = app_token(standin, ca)
    configured.write_config(configured.default_config() + mailbox_toml(
        143, 'auth = "oauth2"', 'oauth2_provider = "command"', f'oauth2_command = "echo {token}"'))
    run = cli("mail", "login", "support", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json() == {"mailbox": "support", "provider": "command", "flow": "command", "account": USER,
                          "expires_at": None}
    assert token not in run.stdout + run.stderr


def test_send_with_xoauth2(configured, standin, ca, cli):
    server = start_auth_smtp(standin=standin)
    try:
        token = app_token(standin, ca)
        configured.write_config(configured.default_config() + "\n".join([
            "[smtp]", 'host = "127.0.0.1"', f"port = {server.port}", 'tls = "none"', f'user = "{USER}"',
            'auth = "oauth2"', 'oauth2_provider = "command"', f'oauth2_command = "echo {token}"']) + "\n")
        cli("agent", "add", "bob")
        number = cli("ticket", "create", "--title", "Printer", "--customer", "ann@globex.example", "--json").json()["number"]
        assert cli("ticket", "reply", str(number), "--body", "Power-cycle it.").exit_code == 0
        run = cli("mail", "send", "--json")
        assert run.exit_code == 0, run.stderr
        assert run.json()["sent"] >= 1 and server.logins == [USER]
        status = cli("mail", "status", "--json")
        assert status.exit_code == 0
    finally:
        server.stop()


# ---------------------------------------------------------------- TLS with a private CA


@pytest.fixture(scope="module")
def tls_dovecot(ca):
    server, imaps_port = start_tls_dovecot("wiring-tls", ca.issue("imap-wiring", hosts=("127.0.0.1",)))
    yield server, imaps_port
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_fetch_trusts_ca_file_and_refuses_without(configured, tls_dovecot, ca, cli, mode):
    server, imaps_port = tls_dovecot
    server.reset_mailbox()
    server.append(mail())
    port = imaps_port if mode == "ssl" else server.port
    password = f'imap_password = "{PASSWORD}"'
    configured.write_config(configured.default_config() + mailbox_toml(port, password, tls=mode))
    run = cli("mail", "fetch")
    assert run.exit_code == 3
    one_line_error(run, "TLS with 127.0.0.1 failed", "unknown CA", "set ca_file")

    configured.write_config(configured.default_config()
                            + mailbox_toml(port, password, f'ca_file = "{ca.cert_file}"', tls=mode))
    run = cli("mail", "fetch", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()[0]["outcomes"] == {"new_ticket": 1}

    missing = configured.path / "no-such-ca.pem"
    configured.write_config(configured.default_config()
                            + mailbox_toml(port, password, f'ca_file = "{missing}"', tls=mode))
    run = cli("mail", "fetch")
    assert run.exit_code != 0
    one_line_error(run, "mailbox support: ca_file", "no such file")


# ---------------------------------------------------------------- push: the daemon with IDLE


def test_the_daemon_picks_up_new_mail_with_idle(mail_desk, imap, smtp, helpdesk_bin, cli):
    # A long interval: only IDLE can bring the mail in within seconds.
    proc = subprocess.Popen(helpdesk_bin + ["daemon", "--interval", "3600"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    status_file = mail_desk.path / "mail-watch.json"
    try:
        deadline = time.time() + 30
        while time.time() < deadline and proc.poll() is None:
            if status_file.exists():
                try:
                    if json.loads(status_file.read_text())["mailboxes"]["support"]["state"] == "idle":
                        break
                except (ValueError, KeyError):
                    pass
            time.sleep(0.1)
        else:
            pytest.fail("the daemon's watcher did not go IDLE within 30 s")
        assert stat.S_IMODE(status_file.stat().st_mode) == 0o600
        status = cli("mail", "status", "--json").json()[0]
        assert status["idle"] is True and status["watch"] == "idle" and status["auth"] == "password"
        assert "IDLE live" in cli("mail", "status").stdout

        took = []
        for n in range(1, 4):
            started = time.time()
            imap.append(mail(subject=f"Printer {n}", message_id=f"<idle{n}@globex.example>"))
            smtp.wait_for(n, timeout=15)  # the acknowledgement of the new ticket
            took.append(time.time() - started)
            assert len(smtp.messages) == n
        print(f"APPEND to acknowledgement over IDLE: {', '.join(f'{t:.2f}' for t in took)} s")
        assert sorted(took)[1] < 5  # the median; the target is 2 s on an idle machine (see bench/idle_bench.py)
        assert len(cli("ticket", "list", "--json").json()) == 3

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "watching INBOX with IDLE" in err and "Traceback" not in err
        assert not status_file.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_daemon_serves_the_other_mailboxes_when_a_grant_is_missing(configured, imap, oauth_dovecot, standin,
                                                                      ca, smtp):
    from helpdesk import daemon
    from helpdesk.domain.desk import open_desk

    signed_out = mailbox_toml(oauth_dovecot.port, *microsoft_lines(standin, ca)).replace(
        'name = "support"', 'name = "m365"')
    configured.write_config(configured.default_config() + signed_out + imap.config_toml() + smtp.config_toml())
    imap.append(mail())
    desk = open_desk()
    try:
        summary = daemon.cycle(desk)
    finally:
        desk.close()
    assert summary["fetch:support"] == {"new_ticket": 1}
    assert summary["unreachable"] == ["mailbox m365: mailbox m365: not signed in to Microsoft yet: "
                                      "run `helpdesk mail login m365` again"]


def test_a_client_secret_variable_that_is_not_set_is_named(configured, standin, ca, cli, monkeypatch):
    monkeypatch.delenv("HELPDESK_M365_SECRET", raising=False)
    configured.write_config(configured.default_config() + mailbox_toml(
        143, *microsoft_lines(standin, ca), 'oauth2_client_secret_env = "HELPDESK_M365_SECRET"'))
    run = cli("mail", "fetch")
    assert run.exit_code != 0
    one_line_error(run, "mailbox support: oauth2_client_secret_env names HELPDESK_M365_SECRET, which is not set")
    status = cli("mail", "status", "--json").json()[0]
    assert status["auth"] == "oauth2" and "HELPDESK_M365_SECRET" in status["auth_error"]


def test_google_browser_sign_in_through_mail_login(configured, oauth_imap, standin, ca, helpdesk_bin, cli,
                                                   monkeypatch):
    google_client, google_secret = "desk.apps.googleusercontent.example", "google-secret-for-tests"
    standin.add_confidential_client(google_client, google_secret)
    configured.write_config(configured.default_config() + mailbox_toml(
        oauth_imap.port, 'auth = "oauth2"', 'oauth2_provider = "google"', f'oauth2_client_id = "{google_client}"',
        'oauth2_client_secret_env = "HELPDESK_GOOGLE_SECRET"', f'oauth2_auth_uri = "{standin.google_auth_uri}"',
        f'oauth2_token_uri = "{standin.google_token_uri}"', f'oauth2_ca_file = "{ca.cert_file}"'))
    proc = subprocess.Popen(helpdesk_bin + ["mail", "login", "support"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HELPDESK_GOOGLE_SECRET": google_secret})
    try:
        shown = []
        for line in proc.stdout:  # the person opens the address shown; the browser follows the redirect back
            shown.append(line)
            if line.startswith(standin.google_auth_uri):
                requests.get(line.strip(), verify=str(ca.cert_file), timeout=10)
                break
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "open this address in a browser" in "".join(shown)
    assert f"mailbox support: signed in to google as {USER}" in out
    assert all(token not in "".join(shown) + out + err for token in standin.tokens)

    monkeypatch.setenv("HELPDESK_GOOGLE_SECRET", google_secret)
    oauth_imap.append(mail())
    run = cli("mail", "fetch", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()[0]["outcomes"] == {"new_ticket": 1}
    status = cli("mail", "status", "--json").json()[0]
    assert (status["oauth2_provider"], status["oauth2_flow"], status["signed_in"]) == ("google", "browser", True)


def test_fetch_refuses_a_certificate_for_another_name(configured, tls_dovecot, ca, cli):
    server, imaps_port = tls_dovecot  # its certificate names 127.0.0.1 only
    configured.write_config(configured.default_config() + mailbox_toml(
        imaps_port, f'imap_password = "{PASSWORD}"', f'ca_file = "{ca.cert_file}"', tls="ssl").replace(
        'imap_host = "127.0.0.1"', 'imap_host = "localhost"'))
    run = cli("mail", "fetch")
    assert run.exit_code == 3
    one_line_error(run, "TLS with localhost failed", "not valid for the name 'localhost'")


# ---------------------------------------------------------------- mail status: [smtp]'s own sign-in


def test_status_shows_a_password_smtp(mail_desk, cli):
    [row] = cli("mail", "status", "--json").json()
    assert row["mailbox"] == "support" and row["auth"] == "password"
    assert row["smtp"] == {"auth": "password", "oauth2_provider": None, "oauth2_flow": None, "signed_in": None,
                           "account": None, "token_expires_at": None, "user": row["smtp"]["user"]}
    text = cli("mail", "status").stdout.splitlines()
    assert text[-1] in ("smtp: logs in with a password", "smtp: sends without signing in")
    assert text[-1] == ("smtp: logs in with a password" if row["smtp"]["user"] else "smtp: sends without signing in")


def test_status_shows_an_oauth2_smtp_and_its_error(configured, imap, standin, ca, cli):
    token = app_token(standin, ca)
    smtp_lines = ["[smtp]", 'host = "127.0.0.1"', "port = 2525", 'tls = "none"', f'user = "{USER}"',
                  'auth = "oauth2"']
    configured.write_config(configured.default_config() + imap.config_toml() + "\n".join(
        smtp_lines + ['oauth2_provider = "command"', f'oauth2_command = "echo {token}"']) + "\n")
    run = cli("mail", "status", "--json")
    assert run.exit_code == 0, run.stderr
    [row] = run.json()
    assert row["auth"] == "password"  # the mailbox's own sign-in is unchanged
    smtp = row["smtp"]
    assert (smtp["auth"], smtp["oauth2_provider"], smtp["oauth2_flow"], smtp["user"]) == (
        "oauth2", "command", "command", USER)
    assert "auth_error" not in smtp
    text = cli("mail", "status").stdout
    assert "smtp: OAuth2 via command (command)" in text and token not in text + run.stdout

    # Microsoft, nobody signed in yet: says so, and how to sign in.
    configured.write_config(configured.default_config() + imap.config_toml() + "\n".join(
        smtp_lines + microsoft_lines(standin, ca)[1:]) + "\n")
    smtp = cli("mail", "status", "--json").json()[0]["smtp"]
    assert (smtp["oauth2_provider"], smtp["oauth2_flow"], smtp["signed_in"], smtp["token_expires_at"]) == (
        "microsoft", "device", False, None)
    assert "smtp: OAuth2 via microsoft (device): not signed in (run `helpdesk mail login smtp`)" in \
        cli("mail", "status").stdout

    # A client secret variable that is not set: the error, in both outputs.
    configured.write_config(configured.default_config() + imap.config_toml() + "\n".join(
        smtp_lines + microsoft_lines(standin, ca)[1:] + ['oauth2_client_secret_env = "HELPDESK_SMTP_SECRET_UNSET"'])
        + "\n")
    smtp = cli("mail", "status", "--json").json()[0]["smtp"]
    assert smtp["auth"] == "oauth2" and "HELPDESK_SMTP_SECRET_UNSET" in smtp["auth_error"]
    assert "HELPDESK_SMTP_SECRET_UNSET" in cli("mail", "status").stdout.splitlines()[-1]


def test_status_without_smtp_says_null(configured, imap, cli):
    configured.write_config(configured.default_config() + imap.config_toml())
    [row] = cli("mail", "status", "--json").json()
    assert row["smtp"] is None
    assert not any(line.startswith("smtp:") for line in cli("mail", "status").stdout.splitlines())


def test_a_mailbox_named_smtp_keeps_its_own_status_beside_smtp(configured, imap, smtp, cli):
    configured.write_config(configured.default_config() + imap.config_toml().replace(
        'name = "support"', 'name = "smtp"') + smtp.config_toml())
    [row] = cli("mail", "status", "--json").json()
    assert row["mailbox"] == "smtp" and row["auth"] == "password" and row["idle"] is None and row["watch"] is None
    assert row["smtp"]["auth"] == "password" and "idle" not in row["smtp"]
    lines = cli("mail", "status").stdout.splitlines()
    assert lines[1] == "  logs in with a password; IDLE: no daemon watching on this machine"
    assert lines[-1] == "smtp: sends without signing in"
