"""Small mails and mboxes written by tests (invented people at example.* domains)."""

from __future__ import annotations

from pathlib import Path


def mail(mid: str, subject: str = "Printer on fire", *, day: int = 1, reply_to: str | None = None,
         sender: str = "carol@example.net", headers: str = "") -> bytes:
    """One message: its Message-ID, subject, day of February 2015, the id it replies to."""
    refs = f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n" if reply_to else ""
    return (f"From: {sender}\nTo: hello@example.org\nSubject: {subject}\n"
            f"Date: Mon, {day:02d} Feb 2015 10:00:00 +0000\nMessage-ID: <{mid}>\n{refs}{headers}"
            f"\nBody of {mid}\n").encode()


def write_mbox(path: Path, messages: list[bytes]) -> Path:
    with open(path, "wb") as fp:
        for m in messages:
            fp.write(b"From carol@example.net Mon Feb  2 10:00:00 2015\n" + m + b"\n")
    return path
