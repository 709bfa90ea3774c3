"""Peewee models: the main ticket table and everything common to every type.

Each business type adds an extension table of its own (see `extensions.py`); nothing here changes when
a type is added. Times are naive UTC.
"""

from __future__ import annotations

import peewee as pw

from helpdesk.core.clock import utcnow
from helpdesk.store.db import database


class BaseModel(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class SchemaMigration(BaseModel):
    """Numbered migrations applied, by name (append-only)."""

    name = pw.CharField(max_length=200, unique=True)
    applied_at = pw.DateTimeField(default=utcnow)


class Setting(BaseModel):
    """Small key/value state of the desk (e.g. the fingerprint of the synced type configuration)."""

    key = pw.CharField(max_length=100, primary_key=True)
    value = pw.TextField()


class Organisation(BaseModel):
    name = pw.CharField(max_length=200, unique=True)
    created_at = pw.DateTimeField(default=utcnow)


class Customer(BaseModel):
    email = pw.CharField(max_length=320, unique=True)  # stored lower-cased
    name = pw.CharField(max_length=200, default="")
    organisation = pw.ForeignKeyField(Organisation, null=True, backref="customers", on_delete="SET NULL")
    created_at = pw.DateTimeField(default=utcnow)


class Agent(BaseModel):
    login = pw.CharField(max_length=100, unique=True)
    name = pw.CharField(max_length=200, default="")
    email = pw.CharField(max_length=320, null=True)
    is_admin = pw.BooleanField(default=False)
    role = pw.CharField(max_length=20, default="agent")  # admin | lead | agent (is_admin: role == admin)
    skills = pw.TextField(default="")  # space-separated skill names
    queues = pw.TextField(default="")  # space-separated queue names the agent works
    capacity = pw.IntegerField(default=20)  # open tickets the agent can hold
    active = pw.BooleanField(default=True)
    shift = pw.CharField(max_length=100, null=True)  # a [calendar.NAME] of working hours; none: always
    created_at = pw.DateTimeField(default=utcnow)
    # Round-robin order: raised above every other agent's each time the agent is given a ticket (0: never).
    last_assigned = pw.BigIntegerField(default=0)


class Queue(BaseModel):
    name = pw.CharField(max_length=100, unique=True)
    description = pw.TextField(default="")
    lead = pw.ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    auto_assign = pw.BooleanField(default=False)


class Ticket(BaseModel):
    number = pw.AutoField()
    title = pw.CharField(max_length=500)
    description = pw.TextField(default="")
    type = pw.CharField(max_length=48, null=True, index=True)
    status = pw.CharField(max_length=16, default="new")
    priority = pw.CharField(max_length=2, default="P2")
    # Looked up through (queue, status) and (assignee, status) below: no index of their own.
    queue = pw.ForeignKeyField(Queue, null=True, on_delete="SET NULL", index=False)
    assignee = pw.ForeignKeyField(Agent, null=True, on_delete="SET NULL", index=False)
    customer = pw.ForeignKeyField(Customer, null=True, on_delete="SET NULL")
    channel = pw.CharField(max_length=16, default="cli")
    idempotency_key = pw.CharField(max_length=200, null=True, unique=True)
    created_at = pw.DateTimeField(default=utcnow, index=True)
    updated_at = pw.DateTimeField(default=utcnow, index=True)
    status_changed_at = pw.DateTimeField(null=True)  # when it entered its status (time rules, in_status:)
    first_response_at = pw.DateTimeField(null=True)
    resolved_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    merged_into = pw.ForeignKeyField("self", null=True, backref="merged", on_delete="SET NULL")
    parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="SET NULL",
                                column_name="parent_id")  # a follow-up links back to its closed original
    sla_state = pw.CharField(max_length=16, null=True)  # None | at_risk | breached, kept by the SLA sweep
    # The nearest due and at-risk times of its running SLA clocks (None: none runs), written with a new
    # ticket and by `sla.refresh_due_times` on every clock change: the queue sorts by due and `sla:` finds
    # breached and at-risk tickets from an index range (migration 0019), not a subquery per ticket.
    sla_due_at = pw.DateTimeField(null=True)
    sla_risk_at = pw.DateTimeField(null=True)
    version = pw.IntegerField(default=1)  # optimistic concurrency: every write bumps it

    class Meta:
        indexes = (
            (("status", "priority", "created_at"), False),
            (("assignee", "status"), False),  # (priority, number), open by (assignee, number): migration 0017
            (("queue", "status"), False),
            (("customer",), False),
        )


class TicketTag(BaseModel):
    ticket = pw.ForeignKeyField(Ticket, backref="tag_rows", on_delete="CASCADE")
    tag = pw.CharField(max_length=64)

    class Meta:
        indexes = ((("ticket", "tag"), True),)  # (tag, ticket) comes from migration 0005


class ConversationEntry(BaseModel):
    ticket = pw.ForeignKeyField(Ticket, backref="entries", on_delete="CASCADE")
    kind = pw.CharField(max_length=8)  # reply (public, to the customer) | note (internal) | inbound
    author_agent = pw.ForeignKeyField(Agent, null=True, on_delete="SET NULL")
    author_customer = pw.ForeignKeyField(Customer, null=True, on_delete="SET NULL")
    body = pw.TextField(default="")
    message_id = pw.CharField(max_length=500, null=True, unique=True)
    created_at = pw.DateTimeField(default=utcnow)
    # A mail's whole text, quoted history and signature included; `body` is what its sender wrote (a
    # view of it, helpdesk/mail/quotes.py). None: the body is all there is (agents' replies and notes).
    full_body = pw.TextField(null=True)  # migration 0015

    class Meta:
        indexes = ((("ticket", "created_at"), False),)


class Attachment(BaseModel):
    """Metadata only: the bytes live in the attachment store, named by their SHA-256."""

    ticket = pw.ForeignKeyField(Ticket, backref="attachments", on_delete="CASCADE")
    entry = pw.ForeignKeyField(ConversationEntry, null=True, backref="attachments", on_delete="SET NULL")
    filename = pw.CharField(max_length=255)
    content_type = pw.CharField(max_length=200, default="application/octet-stream")
    size = pw.BigIntegerField()
    sha256 = pw.CharField(max_length=64, index=True)
    created_at = pw.DateTimeField(default=utcnow)


class AuditEvent(BaseModel):
    """Append-only: triggers refuse UPDATE and DELETE (see migrations)."""

    ticket = pw.IntegerField(null=True, index=True, column_name="ticket_number")
    actor = pw.CharField(max_length=100)
    action = pw.CharField(max_length=48)
    data = pw.TextField(default="{}")  # JSON
    created_at = pw.DateTimeField(default=utcnow)


class Outbox(BaseModel):
    """Mail waiting to go out; written in the same transaction as the change that causes it."""

    ticket = pw.ForeignKeyField(Ticket, null=True, backref="outbox", on_delete="SET NULL")
    entry = pw.ForeignKeyField(ConversationEntry, null=True, on_delete="SET NULL")
    kind = pw.CharField(max_length=24, default="reply")  # reply | ack | notification | ...
    to_addr = pw.CharField(max_length=320)
    subject = pw.CharField(max_length=500)
    body = pw.TextField()
    message_id = pw.CharField(max_length=500, unique=True)
    in_reply_to = pw.CharField(max_length=500, null=True)
    references = pw.TextField(default="")
    auto = pw.BooleanField(default=False)  # automatic mail carries Auto-Submitted: auto-replied
    # queued | sending (claimed until next_attempt_at, see mail/send.py) | sent | failed
    status = pw.CharField(max_length=12, default="queued", index=True)
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField(default=utcnow)
    last_error = pw.TextField(null=True)
    created_at = pw.DateTimeField(default=utcnow)
    sent_at = pw.DateTimeField(null=True)


class TicketTypeRecord(BaseModel):
    """What the store has built for each configured type: its extension table and its fields.

    A field removed from the configuration stays here (and in the table) marked hidden, so no data is
    ever dropped by editing the configuration.
    """

    name = pw.CharField(max_length=48, unique=True)
    label = pw.CharField(max_length=200, default="")
    table_name = pw.CharField(max_length=64)
    fields = pw.TextField(default="[]")  # JSON list of {name, kind, options, required, hidden}
    active = pw.BooleanField(default=True)


CORE_MODELS = [SchemaMigration, Setting, Organisation, Customer, Agent, Queue, Ticket, TicketTag,
               ConversationEntry, Attachment, AuditEvent, Outbox, TicketTypeRecord]


# ---------------------------------------------------------------- the mail channel


class MailboxState(BaseModel):
    """Where intake stands in one IMAP folder: its UIDVALIDITY and the highest UID accounted for."""

    mailbox = pw.CharField(max_length=100)
    folder = pw.CharField(max_length=200)
    uidvalidity = pw.BigIntegerField()
    last_uid = pw.BigIntegerField(default=0)
    updated_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("mailbox", "folder"), True),)


class MailMessage(BaseModel):
    """One fetched message and how it ended: written in the same transaction as its ticket or reply,
    so a crash can never leave a ticket without its record (or a record without its ticket)."""

    mailbox = pw.CharField(max_length=100)
    folder = pw.CharField(max_length=200)
    uidvalidity = pw.BigIntegerField()
    uid = pw.BigIntegerField()
    message_id = pw.CharField(max_length=500, null=True, index=True)
    sha256 = pw.CharField(max_length=64, index=True)
    outcome = pw.CharField(max_length=16)  # new_ticket | reply | duplicate | automated | bounce | quarantined
    ticket = pw.IntegerField(null=True, column_name="ticket_number")
    detail = pw.TextField(default="")
    disposed = pw.BooleanField(default=False)  # flagged seen / moved on the server after the commit
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("mailbox", "folder", "uidvalidity", "uid"), True),)


class QuarantinedMail(BaseModel):
    """Mail that could not become a ticket, kept whole (bytes in the content store) with its error."""

    mailbox = pw.CharField(max_length=100)
    message = pw.ForeignKeyField(MailMessage, null=True, on_delete="SET NULL")
    sha256 = pw.CharField(max_length=64)
    size = pw.BigIntegerField()
    error = pw.TextField()
    status = pw.CharField(max_length=12, default="held")  # held | released
    ticket = pw.IntegerField(null=True, column_name="ticket_number")
    created_at = pw.DateTimeField(default=utcnow)


class TicketContact(BaseModel):
    """Addresses that may write into a ticket by its subject tag: its customer's CCs."""

    ticket = pw.ForeignKeyField(Ticket, backref="contacts", on_delete="CASCADE")
    email = pw.CharField(max_length=320)
    role = pw.CharField(max_length=8, default="cc")

    class Meta:
        indexes = ((("ticket", "email"), True),)


class UndeliverableAddress(BaseModel):
    """An address whose mail bounced: automatic mail to it pauses until `until`."""

    email = pw.CharField(max_length=320, unique=True)
    until = pw.DateTimeField()
    reason = pw.TextField(default="")
    bounces = pw.IntegerField(default=1)
    updated_at = pw.DateTimeField(default=utcnow)


MAIL_MODELS = [MailboxState, MailMessage, QuarantinedMail, TicketContact, UndeliverableAddress]


# ---------------------------------------------------------------- SLA


class SlaClock(BaseModel):
    """One SLA clock of a ticket (first_response, next_update, resolution).

    Business time used is `used_seconds` plus, while running, the business time since `started_at`.
    While running, `due_at` and `risk_at` are the moments the target and the at-risk share are reached,
    so the sweep is a plain comparison with now (set-based, indexed). The `*_fired_at` columns make
    each first crossing fire exactly once, however many sweeps run.
    """

    # Looked up through the unique (ticket, kind) index: no index of its own.
    ticket = pw.ForeignKeyField(Ticket, backref="sla_clocks", on_delete="CASCADE", index=False)
    kind = pw.CharField(max_length=16)
    policy = pw.CharField(max_length=100)
    calendar = pw.CharField(max_length=100)
    target_minutes = pw.IntegerField()
    state = pw.CharField(max_length=8, default="running")  # running | paused | stopped
    started_at = pw.DateTimeField(null=True)
    used_seconds = pw.BigIntegerField(default=0)
    due_at = pw.DateTimeField(null=True)
    risk_at = pw.DateTimeField(null=True)
    stopped_at = pw.DateTimeField(null=True)
    at_risk_fired_at = pw.DateTimeField(null=True)
    breached_fired_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("ticket", "kind"), True),
        )  # the sweep's partial indexes of unfired clocks: migration 0012


SLA_MODELS = [SlaClock]


# ---------------------------------------------------------------- automation


class RuleRun(BaseModel):
    """A time rule fired on a ticket in one stretch of a status (anchor: when it entered the status)."""

    rule = pw.CharField(max_length=100)
    ticket = pw.ForeignKeyField(Ticket, on_delete="CASCADE")
    anchor = pw.DateTimeField()
    fired_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("rule", "ticket", "anchor"), True),)


AUTOMATION_MODELS = [RuleRun]


# ---------------------------------------------------------------- ratings


class Rating(BaseModel):
    """The customer's 1-5 satisfaction score for a resolved ticket (one per ticket; a new one replaces it)."""

    ticket = pw.ForeignKeyField(Ticket, unique=True, backref="rating", on_delete="CASCADE")
    score = pw.IntegerField()
    comment = pw.TextField(default="")
    via = pw.CharField(max_length=16, default="email")
    created_at = pw.DateTimeField(default=utcnow)


RATING_MODELS = [Rating]


# ---------------------------------------------------------------- AI assistance


class AiSuggestion(BaseModel):
    """One suggested value for a ticket (kind: category | priority | sentiment | language | injection)
    and what became of it: offered, applied (by the desk's policy), accepted or changed (by a person:
    `final_value` is what they chose, training data for the next model), or superseded by a newer one."""

    ticket = pw.ForeignKeyField(Ticket, on_delete="CASCADE", index=False)
    kind = pw.CharField(max_length=16)
    value = pw.CharField(max_length=100)
    confidence = pw.FloatField()
    level = pw.CharField(max_length=8)
    source = pw.CharField(max_length=8)  # llm | offline | rule
    model_version = pw.CharField(max_length=200, default="")
    status = pw.CharField(max_length=12, default="offered")  # offered | applied | accepted | changed | superseded
    final_value = pw.CharField(max_length=100, null=True)
    decided_by = pw.CharField(max_length=100, null=True)
    decided_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("ticket", "kind"), False),)


class AiModel(BaseModel):
    """A trained offline classifier (kind: category | priority), versioned; the newest of a kind is used.
    `data` is `OfflineModel.to_bytes()` (arrays and JSON, never a pickle)."""

    kind = pw.CharField(max_length=16)
    version = pw.IntegerField()
    data = pw.BlobField()
    info = pw.TextField(default="{}")  # JSON: texts, labels, feature set, validation figures
    trained_texts = pw.IntegerField(default=0)
    created_at = pw.DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "version"), True),)


class TicketVector(BaseModel):
    """A ticket's text vector for similar-ticket search (float32 bytes), per embedding model."""

    ticket = pw.ForeignKeyField(Ticket, on_delete="CASCADE", index=False)
    model = pw.CharField(max_length=100)
    dim = pw.IntegerField()
    data = pw.BlobField()

    class Meta:
        indexes = ((("model", "ticket"), True),)


AI_MODELS = [AiSuggestion, AiModel, TicketVector]
