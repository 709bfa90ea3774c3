"""The configuration example of the product's outside contract (INTERFACE.md, "Configuration"), as
users copy it: every key there is read, under the name it has there."""

from __future__ import annotations

import tomllib

import pytest

from helpdesk.config import parse
from helpdesk.core.errors import ConfigError

INTERFACE_EXAMPLE = '''
[desk]
name = "Acme IT"
timezone = "Europe/Berlin"

[[mailbox]]
name = "support"
address = "support@acme.example"
imap_host = "imap.acme.example"
imap_port = 993
imap_user = "support"
imap_password_env = "HELPDESK_IMAP_PASSWORD"
imap_folder = "INBOX"
tls = "ssl"

[smtp]
host = "smtp.acme.example"
port = 587
tls = "starttls"
user = "support"
password_env = "HELPDESK_SMTP_PASSWORD"

[ai]
ollama_host = "http://127.0.0.1:11434"
model = "llama3.2"
timeout = 30
auto_apply = ["category", "sentiment"]

[tui]
theme = "textual-dark"
[tui.keys]
reply = "r"

[[view]]
name = "My breaches"
query = "assignee:me sla:breached"

[[type]]
name = "equipment_repair"
label = "Equipment repair"
fields = { serial_number = "text", fault_code = "text", spare_parts = "text", under_warranty = "bool" }
'''


def test_the_interface_example_reads_as_written():
    config = parse(tomllib.loads(INTERFACE_EXAMPLE))
    assert (config.desk_name, config.timezone) == ("Acme IT", "Europe/Berlin")
    assert config.mailboxes[0].imap_password_env == "HELPDESK_IMAP_PASSWORD"
    assert config.smtp.password_env == "HELPDESK_SMTP_PASSWORD"
    # `timeout` is the model's answer time, `auto_apply` what applies without a person; an [ai]
    # section turns AI on.
    assert (config.ai.enabled, config.ai.read_timeout, config.ai.apply) == (True, 30.0, ("category", "sentiment"))
    assert config.tui.theme == "textual-dark" and config.tui.keys == (("reply", "r"),)
    assert config.tui.views == (("My breaches", "assignee:me sla:breached"),)
    assert [f.name for f in config.type("equipment_repair").fields] == [
        "serial_number", "fault_code", "spare_parts", "under_warranty"]


def test_the_interface_oauth2_token_command_is_the_command_provider():
    mailbox = {"name": "support", "address": "support@acme.example", "imap_host": "imap.acme.example",
               "imap_user": "support", "auth": "oauth2", "oauth2_provider": "command",
               "oauth2_token_command": "pass show mail/token"}
    assert parse({"mailbox": [mailbox]}).mailboxes[0].oauth2_command == "pass show mail/token"
    with pytest.raises(ConfigError, match="not both"):
        parse({"mailbox": [{**mailbox, "oauth2_command": "other"}]})


@pytest.mark.parametrize("ai", [{"timeout": 5, "read_timeout": 5}, {"auto_apply": ["sentiment"], "apply": []}])
def test_one_setting_under_two_names_is_refused(ai):
    with pytest.raises(ConfigError, match="not both"):
        parse({"ai": ai})


def test_ai_stays_off_without_a_section_or_when_the_section_says_so():
    assert parse({}).ai.enabled is False
    assert parse({"ai": {"enabled": False, "model": "llama3.2"}}).ai.enabled is False
