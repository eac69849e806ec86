"""html_to_text(): structure kept, hidden content dropped, hostile input bounded."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from importer.mail import html2text
from importer.mail.html2text import html_to_text


def test_paragraphs_and_line_breaks_are_kept():
    text = html_to_text("<p>first paragraph</p><p>second<br>line two</p>")
    assert text == "first paragraph\n\nsecond\nline two"


def test_lists_are_bulleted_and_numbered():
    text = html_to_text("<ul><li>apple<li>pear</ul><ol><li>one</li><li>two</li></ol>")
    assert text == "- apple\n- pear\n\n1. one\n2. two"


def test_links_show_their_target_once():
    html = ('<a href="https://example.org/a">the site</a> '
            '<a href="mailto:zoe@example.org">zoe@example.org</a> '
            '<a href="https://example.org/b">https://example.org/b</a> '
            '<a href="javascript:steal()">click</a>')
    assert html_to_text(html) == ("the site <https://example.org/a> zoe@example.org "
                                  "https://example.org/b click")


def test_script_style_and_head_are_dropped():
    html = ("<html><head><title>t</title><style>p{color:red}</style></head><body>"
            "<script>alert('x')</script>visible<noscript>no</noscript></body></html>")
    assert html_to_text(html) == "visible"


def test_entities_are_decoded_and_whitespace_collapsed():
    assert html_to_text("caf&eacute;&nbsp;&amp;  &lt;tag&gt; &#x263A;\n\n  end") == "café & <tag> ☺ end"


def test_blockquotes_are_quoted_and_pre_keeps_its_spaces():
    text = html_to_text("<blockquote>said<blockquote>before</blockquote></blockquote>"
                        "<pre>  a\n    b</pre>")
    assert text == "> said\n\n> > before\n\n  a\n    b"


def test_table_cells_are_separated():
    assert html_to_text("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>") == "a\tb\nc"


def test_output_is_bounded(monkeypatch):
    monkeypatch.setattr(html2text, "MAX_OUTPUT", 1000)
    text = html_to_text("<p>" + "word " * 10_000 + "</p>")
    assert len(text) <= 1000 + len(html2text.TRUNCATED)
    assert text.endswith(html2text.TRUNCATED.strip())


def test_input_past_the_bound_is_cut_and_marked(monkeypatch):
    monkeypatch.setattr(html2text, "MAX_INPUT", 100)
    text = html_to_text("<p>" + "x" * 200 + "</p>" + "<p>never seen</p>")
    assert "never seen" not in text and text.endswith(html2text.TRUNCATED.strip())


def test_deeply_nested_markup_does_not_recurse():
    html = "<div><blockquote>" * 20_000 + "deep" + "</blockquote></div>" * 20_000
    text = html_to_text(html)
    assert text.endswith("deep") and text.count(">") <= html2text.MAX_QUOTE


def test_unclosed_constructs_keep_the_text_around_them():
    assert "before" in html_to_text("before <!-- never closed")
    assert "after" in html_to_text("<p>after</p><a href='x")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=500) | st.lists(st.sampled_from(
    ["<p>", "</p>", "<a href='https://x.org'>", "</a>", "<li>", "<ol>", "</ol>", "<pre>",
     "</pre>", "<blockquote>", "</blockquote>", "<script>", "</script>", "&amp;", "&#0;",
     "&#xD800;", "<br/>", "<td>", "<!--", "-->", "<![CDATA[", "<!DOCTYPE", "<?x", "text", " ",
     "\n", "<img alt='a'>", "</div", "<"]), max_size=60).map("".join))
def test_never_raises_and_gives_clean_text(html):
    text = html_to_text(html)
    assert isinstance(text, str)
    assert text == text.strip("\n")
    assert "\n\n\n" not in text


def test_unclosed_head_does_not_hide_the_body():
    # Seen in HTML mail from web forms: <head> opened, never closed, body follows.
    assert html_to_text("<html><head><meta charset=utf-8><title>T</title><body>Hello") == "Hello"


def test_stray_angle_brackets_are_text_not_tags():
    # "<a <a <a ..." made html.parser rescan the rest of the input for every "<".
    assert html_to_text("x <a <a <b>bold</b> 3 < 4 </") == "x <a <a bold 3 < 4 </"
    assert html_to_text("a<!-- hidden --> b <!-- unclosed to the end") == "a b"
