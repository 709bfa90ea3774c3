"""One function per user action, `(desk, ...) -> view`: what the CLI, the TUI, the daemon and scripts
call. Only this layer opens a unit of work (`services.work.unit`); what leaves the process (SMTP,
Ollama, change notifications) runs after its commit.

desk           create (init), open, migrate, locate, backend, database_failure
tickets        create, create_records (bulk, all or nothing), list_, count, show, history, update, tag,
               reply, note, apply_macro, macros, attach, attachments, attachment, new_ticket_form, check_new
lifecycle      assign (or auto), take, transfer, return_to_queue, change_status, resolve, close, reopen, merge
agents         add, update, list_, show
ratings        rate
sla            sweep (the clocks, then the time rules: `sla check` and the daemon), check_calendars,
               business_day_minutes
mail           fetch, fetch_mailbox, send, status, quarantine, quarantine_retry, outbox, outbox_retry
import_export  import_file, export, export_sqlite
queue          page (a query's tickets at an offset, with due times), count, check_query: the TUI's queue
changes        listen: tickets other processes changed (the TUI's live updates)
report         summary: the dashboard's figures (`report summary`, the TUI's dashboard)
"""
