"""The desk's rules: tickets, lifecycle, routing, SLA, automation, ratings, outbox, audit, query
language. Imports store, config and core only."""

from helpdesk.domain import reactions  # noqa: F401 - wires routing and the rules to ticket events
