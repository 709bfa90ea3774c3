"""`[[rule]]` and `[[macro]]`: automation rules and macros as the configuration states them (see
`domain.automation` for what they do). A rule's condition is checked here, so a bad rule fails at
start, not in the middle of a sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helpdesk.core import query_syntax
from helpdesk.core.errors import ConfigError, HelpdeskError
from helpdesk.core.limits import NAME_RE, RULE_NAME_MAX
from helpdesk.config.checks import checked
from helpdesk.core.vocabulary import check_priority, check_status

EVENTS = ("created", "updated", "customer_replied", "status_changed", "sla_at_risk", "sla_breached", "time")
ACTIONS = ("set_priority", "set_queue", "set_field", "assign", "add_tag", "note", "reply", "status", "escalate")


@dataclass(frozen=True)
class Macro:
    name: str
    body: str
    status: str | None = None
    note: bool = False


@dataclass(frozen=True)
class Rule:
    name: str
    on: str
    when: str
    do: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Automation:
    rules: tuple[Rule, ...] = ()
    macros: dict = field(default_factory=dict)


def parse(raw: dict, known_queues: set[str], known_types: dict) -> Automation:
    macros: dict[str, Macro] = {}
    for i, m in enumerate(raw.get("macro", [])):
        for key in m:
            if key not in ("name", "body", "status", "note"):
                raise ConfigError(f"config: unknown key '{key}' in [[macro]] {m.get('name', i + 1)} "
                                  "(allowed: body, name, note, status)")
        if not m.get("name") or not m.get("body"):
            raise ConfigError("config: every [[macro]] needs a name and a body")
        status = checked(check_status, m["status"], f"macro '{m['name']}'") if m.get("status") else None
        macros[m["name"]] = Macro(name=m["name"], body=m["body"], status=status, note=bool(m.get("note")))
    rules = []
    for i, r in enumerate(raw.get("rule", [])):
        name = r.get("name") or f"rule {i + 1}"
        if not isinstance(name, str) or len(name) > RULE_NAME_MAX:
            raise ConfigError(f"config: [[rule]] {i + 1}: the name must be text of at most {RULE_NAME_MAX} characters")
        for key in r:
            if key not in ("name", "on", "when", "do"):
                raise ConfigError(f"config: unknown key '{key}' in [[rule]] '{name}' (allowed: do, name, on, when)")
        if r.get("on") not in EVENTS:
            raise ConfigError(f"config: rule '{name}': on = {r.get('on')!r} is not one of {', '.join(EVENTS)}")
        when = r.get("when", "")
        try:
            parsed = query_syntax.parse(when)
            query_syntax.check_static(parsed)
        except HelpdeskError as exc:
            raise ConfigError(f"config: rule '{name}': when: {exc}") from None
        for term in parsed.terms:
            if term.key.startswith("field."):
                fname = term.key[6:]
                if not any(t.field(fname) for t in known_types.values()):
                    raise ConfigError(f"config: rule '{name}': when: unknown field '{fname}'")
            if term.key == "queue" and term.value not in known_queues and term.value != "none":
                raise ConfigError(f"config: rule '{name}': when: unknown queue '{term.value}'")
        if r.get("on") == "time" and not any(t.key in query_syntax.TIME_KEYS for t in parsed.terms):
            raise ConfigError(f"config: rule '{name}': a time rule needs an in_status:, created: or updated: term")
        actions = []
        do = r.get("do", [])
        if isinstance(do, dict):
            do = [do]
        if not do:
            raise ConfigError(f"config: rule '{name}' has no actions (do = [...])")
        for action in do:
            if not isinstance(action, dict) or len(action) != 1:
                raise ConfigError(f"config: rule '{name}': each action is one key, like {{ add_tag = \"vip\" }}")
            (kind, value), = action.items()
            if kind not in ACTIONS:
                raise ConfigError(f"config: rule '{name}': unknown action '{kind}' (actions: {', '.join(ACTIONS)})")
            if kind == "reply" and value not in macros:
                raise ConfigError(f"config: rule '{name}': reply names unknown macro '{value}'")
            if kind == "set_queue" and value not in known_queues:
                raise ConfigError(f"config: rule '{name}': unknown queue '{value}'")
            if kind == "status":
                value = checked(check_status, value, f"rule '{name}'")
            if kind == "add_tag":
                for tag in value if isinstance(value, list) else [value]:
                    if not isinstance(tag, str) or not NAME_RE.match(tag):
                        raise ConfigError(f"config: rule '{name}': tag {tag!r} is not allowed (letters, digits and "
                                          ". _ + -, starting with a letter or digit, at most 64)")
            if kind == "set_priority":
                value = checked(check_priority, value, f"rule '{name}'")
            if kind == "set_field" and (not isinstance(value, dict) or not value):
                raise ConfigError(f"config: rule '{name}': set_field takes a table, like {{ set_field = {{ severity = \"high\" }} }}")
            actions.append((kind, value))
        rules.append(Rule(name=name, on=r["on"], when=when, do=tuple(actions)))
    return Automation(rules=tuple(rules), macros=macros)
