"""The terminal UI (Textual): the place where IT staff triage the queue.

Only this package imports textual; importing `helpdesk.tui` itself loads nothing heavy, so a scripted
command never pays for it. The widgets read through small protocols (`rows.RowSource`) that the
services layer implements; `core` is the one module that imports the rest of helpdesk.
"""
