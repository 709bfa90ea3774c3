"""The desk's rules: tickets, lifecycle, routing, SLA, automation, ratings, outbox, audit, query
language. Imports store, config and core only."""
