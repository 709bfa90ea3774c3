"""One function per user action, `(desk, ...) -> view`: what the CLI, the TUI, the daemon and scripts
call. Only this layer opens a unit of work (`services.work.unit`); what leaves the process (SMTP,
Ollama, change notifications) runs after its commit."""
