"""`oauth2_provider = "command"`: a program the administrator configures prints an access token on its
standard output (the convention of aerc's `source-cred-cmd` and mutt's `imap_oauth_refresh_command`), so
the token helpers people already use (oama, mutt_oauth2.py, a vault CLI) work unchanged.

The command is a shell command line, as in aerc and mutt; it runs without a terminal (stdin is
/dev/null), with HELPDESK_MAILBOX and HELPDESK_MAIL_USER set, and is killed with its whole process group
after `timeout` seconds. It runs each time a token is needed: the helper keeps and renews its own grant.
Its first output line is the token, which is never printed or logged; a failure is one line with its exit
code and the last line it wrote to stderr.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess

from helpdesk.core.errors import ConfigError, ServiceUnavailable
from helpdesk.mail.oauth2.base import AccessToken, TokenProvider, first_line

COMMAND_TIMEOUT = 30.0
# RFC 6750's b64token: what a bearer token may consist of.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class CommandProvider(TokenProvider):
    provider = "command"
    flow = "command"

    def __init__(self, *, mailbox: str, user: str, command: str, timeout: float = COMMAND_TIMEOUT, **kwargs):
        super().__init__(mailbox=mailbox, user=user, **kwargs)
        if not command or not command.strip():
            raise ConfigError(f"mailbox {mailbox}: oauth2_command is empty")
        self.command = command
        self.timeout = timeout

    def _fetch(self, *, force: bool) -> AccessToken:
        where = f"mailbox {self.mailbox}: the token command"
        env = {**os.environ, "HELPDESK_MAILBOX": self.mailbox, "HELPDESK_MAIL_USER": self.user}
        try:
            process = subprocess.Popen(["/bin/sh", "-c", self.command], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                       start_new_session=True)
        except OSError as exc:
            raise ServiceUnavailable(f"{where} could not be started: {exc.strerror or exc}") from None
        try:
            out, err = process.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            raise ServiceUnavailable(f"{where} gave no token within {self.timeout:g} s") from None
        except BaseException:
            _kill_group(process)
            raise
        if process.returncode != 0:
            said = _last_line(err)
            status = (f"was killed by signal {-process.returncode}" if process.returncode < 0
                      else f"failed (exit {process.returncode})")
            raise ServiceUnavailable(f"{where} {status}" + (f": {said}" if said else ""))
        lines = [line.strip() for line in out.decode("ascii", "replace").splitlines() if line.strip()]
        if not lines:
            raise ServiceUnavailable(f"{where} printed no token")
        if not _TOKEN.fullmatch(lines[0]):
            # Not a bearer token (a prompt, an error, JSON): never echoed, it may hold a secret.
            raise ServiceUnavailable(f"{where} printed something that is not an access token on its first line")
        return AccessToken(lines[0], None)


def _last_line(data: bytes) -> str:
    lines = [line for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return first_line(lines[-1]) if lines else ""


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
