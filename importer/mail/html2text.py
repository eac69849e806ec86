"""Readable plain text from hostile HTML mail bodies, with the standard library's html.parser."""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Bounds against hostile bodies: HTML past MAX_INPUT is not parsed (the HTML itself is kept by
# the caller) and text past MAX_OUTPUT is cut with TRUNCATED; blockquote prefixes stop nesting
# at MAX_QUOTE ("> > > ..." from a 500-deep reply chain helps nobody).
MAX_INPUT = 4_000_000
MAX_OUTPUT = 1_000_000
MAX_QUOTE = 8
TRUNCATED = "\n[... text truncated ...]"
CHUNK = 65_536

# Elements whose content is never shown to a reader.
_HIDDEN = frozenset({"script", "style", "title", "template", "noscript", "object",
                     "iframe", "svg", "math", "xml"})
# Elements that start a new paragraph (blank line) or a new line.
_PARAGRAPH = frozenset({"p", "div", "table", "ul", "ol", "dl", "blockquote", "pre", "h1", "h2",
                        "h3", "h4", "h5", "h6", "section", "article", "header", "footer",
                        "address", "center", "form", "fieldset", "figure"})
_LINE = frozenset({"tr", "dt", "dd", "li", "caption", "hr", "br"})
# Only these link targets are worth showing; javascript:, data: and cid: are not.
_SHOWN_LINK = re.compile(r"(?:https?|ftp|mailto):", re.IGNORECASE)
_SPACE = re.compile(r"[ \t\n\r\f\v\u00a0\u200b]+")
# html.parser (3.11) rescans the rest of the input for every "<" that opens no complete tag, so
# "<a <a <a ..." or "<!--<!--..." take quadratic time (100 KB of "<a " took 150 s). Before
# parsing, each "<" must open a tag that closes before the next "<", else it becomes "&lt;";
# comments go, an unclosed one to the end (as HTML5 reads it). Quoted values may hold ">".
_TOKEN = re.compile(r"""<!--.*?(?:-->|\Z)|<[A-Za-z/!?](?:[^<>"']|"[^"<]*"|'[^'<]*')*>|<""",
                    re.DOTALL)


class _TextWriter(HTMLParser):
    """Collects visible text with paragraph, list, quote and link structure."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.size = 0
        self.full = False
        self.hidden = 0           # depth inside _HIDDEN elements
        self.pre = 0              # depth inside <pre>
        self.quote = 0            # depth inside <blockquote>
        self.lists: list[list] = []   # one [tag, counter] per open ul/ol
        self.link: tuple[str, int] | None = None   # (href, len(out) when the <a> opened)
        self.newlines = 2         # trailing newlines already written (start counts as a break)

    # -- writing -------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        if self.full or not text:
            return
        if self.newlines and self.quote:
            text = "> " * min(self.quote, MAX_QUOTE) + text
        self.size += len(text)
        if self.size > MAX_OUTPUT:
            self.full = True
            text = text[: len(text) - (self.size - MAX_OUTPUT)] + TRUNCATED
        self.out.append(text)
        self.newlines = len(text) - len(text.rstrip("\n"))

    def _break(self, count: int) -> None:
        """End the current line; count=2 leaves a blank line (a paragraph break)."""
        if self.newlines < count:
            missing = count - self.newlines
            self.out.append("\n" * missing)
            self.size += missing
            self.newlines = count

    # -- parser callbacks ----------------------------------------------------------------------
    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _HIDDEN:
            self.hidden += 1
            return
        if self.hidden:
            return
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in _LINE:
            self._break(1)
        if tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag in ("ul", "ol"):
            self.lists.append([tag, 0])
        elif tag == "li":
            self._item()
        elif tag == "hr":
            self._write("----")
            self._break(1)
        elif tag in ("td", "th") and self.newlines == 0:
            self._write("\t")
        elif tag == "a":
            href = (dict(attrs).get("href") or "").strip()
            self.link = (href, len(self.out)) if _SHOWN_LINK.match(href) else None
        elif tag == "img":
            alt = _SPACE.sub(" ", dict(attrs).get("alt") or "").strip()
            if alt:
                self._inline(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag not in _HIDDEN:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self.hidden = max(0, self.hidden - 1)
            return
        if self.hidden:
            return
        if tag == "a" and self.link is not None:
            self._close_link()
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        if tag in _PARAGRAPH:
            self._break(2)
        elif tag in ("tr", "li", "dt", "dd", "caption"):
            self._break(1)

    def handle_data(self, data: str) -> None:
        if self.hidden or self.full:
            return
        if self.pre:
            for i, line in enumerate(data.split("\n")):
                if i:
                    self.out.append("\n")
                    self.size += 1
                    self.newlines += 1
                self._write(line)
            return
        self._inline(_SPACE.sub(" ", data))

    # -- helpers -------------------------------------------------------------------------------
    def _inline(self, text: str) -> None:
        if self.newlines:
            text = text.lstrip(" ")
        elif self.out and self.out[-1].endswith(" ") and text.startswith(" "):
            text = text[1:]
        self._write(text)

    def _item(self) -> None:
        if self.lists and self.lists[-1][0] == "ol":
            self.lists[-1][1] += 1
            self._write(f"{self.lists[-1][1]}. ")
        else:
            self._write("- ")

    def _close_link(self) -> None:
        """Show a link as "text <url>", or the url alone when the text says nothing more."""
        href, start = self.link
        self.link = None
        text = "".join(self.out[start:]).strip()
        bare = href[7:] if href.lower().startswith("mailto:") else href
        if text in (href, bare):
            return
        self._inline(f" <{href}>" if text else href)


def _defuse_token(m: re.Match) -> str:
    token = m.group()
    if token.startswith("<!--"):
        return " "
    return "&lt;" if token == "<" else token


def _tidy(text: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, no edge blank lines."""
    lines = [line.rstrip(" \t") for line in text.split("\n")]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _strip_tags(html: str) -> str:
    """Last resort when the parser gives up: drop anything that looks like a tag."""
    return _SPACE.sub(" ", re.sub(r"<[^<>]*>", " ", html)).strip()[:MAX_OUTPUT]


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: paragraphs, lists, quotes and links kept, scripts dropped."""
    cut = len(html) > MAX_INPUT
    writer = _TextWriter()
    try:
        safe = _TOKEN.sub(_defuse_token, html[:MAX_INPUT])
        for start in range(0, len(safe), CHUNK):
            writer.feed(safe[start:start + CHUNK])
            if writer.full:                   # the rest would be parsed only to be dropped
                break
        writer.close()
    except Exception:  # html.parser still has assertion paths on broken markup
        return _strip_tags(html[:MAX_INPUT])
    text = _tidy("".join(writer.out))
    if cut and not writer.full:
        text += TRUNCATED
    return text
