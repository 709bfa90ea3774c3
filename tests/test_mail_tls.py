"""TLS for private mail infrastructure, against a real Dovecot and aiosmtpd with a CA made for the test:
trusted with `ca_file`, refused without it or on a wrong host name or an expired certificate, each failure
one line naming the host and the reason; IMAPS and STARTTLS; a client certificate; no silent downgrade."""

from __future__ import annotations

import shutil
import smtplib

import pytest

from helpdesk.core.errors import ConfigError, ServiceUnavailable
from helpdesk.mail import tls
from mailauth_servers import TestCA, start_auth_smtp, start_tls_dovecot
from mailservers import PASSWORD, USER


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return TestCA(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls_dovecot(ca):
    """A Dovecot whose certificate names 127.0.0.1 only: (server, imaps_port); `server.port` is STARTTLS."""
    server, imaps_port = start_tls_dovecot("tls", ca.issue("imap-server", hosts=("127.0.0.1",)))
    yield server, imaps_port
    server.stop()
    shutil.rmtree(server.root, ignore_errors=True)


def port_for(tls_dovecot, mode: str) -> int:
    server, imaps_port = tls_dovecot
    return imaps_port if mode == "ssl" else server.port


def assert_one_line_naming(exc: BaseException, host: str, reason: str) -> None:
    text = str(exc)
    assert "\n" not in text and host in text and reason in text, text


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_trusted_with_ca_file(ca, tls_dovecot, mode):
    context = tls.client_context(ca_file=ca.cert_file)
    client = tls.open_imap("127.0.0.1", port_for(tls_dovecot, mode), mode=mode, context=context)
    try:
        peer = client.socket().getpeercert()
        assert ("IP Address", "127.0.0.1") in peer["subjectAltName"]
        client.login(USER, PASSWORD)
        assert client.select_folder("INBOX")[b"EXISTS"] >= 0
    finally:
        client.logout()


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_refused_without_ca_file_before_any_login(tls_dovecot, mode):
    # The system store does not know the test CA: the handshake fails, so no password is ever sent.
    port = port_for(tls_dovecot, mode)
    with pytest.raises(ServiceUnavailable) as caught:
        tls.open_imap("127.0.0.1", port, mode=mode)
    assert caught.value.exit_code == 3
    assert_one_line_naming(caught.value, f"127.0.0.1:{port}", "unknown CA")
    assert "ca_file" in str(caught.value)


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_refused_on_a_wrong_host_name(ca, tls_dovecot, mode):
    # Same server, same trusted CA, but reached as "localhost", which its certificate does not name.
    context = tls.client_context(ca_file=ca.cert_file)
    with pytest.raises(ServiceUnavailable) as caught:
        tls.open_imap("localhost", port_for(tls_dovecot, mode), mode=mode, context=context,
                      where="IMAP localhost (support)")
    assert_one_line_naming(caught.value, "localhost", "not valid for the name 'localhost'")
    assert str(caught.value).startswith("IMAP localhost (support): ")


def test_a_plain_port_with_ssl_says_so(ca, tls_dovecot):
    server, _ = tls_dovecot
    with pytest.raises(ServiceUnavailable) as caught:
        tls.open_imap("127.0.0.1", server.port, mode="ssl", context=tls.client_context(ca_file=ca.cert_file))
    assert_one_line_naming(caught.value, "127.0.0.1", "does not speak TLS on this port")


def test_starttls_is_never_downgraded(dovecot):
    # The shared test server has TLS off: it offers no STARTTLS, and the client refuses to go on in plain text.
    client = dovecot.client()
    assert not client.has_capability("STARTTLS")
    client.logout()
    with pytest.raises(ServiceUnavailable) as caught:
        tls.open_imap("127.0.0.1", dovecot.port, mode="starttls")
    assert "does not offer STARTTLS" in str(caught.value)


def test_mode_none_is_plain_text_on_purpose(dovecot):
    client = tls.open_imap("127.0.0.1", dovecot.port, mode="none")
    try:
        client.login(USER, PASSWORD)
        assert not hasattr(client.socket(), "getpeercert")
    finally:
        client.logout()


def test_unreachable_server_is_one_line(ca):
    from mailservers import free_port

    port = free_port()
    with pytest.raises(ServiceUnavailable) as caught:
        tls.open_imap("127.0.0.1", port, mode="ssl", context=tls.client_context(ca_file=ca.cert_file))
    assert_one_line_naming(caught.value, f"127.0.0.1:{port}", "cannot connect")


# ---------------------------------------------------------------- SMTP


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "ssl"])
def test_smtp_trusted_with_ca_file_and_refused_without(ca, implicit):
    server = start_auth_smtp(certificate=ca.issue("smtp-server"), implicit_tls=implicit)
    mode = "ssl" if implicit else "starttls"
    try:
        client = tls.open_smtp("127.0.0.1", server.port, mode=mode, context=tls.client_context(ca_file=ca.cert_file))
        client.sendmail("desk@desk.example", ["customer@example.com"], b"Subject: over TLS\r\n\r\nhello\r\n")
        client.quit()
        assert [m[1] for m in server.messages] == [["customer@example.com"]]
        with pytest.raises(ServiceUnavailable) as caught:
            tls.open_smtp("127.0.0.1", server.port, mode=mode)
        assert_one_line_naming(caught.value, f"SMTP 127.0.0.1:{server.port}", "unknown CA")
    finally:
        server.stop()


def test_smtp_expired_certificate_is_named(ca):
    server = start_auth_smtp(certificate=ca.issue("smtp-expired", expired=True))
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            tls.open_smtp("127.0.0.1", server.port, mode="starttls", context=tls.client_context(ca_file=ca.cert_file))
        assert_one_line_naming(caught.value, "127.0.0.1", "certificate has expired")
    finally:
        server.stop()


def test_client_certificate(ca):
    # A server that completes the handshake only with a client certificate of its CA.
    server = start_auth_smtp(certificate=ca.issue("smtp-server-mtls"), client_ca=ca.cert_file)
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            tls.open_smtp("127.0.0.1", server.port, mode="starttls", context=tls.client_context(ca_file=ca.cert_file))
        # asyncio's server closes without a TLS alert after a TLS 1.3 handshake: the client sees the
        # connection end (a server that sends the alert gets "requires a client certificate").
        assert_one_line_naming(caught.value, f"SMTP 127.0.0.1:{server.port}", "")
        holder = ca.issue("desk-client", hosts=("desk.example",), client=True)
        context = tls.client_context(ca_file=ca.cert_file, cert_file=holder.cert, key_file=holder.key)
        client = tls.open_smtp("127.0.0.1", server.port, mode="starttls", context=context)
        client.sendmail("desk@desk.example", ["customer@example.com"], b"Subject: mutual TLS\r\n\r\nhello\r\n")
        client.quit()
        assert len(server.messages) == 1
    finally:
        server.stop()


def test_smtp_starttls_is_never_downgraded(smtp):
    # The suite's plain SMTP sink offers no STARTTLS.
    with pytest.raises(ServiceUnavailable) as caught:
        tls.open_smtp("127.0.0.1", smtp.port, mode="starttls")
    assert "does not offer STARTTLS" in str(caught.value)
    client = tls.open_smtp("127.0.0.1", smtp.port, mode="none")
    assert isinstance(client, smtplib.SMTP)
    client.quit()


# ---------------------------------------------------------------- the context and its settings


def test_context_verifies_always(ca):
    import ssl

    for context in (tls.client_context(), tls.client_context(ca_file=ca.cert_file)):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2


def test_bad_settings_are_config_errors(ca, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(ConfigError, match="no such file"):
        tls.client_context(ca_file=tmp_path / "missing.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="not a PEM CA bundle"):
        tls.client_context(ca_file=garbage)
    with pytest.raises(ConfigError, match="needs its cert_file"):
        tls.client_context(key_file=tmp_path / "key.pem")
    # An encrypted key is refused at once: OpenSSL never gets to prompt for a pass phrase.
    holder = ca.issue("encrypted-client", client=True)
    key = serialization.load_pem_private_key(holder.key.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    holder.key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                             serialization.BestAvailableEncryption(b"pass phrase")))
    with pytest.raises(ConfigError, match="unencrypted PEM"):
        tls.client_context(cert_file=holder.cert, key_file=holder.key)
    with pytest.raises(ConfigError, match="tls = 'yes'"):
        tls.open_imap("127.0.0.1", 993, mode="yes")
