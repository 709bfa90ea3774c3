"""The Typer CLI: one module per command group. Kept light at import: domain modules load inside
commands, and nothing here imports textual."""
