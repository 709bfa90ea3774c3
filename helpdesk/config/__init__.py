"""The desk's configuration: `config.toml`, read into typed dataclasses.

Unknown keys are refused by name, so a typo never silently does nothing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from helpdesk.config.automation import Automation, parse as parse_automation
from helpdesk.config.checks import checked
from helpdesk.config.sla import SlaSettings, parse_settings as parse_sla
from helpdesk.core import locations
from helpdesk.core.errors import ConfigError
from helpdesk.core.inputs import decode_utf8
from helpdesk.core.limits import IDENTIFIER_RE, NAME_MAX, NAME_RE, ORGANISATION_MAX
from helpdesk.core.vocabulary import check_priority, CONFIDENCE_LEVELS

FIELD_KINDS = ("text", "int", "number", "bool", "date", "choice")
TLS_MODES = ("ssl", "starttls", "none")
AUTH_MODES = ("password", "oauth2")
OAUTH2_PROVIDERS = ("microsoft", "google", "command")


@dataclass(frozen=True)
class FieldSpec:
    """One field of a ticket type: a column of the type's extension table."""

    name: str
    kind: str
    options: tuple[str, ...] = ()
    required: bool = False
    label: str = ""


@dataclass(frozen=True)
class TicketType:
    """A business type: configuration plus an extension table, never a change to the core."""

    name: str
    label: str
    fields: tuple[FieldSpec, ...] = ()
    queue: str | None = None  # the queue new tickets of this type land in
    skills: tuple[str, ...] = ()  # what an agent needs to take it (routing)

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None


@dataclass(frozen=True)
class QueueSpec:
    name: str
    description: str = ""
    lead: str | None = None  # agent login
    auto_assign: bool = False


@dataclass(frozen=True)
class OrganisationSpec:
    """A customer organisation and the mail domains it owns: a new customer writing from one of them
    belongs to it (and so to its SLA policies)."""

    name: str
    domains: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MailLogin:
    """How a mailbox or `[smtp]` logs in and what TLS it trusts: the settings both share, checked by
    `_mail_auth`."""

    # "password", or "oauth2" (XOAUTH2) with a token from `oauth2_provider`.
    auth: str = "password"
    oauth2_provider: str | None = None  # microsoft | google | command
    oauth2_client_id: str | None = None
    oauth2_client_secret: str | None = None
    oauth2_client_secret_env: str | None = None  # a secret: a Microsoft service principal, a Google client
    oauth2_tenant: str | None = None  # Microsoft: the tenant's id or domain
    oauth2_authority: str | None = None  # Microsoft: the sign-in host (national clouds, tests)
    oauth2_scopes: tuple[str, ...] = ()  # default: the provider's mail scopes
    oauth2_service_account_file: str | None = None  # Google: a service account key with domain-wide delegation
    oauth2_auth_uri: str | None = None  # Google: the authorization and token endpoints (tests)
    oauth2_token_uri: str | None = None
    oauth2_redirect_port: int = 0  # Google: the loopback port the browser comes back to (0: any free one)
    oauth2_command: str | None = None  # command: prints an access token on its first line
    oauth2_command_timeout: float = 30.0
    oauth2_ca_file: str | None = None  # the CA bundle to trust for the token endpoints
    # TLS: trust `ca_file` (a PEM bundle) instead of the system store; present a client certificate.
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    def client_secret(self) -> str | None:
        if self.oauth2_client_secret_env:
            return os.environ.get(self.oauth2_client_secret_env) or None
        return self.oauth2_client_secret


@dataclass(frozen=True)
class MailboxSpec(MailLogin):
    name: str
    address: str
    imap_host: str
    imap_port: int = 993
    imap_user: str = ""
    imap_password: str | None = None
    imap_password_env: str | None = None
    imap_folder: str = "INBOX"
    tls: str = "ssl"
    processed_folder: str | None = None
    queue: str | None = None
    max_message_bytes: int = 25 * 1024 * 1024
    idle: bool = True  # the daemon watches it with IMAP IDLE where the server offers it

    def password(self) -> str:
        if self.imap_password_env:
            return os.environ.get(self.imap_password_env, "")
        return self.imap_password or ""


@dataclass(frozen=True)
class SmtpSpec(MailLogin):
    host: str = "localhost"
    port: int = 587
    tls: str = "starttls"
    user: str | None = None
    password: str | None = None
    password_env: str | None = None


AI_LEVELS = CONFIDENCE_LEVELS
AI_ALIASES = {"timeout": "read_timeout", "auto_apply": "apply"}  # INTERFACE.md's name -> ours
AI_APPLY_FIELDS = ("category", "priority", "sentiment")


@dataclass(frozen=True)
class AiSpec:
    """`[ai]`: AI assistance. Off unless `enabled` (ticket text then goes to `ollama_host` and nowhere else)."""

    enabled: bool = False
    ollama_host: str = "http://127.0.0.1:11434"
    model: str = "llama3.2"
    embed_model: str = "nomic-embed-text"
    use_ollama: bool = True  # false: the offline classifier only, nothing leaves the machine
    connect_timeout: float = 3.0  # seconds; the client's own default is none at all
    read_timeout: float = 30.0
    keep_alive: str = "5m"
    num_ctx: int = 4096
    categories: tuple[str, ...] = ()  # what the model chooses from; empty: the desk's ticket types
    minimum_level: str = "medium"  # suggestions below this confidence level are not offered
    apply: tuple[str, ...] = ("category", "sentiment", "priority")  # applied without a person...
    apply_level: str = "high"  # ...when at least this confident (priority: only upward, never to P0)
    retrain_after: int = 50  # the daemon retrains once this many new labelled tickets exist


@dataclass(frozen=True)
class TuiSection:
    """`[tui]` as written, its kinds checked: the TUI makes its settings of it when it starts and checks
    what only it knows (key names and clashes, themes, column ids), each mistake one line."""

    theme: str | None = None  # dark | light | a Textual theme name; None: the TUI's default
    keys: tuple[tuple[str, str], ...] = ()  # [tui.keys]: (binding id, keys) over the defaults
    columns: tuple[str, ...] | None = None  # the queue's column ids in order; None: the default set
    views: tuple[tuple[str, str], ...] = ()  # saved views (name, query): [tui.views], then [[view]]
    start_view: str | None = None  # the view the queue opens on (by name); None: all open, most urgent first


@dataclass(frozen=True)
class Config:
    desk_name: str = "helpdesk"
    timezone: str = "UTC"
    default_priority: str = "P2"
    agent: str | None = None  # [me] agent
    database_url: str | None = None
    types: tuple[TicketType, ...] = ()
    queues: tuple[QueueSpec, ...] = ()
    default_queue: str | None = None  # where a ticket lands when neither its type nor its channel names a queue
    organisations: tuple[OrganisationSpec, ...] = ()
    mailboxes: tuple[MailboxSpec, ...] = ()
    smtp: SmtpSpec | None = None
    ai: AiSpec = field(default_factory=AiSpec)
    tui: TuiSection = field(default_factory=TuiSection)
    # Parsed once, with the rest: `[sla]`, `[calendar.NAME]`; `[[rule]]`, `[[macro]]`.
    sla: SlaSettings = field(default_factory=lambda: parse_sla({}, "UTC", set()), compare=False, repr=False)
    automation: Automation = field(default_factory=Automation, compare=False, repr=False)
    source: Path | None = None
    raw: dict = field(default_factory=dict, compare=False, repr=False)

    def type(self, name: str) -> TicketType | None:
        for t in self.types:
            if t.name == name:
                return t
        return None

    def queue(self, name: str) -> QueueSpec | None:
        for q in self.queues:
            if q.name == name:
                return q
        return None

    def types_fingerprint(self) -> str:
        """A hash of the type definitions: the store re-syncs extension tables only when it changes."""
        payload = [dataclasses.asdict(t) for t in self.types]
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def _check_keys(section: str, table: dict, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"config: unknown key '{key}' in [{section}] (allowed: {', '.join(sorted(allowed))})")


def _expect(section: str, key: str, value: Any, kind: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"config: [{section}] {key} must be {name}, not {value!r}")
    return value


def _name(section: str, key: str, value: Any) -> str:
    """A type or field name: it names a table or a column (limits.IDENTIFIER_RE)."""
    _expect(section, key, value, str)
    if not IDENTIFIER_RE.match(value):
        raise ConfigError(
            f"config: [{section}] {key} = {value!r} is not a valid name (lower-case letters, digits, underscores, "
            "starting with a letter, at most 48)"
        )
    return value


def _queue_name(value: Any) -> str:
    """A queue name: scripts match on it (`queue:NAME`, agents' queue lists), so a safe one (limits.NAME_RE)."""
    _expect("queue", "name", value, str)
    if not NAME_RE.match(value):
        raise ConfigError(f"config: [queue] name = {value!r} is not a valid queue name (letters, digits and "
                          f". _ + -, starting with a letter or digit, at most {NAME_MAX})")
    return value


def parse_field(type_name: str, name: str, spec: Any) -> FieldSpec:
    section = f"type.{type_name}.fields"
    _name(section, "field name", name)
    if isinstance(spec, str):
        if spec not in FIELD_KINDS:
            raise ConfigError(f"config: field '{name}' of type '{type_name}' has unknown kind '{spec}' "
                              f"(kinds: {', '.join(FIELD_KINDS)})")
        if spec == "choice":
            raise ConfigError(f"config: choice field '{name}' of type '{type_name}' needs options: "
                              f"{name} = {{ kind = \"choice\", options = [\"a\", \"b\"] }}")
        return FieldSpec(name=name, kind=spec)
    if isinstance(spec, dict):
        _check_keys(f"{section}.{name}", spec, {"kind", "options", "required", "label"})
        kind = spec.get("kind", "text")
        if kind not in FIELD_KINDS:
            raise ConfigError(f"config: field '{name}' of type '{type_name}' has unknown kind '{kind}' "
                              f"(kinds: {', '.join(FIELD_KINDS)})")
        options = tuple(str(o) for o in _expect(f"{section}.{name}", "options", spec.get("options", []), list))
        if kind == "choice" and not options:
            raise ConfigError(f"config: choice field '{name}' of type '{type_name}' needs at least one option")
        required = _expect(f"{section}.{name}", "required", spec.get("required", False), bool)
        label = _expect(f"{section}.{name}", "label", spec.get("label", ""), str)
        return FieldSpec(name=name, kind=kind, options=options, required=required, label=label)
    raise ConfigError(f"config: field '{name}' of type '{type_name}' must be a kind name or a table")


RESERVED_FIELD_NAMES = {  # names the main table, the input keys or an export already use
    "ticket_id", "ticket", "id", "number", "title", "body", "description", "type", "status", "priority",
    "queue", "assignee", "customer", "customer_name", "organisation", "channel", "tags", "key",
    "idempotency_key", "fields", "field", "created_at", "updated_at", "first_response_at", "resolved_at",
    "closed_at", "version", "sla_state", "sla_due_at", "sla_risk_at", "merged_into", "parent", "conversation"}


def parse_type(raw: dict) -> TicketType:
    _check_keys("type", raw, {"name", "label", "fields", "queue", "skills"})
    if "name" not in raw:
        raise ConfigError("config: every [[type]] needs a name")
    name = _name("type", "name", raw["name"])
    fields_raw = _expect(f"type.{name}", "fields", raw.get("fields", {}), dict)
    specs = []
    for fname, fspec in fields_raw.items():
        if fname in RESERVED_FIELD_NAMES:
            raise ConfigError(f"config: field name '{fname}' of type '{name}' is reserved")
        specs.append(parse_field(name, fname, fspec))
    skills = tuple(_expect(f"type.{name}", "skills", raw.get("skills", []), list))
    queue = raw.get("queue")
    if queue is not None:
        _expect(f"type.{name}", "queue", queue, str)
    return TicketType(
        name=name,
        label=_expect(f"type.{name}", "label", raw.get("label", name.replace("_", " ").capitalize()), str),
        fields=tuple(specs),
        queue=queue,
        skills=tuple(str(s) for s in skills),
    )


KNOWN_SECTIONS = {"desk", "me", "database", "mailbox", "smtp", "ai", "type", "queue", "organisation", "tui", "view",
                  # sections other capabilities read; accepted here so one file configures the whole desk
                  "sla", "calendar", "rule", "macro", "ratings"}


def parse(data: dict, source: Path | None = None) -> Config:
    _check_keys("top level", data, KNOWN_SECTIONS)
    desk = _expect("desk", "desk", data.get("desk", {}), dict)
    _check_keys("desk", desk, {"name", "timezone", "default_priority", "default_queue"})
    me = _expect("me", "me", data.get("me", {}), dict)
    _check_keys("me", me, {"agent"})
    database = _expect("database", "database", data.get("database", {}), dict)
    _check_keys("database", database, {"url"})

    types = [parse_type(_expect("type", "type", t, dict)) for t in _expect("type", "type", data.get("type", []), list)]
    seen: set[str] = set()
    for t in types:
        if t.name in seen:
            raise ConfigError(f"config: type '{t.name}' is defined twice")
        seen.add(t.name)

    queues = []
    for q in _expect("queue", "queue", data.get("queue", []), list):
        _expect("queue", "queue", q, dict)
        _check_keys("queue", q, {"name", "description", "lead", "auto_assign"})
        if "name" not in q:
            raise ConfigError("config: every [[queue]] needs a name")
        queues.append(QueueSpec(
            name=_queue_name(q["name"]),
            description=_expect("queue", "description", q.get("description", ""), str),
            lead=q.get("lead"),
            auto_assign=_expect("queue", "auto_assign", q.get("auto_assign", False), bool),
        ))
    queue_names = {q.name for q in queues}
    for t in types:
        if t.queue and t.queue not in queue_names:
            raise ConfigError(f"config: type '{t.name}' names unknown queue '{t.queue}'")

    default_queue = desk.get("default_queue")
    if default_queue is not None:
        _expect("desk", "default_queue", default_queue, str)
        if default_queue not in queue_names:
            raise ConfigError(f"config: [desk] default_queue '{default_queue}' is not a configured [[queue]]")
    elif queues:
        default_queue = queues[0].name
    organisations = parse_organisations(_expect("organisation", "organisation", data.get("organisation", []), list))

    mailboxes = []
    allowed_mb = {f.name for f in dataclasses.fields(MailboxSpec)} | {"oauth2_token_command"}
    for mb in _expect("mailbox", "mailbox", data.get("mailbox", []), list):
        _check_keys("mailbox", mb, allowed_mb)
        for key in ("name", "address", "imap_host"):
            if key not in mb:
                raise ConfigError(f"config: every [[mailbox]] needs '{key}'")
        if mb.get("tls", "ssl") not in TLS_MODES:
            raise ConfigError(f"config: [mailbox] tls must be one of {', '.join(TLS_MODES)}")
        section = f"mailbox {mb['name']}"
        _expect(section, "idle", mb.get("idle", True), bool)
        mailboxes.append(MailboxSpec(**_mail_auth(section, mb, mb.get("imap_user") or mb["address"])))
    names = [m.name for m in mailboxes]

    smtp = None
    if "smtp" in data:
        allowed = {f.name for f in dataclasses.fields(SmtpSpec)} | {"oauth2_token_command"}
        _check_keys("smtp", data["smtp"], allowed)
        if data["smtp"].get("tls", "starttls") not in TLS_MODES:
            raise ConfigError(f"config: [smtp] tls must be one of {', '.join(TLS_MODES)}")
        smtp = SmtpSpec(**_mail_auth("smtp", data["smtp"], data["smtp"].get("user")))
        if smtp.auth == "oauth2" and SMTP_GRANT in names:
            raise ConfigError(f"config: a [[mailbox]] named '{SMTP_GRANT}' and [smtp] auth = \"oauth2\" would share "
                              "one sign-in: rename the mailbox")

    ai = parse_ai(_expect("ai", "ai", data.get("ai", {}), dict))
    tui = parse_tui(_expect("tui", "tui", data.get("tui", {}), dict), _expect("view", "view", data.get("view", []), list))

    default_priority = checked(check_priority, desk.get("default_priority", "P2"), "[desk] default_priority")

    ratings = _expect("ratings", "ratings", data.get("ratings", {}), dict)
    _check_keys("ratings", ratings, {"enabled"})
    _expect("ratings", "enabled", ratings.get("enabled", True), bool)
    # Parsed now, so a bad policy or rule is an error at start, not in the middle of a sweep.
    sla = parse_sla(data, desk.get("timezone", "UTC"), queue_names)
    automation = parse_automation(data, queue_names, {t.name: t for t in types})

    return Config(
        desk_name=desk.get("name", "helpdesk"),
        timezone=desk.get("timezone", "UTC"),
        default_priority=default_priority,
        agent=me.get("agent"),
        database_url=database.get("url"),
        types=tuple(types),
        queues=tuple(queues),
        default_queue=default_queue,
        organisations=organisations,
        mailboxes=tuple(mailboxes),
        smtp=smtp,
        ai=ai,
        tui=tui,
        sla=sla,
        automation=automation,
        source=source,
        raw=data,
    )


SMTP_GRANT = "smtp"  # the name `helpdesk mail login` knows [smtp]'s own OAuth2 sign-in by


def _mail_auth(section: str, table: dict, user: str | None) -> dict:
    """Check a mailbox's or [smtp]'s authentication and TLS settings; the table, typed, for its spec."""
    table = dict(table)
    if "oauth2_token_command" in table:  # INTERFACE.md's name for it
        if "oauth2_command" in table:
            raise ConfigError(f"config: [{section}] set oauth2_token_command or oauth2_command, not both")
        table["oauth2_command"] = table.pop("oauth2_token_command")
    for key in ("ca_file", "client_cert", "client_key", "oauth2_provider", "oauth2_client_id", "oauth2_client_secret",
                "oauth2_client_secret_env", "oauth2_tenant", "oauth2_authority", "oauth2_service_account_file",
                "oauth2_auth_uri", "oauth2_token_uri", "oauth2_command", "oauth2_ca_file"):
        if key in table:
            _expect(section, key, table[key], str)
    auth = _expect(section, "auth", table.get("auth", "password"), str)
    if auth not in AUTH_MODES:
        raise ConfigError(f"config: [{section}] auth = {auth!r}: must be one of {', '.join(AUTH_MODES)}")
    if table.get("client_key") and not table.get("client_cert"):
        raise ConfigError(f"config: [{section}] client_key needs its client_cert")
    if "oauth2_scopes" in table:
        scopes = _expect(section, "oauth2_scopes", table["oauth2_scopes"], list)
        table["oauth2_scopes"] = tuple(_expect(section, "oauth2_scopes", scope, str) for scope in scopes)
    port = _expect(section, "oauth2_redirect_port", table.get("oauth2_redirect_port", 0), int)
    if not 0 <= port <= 65535:
        raise ConfigError(f"config: [{section}] oauth2_redirect_port must be a port number (0: any free one)")
    timeout = _expect(section, "oauth2_command_timeout", table.get("oauth2_command_timeout", 30.0), (int, float))
    if timeout <= 0:
        raise ConfigError(f"config: [{section}] oauth2_command_timeout must be more than 0 seconds")
    if "oauth2_command_timeout" in table:
        table["oauth2_command_timeout"] = float(timeout)
    oauth2_keys = sorted(key for key in table if key.startswith("oauth2_"))
    if auth != "oauth2":
        if oauth2_keys:
            raise ConfigError(f"config: [{section}] {oauth2_keys[0]} is set but auth is not \"oauth2\" "
                              "(add auth = \"oauth2\")")
        return table
    provider = table.get("oauth2_provider")
    if provider not in OAUTH2_PROVIDERS:
        raise ConfigError(f"config: [{section}] auth = \"oauth2\" needs oauth2_provider = one of "
                          f"{', '.join(OAUTH2_PROVIDERS)}" + (f" (not {provider!r})" if provider else ""))
    if not user:
        raise ConfigError(f"config: [{section}] auth = \"oauth2\" needs the account to log in as "
                          f"({'user' if section == 'smtp' else 'imap_user'})")
    for key in ("password", "password_env", "imap_password", "imap_password_env"):
        if table.get(key):
            raise ConfigError(f"config: [{section}] {key} is set but auth = \"oauth2\" logs in with a token")
    needed = {"microsoft": ("oauth2_client_id",), "command": ("oauth2_command",), "google": ()}[provider]
    for key in needed:
        if not table.get(key):
            raise ConfigError(f"config: [{section}] oauth2_provider = \"{provider}\" needs {key}")
    if provider == "google" and not table.get("oauth2_service_account_file") and not table.get("oauth2_client_id"):
        raise ConfigError(f"config: [{section}] oauth2_provider = \"google\" needs oauth2_client_id and a "
                          "client secret (a Desktop app client), or oauth2_service_account_file")
    if table.get("oauth2_client_secret") and table.get("oauth2_client_secret_env"):
        raise ConfigError(f"config: [{section}] set oauth2_client_secret or oauth2_client_secret_env, not both")
    foreign = {"microsoft": ("oauth2_command", "oauth2_service_account_file", "oauth2_auth_uri", "oauth2_token_uri"),
               "google": ("oauth2_command", "oauth2_tenant", "oauth2_authority"),
               "command": ("oauth2_client_id", "oauth2_client_secret", "oauth2_client_secret_env", "oauth2_tenant",
                           "oauth2_authority", "oauth2_service_account_file", "oauth2_auth_uri", "oauth2_token_uri",
                           "oauth2_scopes")}[provider]
    for key in foreign:
        if table.get(key):
            raise ConfigError(f"config: [{section}] {key} does not apply to oauth2_provider = \"{provider}\"")
    return table


def parse_ai(raw: dict) -> AiSpec:
    """`[ai]`, every key checked for its kind and range."""
    # INTERFACE.md's names for two settings: `timeout` (the model's answer) and `auto_apply`.
    for alias, key in AI_ALIASES.items():
        if alias in raw:
            if key in raw:
                raise ConfigError(f"config: [ai] set {alias} or {key}, not both (they are one setting)")
            raw = {**{k: v for k, v in raw.items() if k != alias}, key: raw[alias]}
    _check_keys("ai", raw, {f.name for f in dataclasses.fields(AiSpec)})
    # An [ai] section turns AI on unless it says `enabled = false` (the shipped config does, until a
    # model is there); with no section at all it stays off.
    values: dict[str, Any] = {"enabled": bool(raw)}
    for key in ("enabled", "use_ollama"):
        if key in raw:
            values[key] = _expect("ai", key, raw[key], bool)
    for key in ("ollama_host", "model", "embed_model", "keep_alive"):
        if key in raw:
            values[key] = _expect("ai", key, raw[key], str).strip()
            if not values[key]:
                raise ConfigError(f"config: [ai] {key} cannot be empty")
    for key in ("connect_timeout", "read_timeout"):
        if key in raw:
            value = float(_expect("ai", key, raw[key], (int, float)))
            if not 0 < value <= 3600:
                raise ConfigError(f"config: [ai] {key} must be between 0 and 3600 seconds, not {raw[key]!r}")
            values[key] = value
    for key, low in (("num_ctx", 512), ("retrain_after", 1)):
        if key in raw:
            values[key] = _expect("ai", key, raw[key], int)
            if values[key] < low:
                raise ConfigError(f"config: [ai] {key} must be at least {low}, not {raw[key]!r}")
    for key in ("minimum_level", "apply_level"):
        if key in raw:
            values[key] = _expect("ai", key, raw[key], str)
            if values[key] not in AI_LEVELS:
                raise ConfigError(f"config: [ai] {key} must be one of {', '.join(AI_LEVELS)}, not {raw[key]!r}")
    if "categories" in raw:
        categories = [_expect("ai", "categories", c, str).strip() for c in _expect("ai", "categories", raw["categories"], list)]
        if any(not c for c in categories) or len(set(categories)) != len(categories):
            raise ConfigError("config: [ai] categories must be distinct, non-empty names")
        values["categories"] = tuple(categories)
    if "apply" in raw:
        fields = [_expect("ai", "apply", f, str) for f in _expect("ai", "apply", raw["apply"], list)]
        unknown = [f for f in fields if f not in AI_APPLY_FIELDS]
        if unknown:
            raise ConfigError(f"config: [ai] apply names {', '.join(map(repr, unknown))}: "
                              f"it can name {', '.join(AI_APPLY_FIELDS)}")
        values["apply"] = tuple(dict.fromkeys(fields))
    return AiSpec(**values)


def parse_tui(raw: dict, views: list) -> TuiSection:
    """`[tui]` (theme, columns, `[tui.keys]`, `[tui.views]` name = query) and `[[view]]` name, query."""
    _check_keys("tui", raw, {"theme", "keys", "columns", "views", "start_view"})
    theme = _expect("tui", "theme", raw["theme"], str) if "theme" in raw else None
    start_view = _expect("tui", "start_view", raw["start_view"], str) if "start_view" in raw else None
    keys = []
    for binding_id, value in _expect("tui", "keys", raw.get("keys", {}), dict).items():
        if not isinstance(value, str):
            raise ConfigError(f"config: [tui.keys] {binding_id} must be a string of keys, e.g. "
                              f"{binding_id} = \"x\" or \"x,ctrl+x\", not {value!r}")
        keys.append((binding_id, value))
    columns = None
    if "columns" in raw:
        columns = tuple(_expect("tui", "columns", c, str) for c in _expect("tui", "columns", raw["columns"], list))
    saved = []
    for name, query in _expect("tui", "views", raw.get("views", {}), dict).items():
        saved.append((name, _expect("tui.views", name, query, str)))
    for table in views:
        _expect("view", "view", table, dict)
        _check_keys("view", table, {"name", "query"})
        if "name" not in table or "query" not in table:
            raise ConfigError("config: every [[view]] needs a name and a query")
        saved.append((_expect("view", "name", table["name"], str), _expect("view", "query", table["query"], str)))
    return TuiSection(theme=theme, keys=tuple(keys), columns=columns, views=tuple(saved), start_view=start_view)


DOMAIN_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$")


def parse_organisations(raw: list) -> tuple[OrganisationSpec, ...]:
    """`[[organisation]] name, domains`: each domain belongs to one organisation."""
    out = []
    owner: dict[str, str] = {}
    for table in raw:
        _expect("organisation", "organisation", table, dict)
        _check_keys("organisation", table, {"name", "domains"})
        name = _expect("organisation", "name", table.get("name"), str).strip()
        if not name:
            raise ConfigError("config: every [[organisation]] needs a name")
        if len(name) > ORGANISATION_MAX:
            raise ConfigError(f"config: [[organisation]] name is longer than {ORGANISATION_MAX} characters")
        domains = []
        for domain in _expect(f"organisation {name}", "domains", table.get("domains", []), list):
            domain = _expect(f"organisation {name}", "domains", domain, str).strip().lower().lstrip("@")
            if not DOMAIN_RE.match(domain):
                raise ConfigError(f"config: [[organisation]] {name}: '{domain}' is not a mail domain")
            if domain in owner and owner[domain] != name:
                raise ConfigError(f"config: mail domain '{domain}' belongs to two organisations "
                                  f"({owner[domain]} and {name})")
            owner[domain] = name
            domains.append(domain)
        out.append(OrganisationSpec(name=name, domains=tuple(domains)))
    return tuple(out)


def load(path: Path | None = None) -> Config:
    """Read the desk's config file; a missing file is an empty desk (defaults everywhere)."""
    path = path or locations.config_file()
    if not path.exists():
        return parse({}, None)
    try:
        data = tomllib.loads(decode_utf8(path.read_bytes(), f"config: {path}"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config: {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"config: cannot read {path}: {exc.strerror}") from None
    return parse(data, path)
