"""Base subjects (RFC 5256 section 2.1, plus localized reply/forward prefixes) and generic subjects.

`analyse(subject, localized)` follows the RFC's steps (numbered below) the way Dovecot's
imap-base-subject.c does. With ``localized=False`` it is exactly RFC 5256 (``rfc5256`` mode
uses that, so its answers equal an IMAP server's); with ``localized=True`` the reply and
forward prefixes of other languages' mail clients count as well, and so do the counted
forms ``Re^2:`` and ``Re(2):``. Subjects arrive decoded (RFC 2047 words are the caller's job).
The base subject keeps its letters' case; compare base subjects with `subject_key`.
"""

from __future__ import annotations

import re

__all__ = ["base_subject", "has_reply_prefix", "analyse", "subject_key", "is_generic",
           "DEFAULT_GENERIC_SUBJECTS", "LOCALIZED_PREFIXES"]

# Reply and forward abbreviations that mail clients write before a colon, by language.
# Sources: the clients' own strings (Outlook, Thunderbird, Apple Mail, Foxmail) as seen in
# archives; Wikipedia "List of email subject abbreviations".
LOCALIZED_PREFIXES = (
    "aw", "wg",                      # German (Antwort, Weitergeleitet)
    "sv", "vs", "vb", "vl", "fs",    # Scandinavian, Finnish, Icelandic
    "antw", "doorst",                # Dutch
    "r", "rif", "i",                 # Italian (Outlook: R:, I: for Inoltro)
    "tr", "réf",                     # French (Transféré, Réf.)
    "res", "enc", "rv",              # Portuguese, Spanish
    "odp", "pd", "odg",              # Polish, Croatian
    "ynt", "ilt", "i̇lt",             # Turkish (casefolded İLT has a combining dot)
    "bls", "trs", "atb", "yml", "ats", "pers", "tov", "vá",
    "απ", "σχετ", "πρθ",             # Greek
    "回复", "回覆", "答复", "答覆", "转发", "轉寄", "轉發",   # Chinese
    "返信", "転送", "답장", "전달", "رد", "תשובה", "הועבר",
)

DEFAULT_GENERIC_SUBJECTS = frozenset({
    "", "hello", "hi", "hey", "hallo", "hola", "bonjour", "ciao", "question", "questions",
    "quick question", "help", "help needed", "(no subject)", "no subject", "(none)", "none",
    "untitled", "(untitled)", "subject", "test", "testing", "info", "information",
    "request", "inquiry", "enquiry", "urgent", "important", "thanks", "thank you", "fyi",
    "update", "meeting", "message", "document", "documents", "attachment", "invoice",
    "photos", "pictures", "report", "kein betreff", "(kein betreff)", "sans objet",
    "(sans objet)", "sin asunto", "(sin asunto)", "senza oggetto", "geen onderwerp",
})

_BLOB = r"\[[^\[\]]*\] ?"                         # subj-blob (whitespace already packed)
_RFC_REFWD = "re|fwd|fw"                          # subj-refwd of RFC 5256
_LOCAL_REFWD = "|".join(sorted({re.escape(p) for p in (*LOCALIZED_PREFIXES, "re", "fwd", "fw")},
                               key=len, reverse=True))
_RFC_LEADER = re.compile(rf"(?:{_BLOB})*(?:{_RFC_REFWD}) ?(?:{_BLOB})?:", re.I)
_LOCAL_LEADER = re.compile(
    rf"(?:{_BLOB})*(?:{_LOCAL_REFWD}) ?(?:{_BLOB}|\^\d+ ?|\(\d+\) ?)?[:：]", re.I)
_LEAD_BLOB = re.compile(_BLOB)
_SPACES = re.compile(r"\s+")
_MAYBE_MARKED = re.compile(r"[:：\[\]]|[^\S ]|  |^ | $|\)$")   # else the subject is its base
_FWD_TRAILER = "(fwd)"
_GENERIC_STRIP = " .!?:-–—"


def analyse(subject: str, localized: bool = True) -> tuple[str, bool]:
    """(base subject, is a reply or forward) of a decoded subject."""
    if not _MAYBE_MARKED.search(subject or " "):
        return subject, False           # nothing any step below could remove
    leader = _LOCAL_LEADER if localized else _RFC_LEADER
    # (1) tabs and continuations to space, runs of spaces to one
    text = _SPACES.sub(" ", subject or "")
    start, end, refwd = 0, len(text), False
    while True:
        # (2) remove trailing subj-trailer: "(fwd)" or white space, repeatedly
        while end > start:
            if text[end - 1] == " ":
                end -= 1
            elif end - start >= 5 and text[end - 5:end].lower() == _FWD_TRAILER:
                end -= 5
                refwd = True
            else:
                break
        while True:
            found = False
            # (3) remove a subj-leader: a white space, or blobs then Re:/Fw:/Fwd:
            if start < end and text[start] == " ":
                start += 1
                found = True
            match = leader.match(text, start, end)
            if match:
                start, refwd, found = match.end(), True, True
            # (4) remove a leading subj-blob if something is left after it
            match = _LEAD_BLOB.match(text, start, end)
            if match and match.end() < end:
                start, found = match.end(), True
            # (5) repeat (3) and (4) until neither matches
            if not found:
                break
        # (6) "[fwd: subject]": unwrap and repeat from (2)
        if end - start >= 6 and text[start:start + 5].lower() == "[fwd:" and text[end - 1] == "]":
            start, end, refwd = start + 5, end - 1, True
            continue
        break
    # (7) what is left is the base subject
    return text[start:end], refwd


def base_subject(subject: str) -> str:
    """RFC 5256 base subject, with localized prefixes (AW:, SV:, 回复: ...) removed too."""
    return analyse(subject, True)[0]


def has_reply_prefix(subject: str) -> bool:
    """Whether the subject marks a reply or forward (Re:, Fwd:, AW:, (fwd), [Fwd: ...])."""
    return analyse(subject, True)[1]


def subject_key(base: str) -> str:
    """The form in which two base subjects are compared (case-insensitive, as RFC 5256)."""
    return base.casefold()


def is_generic(key: str, generic: frozenset[str]) -> bool:
    """Whether a subject key says too little to link two messages by ("Hello!", "")."""
    key = key.strip(_GENERIC_STRIP)
    return not key or key in generic
