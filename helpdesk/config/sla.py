"""`[sla]`, `[[sla.policy]]` and `[calendar.NAME]`: SLA policies and the calendars they count on, as the
configuration states them. `domain.sla` runs the clocks."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from helpdesk.config.calendar import ALWAYS_OPEN, CalendarSpec, parse_calendar
from helpdesk.config.checks import checked
from helpdesk.core.errors import ConfigError
from helpdesk.core.vocabulary import check_priority, SLA_ACTIONS, SLA_KINDS

DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(m|min|h|d|bd)\s*$")
DEFAULT_POLICIES = [
    # name, priority, first response, resolution, calendar
    ("P0", "P0", "15m", "4h", "24x7"),
    ("P1", "P1", "2h", "1bd", None),
    ("P2", "P2", "24h", "3bd", None),
    ("P3", "P3", "3bd", "7bd", None),
]


@dataclass(frozen=True)
class Policy:
    name: str
    priority: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    targets: dict = field(default_factory=dict)  # kind -> minutes of business time
    calendar: str = "default"
    on_at_risk: tuple[str, ...] = ("notify",)
    on_breach: tuple[str, ...] = ("notify",)

    def matches(self, priority: str, type_: str | None, organisation: str | None) -> bool:
        return ((not self.priority or priority in self.priority)
                and (not self.types or type_ in self.types)
                and (not self.organisations or organisation in self.organisations))

    @property
    def specificity(self) -> int:
        return bool(self.organisations) * 4 + bool(self.types) * 2 + bool(self.priority)


@dataclass(frozen=True)
class SlaSettings:
    at_risk: float = 0.8
    business_day_hours: float = 8.0
    calendars: dict = field(default_factory=dict)  # name -> CalendarSpec
    policies: tuple[Policy, ...] = ()

    def calendar(self, name: str) -> CalendarSpec:
        return self.calendars.get(name) or ALWAYS_OPEN

    def policy_for(self, priority: str, type_: str | None, organisation: str | None) -> Policy | None:
        matching = [p for p in self.policies if p.matches(priority, type_, organisation)]
        if not matching:
            return None
        # The most specific policy wins (organisation > type > priority); ties: the first listed.
        return max(matching, key=lambda p: (p.specificity, -self.policies.index(p)))


def parse_duration(text: Any, where: str, *, business_day_hours: float, always_open: bool) -> int:
    """"15m", "2h", "3d" (24 h of business time), "2bd" (business days) -> minutes."""
    match = DURATION_RE.match(str(text))
    if not match:
        raise ConfigError(f"config: {where}: '{text}' is not a duration like 15m, 4h, 3d or 2bd")
    value, unit = float(match.group(1)), match.group(2)
    minutes = {"m": 1, "min": 1, "h": 60, "d": 24 * 60,
               "bd": 24 * 60 if always_open else business_day_hours * 60}[unit] * value
    if minutes <= 0:
        raise ConfigError(f"config: {where}: a target must be longer than zero")
    return int(round(minutes))


def parse_settings(raw: dict, default_timezone: str, queue_names: set[str]) -> SlaSettings:
    sla = raw.get("sla", {})
    if not isinstance(sla, dict):
        raise ConfigError("config: [sla] must be a table")
    allowed = {"at_risk", "business_day_hours", "calendar", "policy"}
    for key in sla:
        if key not in allowed:
            raise ConfigError(f"config: unknown key '{key}' in [sla] (allowed: {', '.join(sorted(allowed))})")
    at_risk = sla.get("at_risk", 0.8)
    if not isinstance(at_risk, (int, float)) or not 0 < at_risk < 1:
        raise ConfigError(f"config: [sla] at_risk must be a share between 0 and 1, not {at_risk!r}")
    day_hours = sla.get("business_day_hours", 8)
    if not isinstance(day_hours, (int, float)) or not 0 < day_hours <= 24:
        raise ConfigError(f"config: [sla] business_day_hours must be 1..24, not {day_hours!r}")

    calendars: dict[str, CalendarSpec] = {"24x7": ALWAYS_OPEN}
    raw_calendars = raw.get("calendar", {})
    if not isinstance(raw_calendars, dict):
        raise ConfigError("config: [calendar.NAME] tables expected")
    for name, table in raw_calendars.items():
        if not isinstance(table, dict):
            raise ConfigError(f"config: [calendar.{name}] must be a table")
        calendars[name] = parse_calendar(name, table, default_timezone)
    default_calendar = sla.get("calendar") or ("default" if "default" in calendars else "24x7")
    if default_calendar not in calendars:
        raise ConfigError(f"config: [sla] calendar '{default_calendar}' is not defined ([calendar.{default_calendar}])")

    raw_policies = sla.get("policy")
    if raw_policies is None:
        raw_policies = [{"name": n, "priority": [p], "first_response": fr, "resolution": res,
                         **({"calendar": cal} if cal else {})} for n, p, fr, res, cal in DEFAULT_POLICIES]
    policies = []
    for i, rp in enumerate(raw_policies):
        where = f"sla.policy[{i}]"
        allowed = {"name", "priority", "type", "organisation", "calendar", "first_response", "next_update",
                   "resolution", "on_at_risk", "on_breach"}
        for key in rp:
            if key not in allowed:
                raise ConfigError(f"config: unknown key '{key}' in [[{where}]] (allowed: {', '.join(sorted(allowed))})")
        name = rp.get("name") or f"policy {i + 1}"
        cal_name = rp.get("calendar", default_calendar)
        if cal_name not in calendars:
            raise ConfigError(f"config: SLA policy '{name}' names unknown calendar '{cal_name}'")
        always = calendars[cal_name].always_open
        targets = {}
        for kind in SLA_KINDS:
            if rp.get(kind) is not None:
                targets[kind] = parse_duration(rp[kind], f"SLA policy '{name}' {kind}",
                                               business_day_hours=day_hours, always_open=always)
        if not targets:
            raise ConfigError(f"config: SLA policy '{name}' sets no target (first_response, next_update, resolution)")

        def listed(key: str) -> tuple[str, ...]:
            value = rp.get(key, [])
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list):
                raise ConfigError(f"config: SLA policy '{name}' {key} must be a list")
            return tuple(str(v) for v in value)

        priorities = tuple(checked(check_priority, p, f"SLA policy '{name}'") for p in listed("priority"))
        actions = {}
        for key in ("on_at_risk", "on_breach"):
            value = listed(key) if key in rp else ("notify",)
            for action in value:
                if action not in SLA_ACTIONS and not (action.startswith("queue:") and action[6:] in queue_names):
                    raise ConfigError(f"config: SLA policy '{name}' {key}: unknown action '{action}' "
                                      f"(notify, raise_priority, queue:NAME of a configured queue)")
            actions[key] = value
        policies.append(Policy(name=name, priority=priorities, types=listed("type"),
                               organisations=listed("organisation"), targets=targets, calendar=cal_name,
                               on_at_risk=actions["on_at_risk"], on_breach=actions["on_breach"]))
    return SlaSettings(at_risk=float(at_risk), business_day_hours=float(day_hours), calendars=calendars,
                       policies=tuple(policies))
