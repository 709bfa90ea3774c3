"""The email channel: IMAP intake, parsing, threading, loop and bounce protection, SMTP out."""
