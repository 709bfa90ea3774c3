"""helpdesk: a terminal-first helpdesk for IT and support teams."""

__version__ = "0.1.0"
