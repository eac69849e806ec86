"""mail-archive-importer: old mbox, Maildir and .eml archives into one ticket per conversation."""

__version__ = "0.1.0"
