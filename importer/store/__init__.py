"""The store: one SQLite file holding the ledger, the quarantine and the local tickets."""
