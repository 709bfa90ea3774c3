"""Real mail servers for the tests: Dovecot IMAP and an aiosmtpd SMTP server, both on loopback.

Dovecot is configured under a temporary folder on a free port with plaintext auth (loopback only).
Started as root, its login processes run as the unprivileged default login user, and the mail user is
`mail` (uid 8) with first_valid_uid = 1, owning the maildir.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER = "support"
PASSWORD = "secret-for-tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dovecot:
    root: Path
    port: int
    proc_pid: int | None = None

    def client(self):
        from imapclient import IMAPClient

        c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        c.login(USER, PASSWORD)
        return c

    def append(self, raw: bytes, folder: str = "INBOX", flags=()) -> None:
        c = self.client()
        try:
            c.append(folder, raw, flags=flags)
        finally:
            c.logout()

    def config_toml(self, *, processed_folder: str | None = None, max_bytes: int | None = None,
                    port: int | None = None, address: str = "support@desk.example") -> str:
        lines = [
            "[[mailbox]]",
            'name = "support"',
            f'address = "{address}"',
            'imap_host = "127.0.0.1"',
            f"imap_port = {port or self.port}",
            f'imap_user = "{USER}"',
            f'imap_password = "{PASSWORD}"',
            'imap_folder = "INBOX"',
            'tls = "none"',
        ]
        if processed_folder:
            lines.append(f'processed_folder = "{processed_folder}"')
        if max_bytes:
            lines.append(f"max_message_bytes = {max_bytes}")
        return "\n".join(lines) + "\n"

    def reset_mailbox(self) -> None:
        """Empty every folder (tests share one server)."""
        c = self.client()
        try:
            for _flags, _delim, name in c.list_folders():
                c.select_folder(name)
                uids = c.search("ALL")
                if uids:
                    c.delete_messages(uids)
                    c.expunge()
            for _flags, _delim, name in c.list_folders():
                if name not in ("INBOX",):
                    c.delete_folder(name)
        finally:
            c.logout()

    def bump_uidvalidity(self) -> None:
        """Recreate INBOX's index so the server hands out a new UIDVALIDITY (as after a restore)."""
        maildir = self.root / "mail" / USER / "Maildir"
        # Keep `dovecot-uidvalidity`: it is the counter that makes the next UIDVALIDITY larger. Without it
        # Dovecot takes the current time, which is the old value again within the same second.
        for name in ("dovecot-uidlist", "dovecot.index", "dovecot.index.cache", "dovecot.index.log"):
            for path in maildir.glob(name + "*"):
                path.unlink()
        subprocess.run(["doveadm", "-c", str(self.root / "dovecot.conf"), "force-resync", "-u", USER, "INBOX"],
                       check=False, capture_output=True)

    def stop(self) -> None:
        # SIGTERM to the master is what `dovecot stop` does, without its second and a half of polling.
        try:
            os.kill(int((self.root / "run" / "master.pid").read_text().split()[0]), signal.SIGTERM)
        except (OSError, ValueError):
            subprocess.run([DOVECOT, "-c", str(self.root / "dovecot.conf"), "stop"], stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if not (self.root / "run" / "master.pid").exists():
                break
            time.sleep(0.1)


def start_dovecot(root: Path, extra_conf: str = "") -> Dovecot:
    """Start a Dovecot under `root`; `extra_conf` is appended to its configuration (e.g. imap_capability)."""
    if not os.path.exists(DOVECOT):
        raise RuntimeError("dovecot is not installed (Debian package dovecot-imapd; scripts/test installs it)")
    mail = pwd.getpwnam("mail")
    port = free_port()
    root.mkdir(parents=True, exist_ok=True)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir(exist_ok=True)
    os.chown(root / "mail", mail.pw_uid, mail.pw_gid)
    os.chmod(root, 0o755)
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    conf = f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={root}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
"""
    (root / "dovecot.conf").write_text(conf + extra_conf)
    # Dovecot daemonises: its children would hold captured pipes open forever, so no capture here.
    subprocess.run([DOVECOT, "-c", str(root / "dovecot.conf")], check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = Dovecot(root, port)
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            server.client().logout()
            return server
        except Exception:
            time.sleep(0.1)
    log = (root / "dovecot.log").read_text() if (root / "dovecot.log").exists() else ""
    server.stop()
    raise RuntimeError(f"dovecot did not start: {log[-2000:]}")


@dataclass
class SmtpSink:
    """An aiosmtpd server that keeps what it receives; it can be told to refuse recipients."""

    port: int
    messages: list = field(default_factory=list)
    refuse: dict = field(default_factory=dict)  # address -> (code, text)
    controller: object = None
    # Set `hold` and DATA keeps the mail but does not answer until it is cleared: a sender can be
    # stopped in the middle of its SMTP conversation. `in_data` is set when a mail has arrived so.
    hold: threading.Event = field(default_factory=threading.Event)
    in_data: threading.Event = field(default_factory=threading.Event)

    def stop(self) -> None:
        self.hold.clear()
        if self.controller is not None:
            self.controller.stop()

    def wait_for(self, count: int, timeout: float = 10) -> list:
        deadline = time.time() + timeout
        while len(self.messages) < count and time.time() < deadline:
            time.sleep(0.05)
        return self.messages

    def config_toml(self) -> str:
        return f'[smtp]\nhost = "127.0.0.1"\nport = {self.port}\ntls = "none"\n'


def start_smtp() -> SmtpSink:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            if address.lower() in sink.refuse:
                code, text = sink.refuse[address.lower()]
                return f"{code} {text}"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):
            import asyncio

            sink.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
            if sink.hold.is_set():
                sink.in_data.set()
                while sink.hold.is_set():
                    await asyncio.sleep(0.05)
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=sink.port)
    controller.start()
    sink.controller = controller
    return sink
