"""Archive over files, Maildirs, directories and compressed inputs: what is found, read, counted."""

import bz2
import gzip
import lzma
import os
import re
import types

import pytest

from importer.errors import SourceError
from importer.records import RawMessage, Unreadable
from importer.read.archive import Archive, FileSummary, check_sources

FROM = b"From alice@example.org Mon Jan  1 00:00:00 2001\n"
MSG = b"From: a@example.org\nSubject: hi\n\nbody\n"


def scan(*paths, **kw):
    with Archive([str(p) for p in paths], **kw) as archive:
        items = list(archive.scan())
        reread = [archive.read(i.source) for i in items]
    return items, archive.files, reread


def write(path, data: bytes):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_eml_is_the_files_bytes_exactly(tmp_path):
    raw = b"\xef\xbb\xbf" + MSG.replace(b"\n", b"\r\n")
    items, files, _ = scan(write(tmp_path / "m.eml", raw))
    assert [(type(i), i.raw) for i in items] == [(RawMessage, raw)]
    assert items[0].source.offset is None and items[0].source.fmt == "eml"
    assert files == [FileSummary(str(tmp_path / "m.eml"), "eml", None, 1, 0)]


def test_eml_named_file_starting_with_from_line_is_read_as_mbox(tmp_path):
    items, files, _ = scan(write(tmp_path / "saved.eml", FROM + MSG))
    assert items[0].raw == MSG and items[0].from_line == FROM.rstrip(b"\n")
    assert files[0].fmt == "mbox"


def test_mbox_without_extension_is_found_by_content(tmp_path):
    items, files, reread = scan(write(tmp_path / "inbox", FROM + MSG + b"\n" + FROM + MSG))
    assert [i.raw for i in items] == [MSG, MSG] == reread
    assert [i.source.index for i in items] == [0, 1]
    assert files[0].fmt == "mbox" and files[0].messages == 2


def test_text_file_is_skipped_as_not_mail_and_counted(tmp_path):
    items, files, reread = scan(write(tmp_path / "README", b"# notes\nnothing here\n"))
    assert items == [] and files[0].skipped == "not mail"
    assert (files[0].fmt, files[0].messages, files[0].unreadable) == ("unknown", 0, 0)


@pytest.mark.parametrize("name", ["Authors", "COPYING", "README", "msg.json", "readme.eml",
                                  "license-renewal.eml", "notes.md"])
def test_mail_is_read_whatever_the_file_is_called(tmp_path, name):
    """Real folders held an mbox named Authors (49 messages) and mails saved as readme.eml."""
    body = FROM + MSG + b"\n" + FROM + MSG if name[0].isupper() else MSG
    items, files, _ = scan(write(tmp_path / "d" / name, body))
    assert [i.raw for i in items] == [MSG] * (2 if name[0].isupper() else 1)
    assert files[0].skipped is None


def test_special_and_unreadable_files_are_skipped_with_the_reason(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    write(tmp_path / "locked.mbox", FROM + MSG)
    os.chmod(tmp_path / "locked.mbox", 0)
    items, files, _ = scan(tmp_path)
    reasons = {os.path.basename(f.path): f.skipped for f in files}
    assert reasons["pipe"] == "not a regular file (a FIFO): not read"
    if os.geteuid() != 0:       # root reads any file
        assert reasons["locked.mbox"].startswith("cannot read")
    assert all(f.messages + f.unreadable == 0 for f in files if f.skipped)


def test_junk_before_first_from_line_is_quarantined_with_its_bytes(tmp_path):
    items, files, reread = scan(write(tmp_path / "box", b"junk line\n\n" + FROM + MSG))
    assert isinstance(items[0], Unreadable) and items[0].raw == b"junk line\n\n" == reread[0]
    assert items[1].raw == MSG
    assert (files[0].messages, files[0].unreadable) == (1, 1)


def test_empty_file_is_counted_with_no_messages(tmp_path):
    items, files, _ = scan(write(tmp_path / "empty.mbox", b""))
    assert items == [] and files == [FileSummary(str(tmp_path / "empty.mbox"), "mbox", None,
                                                 0, 0, ("empty file",))]


@pytest.mark.parametrize("kind,compress", [("gz", gzip.compress), ("bz2", bz2.compress),
                                           ("xz", lzma.compress)])
def test_compressed_mbox_reads_like_the_plain_one(tmp_path, kind, compress):
    plain = FROM + MSG + b"\n" + FROM + b"S: 2\n\n>From x\n"
    items, files, reread = scan(write(tmp_path / "box.data", compress(plain)))
    assert [i.raw for i in items] == [MSG, b"S: 2\n\nFrom x\n"] == reread
    assert files[0].compression == kind and files[0].fmt == "mbox"


def test_spool_files_are_removed_on_exit(tmp_path):
    with Archive([str(write(tmp_path / "b.gz", gzip.compress(FROM + MSG)))]) as archive:
        list(archive.scan())
        spools = list(archive._spools.values())
        assert spools and all(os.path.exists(s) for s in spools)
    assert not any(os.path.exists(s) for s in spools)


def test_damaged_compressed_file_keeps_what_came_out_and_quarantines_the_rest(tmp_path):
    data = gzip.compress(FROM + MSG * 50)
    items, files, _ = scan(write(tmp_path / "cut.gz", data[: len(data) - 12]))
    assert isinstance(items[-1], Unreadable) and "damaged" in items[-1].reason
    assert files[0].unreadable == 1


def make_maildir(root, cur=(), new=(), tmp=()):
    for sub, names in (("cur", cur), ("new", new), ("tmp", tmp)):
        for name in names:
            write(root / sub / name, MSG.replace(b"hi", name.encode()))
    return root


def test_maildir_orders_cur_and_new_by_delivery_time(tmp_path):
    root = make_maildir(tmp_path / "Mail", cur=["1200.2.h:2,S", "900.1.h:2,RS"], new=["1000.3.h"])
    items, files, reread = scan(root)
    names = [os.path.basename(i.source.path) for i in items]
    assert names == ["900.1.h:2,RS", "1000.3.h", "1200.2.h:2,S"]
    assert [i.raw for i in items] == reread
    assert files == [FileSummary(str(root), "maildir", None, 3, 0)]


def test_maildir_without_new_or_tmp_is_still_a_maildir(tmp_path):
    items, files, _ = scan(make_maildir(tmp_path / "M", cur=["1.a.h:2,"]))
    assert len(items) == 1 and files[0].fmt == "maildir"


def test_maildir_tmp_files_are_quarantined_not_imported(tmp_path):
    items, files, _ = scan(make_maildir(tmp_path / "M", new=["1.a.h"], tmp=["2.b.h"]))
    assert [type(i) for i in items] == [RawMessage, Unreadable]
    assert "never delivered" in items[1].reason and items[1].raw
    assert (files[0].messages, files[0].unreadable) == (1, 1)


def test_gzipped_maildir_message_is_read_decompressed(tmp_path):
    root = tmp_path / "M"
    write(root / "cur" / "1.a.h:2,S", gzip.compress(MSG))
    items, _, reread = scan(root)
    assert items[0].raw == MSG == reread[0]


def test_directory_mixes_are_read_recursively_in_sorted_order(tmp_path):
    write(tmp_path / "b" / "z.eml", MSG)
    write(tmp_path / "a.mbox", FROM + MSG)
    make_maildir(tmp_path / "b" / "Maildir", cur=["1.a.h"])
    write(tmp_path / "b" / "Maildir" / "dovecot-uidlist", b"3 V1 N2\n")
    items, files, _ = scan(tmp_path)
    assert [f.path[len(str(tmp_path)) + 1:] for f in files] == [
        "a.mbox", "b/Maildir", "b/Maildir/dovecot-uidlist", "b/z.eml"]
    assert files[2].skipped == "not mail" and files[2].messages == files[2].unreadable == 0
    assert len(items) == 3


def test_symlink_loop_does_not_hang_and_is_noted(tmp_path):
    write(tmp_path / "d" / "m.eml", MSG)
    os.symlink(tmp_path / "d", tmp_path / "d" / "loop")
    os.symlink("self", tmp_path / "self")
    items, files, _ = scan(tmp_path)
    assert sum(isinstance(i, RawMessage) for i in items) == 1
    notes = {os.path.basename(f.path): f for f in files}
    assert notes["loop"].skipped.startswith("already read")
    assert notes["self"].skipped == "symbolic link loop" and notes["self"].unreadable == 0


def test_same_file_given_twice_is_read_once(tmp_path):
    path = write(tmp_path / "m.eml", MSG)
    items, files, _ = scan(path, path)
    assert len(items) == 1 and files[1].skipped.startswith("already read")


def test_message_over_the_bound_is_quarantined_with_its_place(tmp_path):
    big = MSG + b"x" * 3000 + b"\n"
    path = write(tmp_path / "box", FROM + big + b"\n" + FROM + MSG)
    with Archive([str(path)], max_message=1000) as archive:
        items = list(archive.scan())
    assert isinstance(items[0], Unreadable) and "limit" in items[0].reason
    assert items[0].source.length == len(big) and items[1].raw == MSG


def test_read_notices_a_file_that_changed(tmp_path):
    path = write(tmp_path / "box", FROM + MSG)
    with Archive([str(path)]) as archive:
        (item,) = archive.scan()
        path.write_bytes(FROM[:10])
        with pytest.raises(SourceError):
            archive.read(item.source)


def test_check_sources_names_the_missing_path(tmp_path):
    with pytest.raises(SourceError) as err:
        check_sources([str(tmp_path), str(tmp_path / "nope.mbox")])
    assert err.value.path.endswith("nope.mbox")


def test_check_sources_rejects_a_broken_link(tmp_path):
    os.symlink(tmp_path / "gone", tmp_path / "link")
    with pytest.raises(SourceError, match="broken"):
        check_sources([str(tmp_path / "link")])


def _numbered_mbox(n: int) -> bytes:
    return b"".join(FROM + b"Subject: %d\nMessage-ID: <n%d@example.net>\n\n" % (i, i)
                    + b"line of text %d\n" % i * 40 + b"\n" for i in range(n))


@pytest.mark.parametrize("kind,compress", [("gz", gzip.compress), ("bz2", bz2.compress),
                                           ("xz", lzma.compress)])
def test_a_compressed_mbox_cut_in_half_gives_the_messages_before_the_cut(tmp_path, kind,
                                                                           compress):
    """A 150 KB mbox.gz cut in half once gave 0 messages: up to 1 MiB of output was lost."""
    # bzip2 decodes whole blocks of 900 kB: the archive must span a few for a cut to keep any.
    plain = _numbered_mbox(3000 if kind == "bz2" else 400)
    data = compress(plain)
    items, files, reread = scan(write(tmp_path / f"half.mbox.{kind}", data[: len(data) // 2]))
    good = [i for i in items if isinstance(i, RawMessage)]
    cut = items[-1]
    # Everything decompressed before the damage is read (bzip2 loses at most its block).
    floor = 100
    assert len(good) > floor and [g.source.index for g in good] == list(range(len(good)))
    for g in good:      # each is whole and exactly as in the original
        assert g.raw in plain and g.raw.endswith(b"line of text %d\n" % g.source.index)
    assert isinstance(cut, Unreadable) and cut.reason.startswith("cut short by damaged")
    assert cut.raw and plain.find(FROM + cut.raw) >= 0 and reread[-1] == cut.raw
    note = next(n for n in files[0].notes if "damaged" in n)
    stop = int(re.search(r"at byte (\d+) ", note).group(1))     # the offset the damage is at
    read = sum(len(FROM) + len(i.raw) + 1 for i in good) + len(FROM) + len(cut.raw)
    assert read <= stop <= read + 1       # (+1: the separator's blank line is not a message's)
    assert files[0].unreadable == 1 and files[0].messages == len(good)


def test_a_compressed_eml_cut_short_is_quarantined_not_imported_truncated(tmp_path):
    data = gzip.compress(MSG * 200)
    items, files, _ = scan(write(tmp_path / "one.eml.gz", data[: len(data) // 2]))
    assert len(items) == 1 and isinstance(items[0], Unreadable)
    assert "cut short" in items[0].reason and files[0].messages == 0


def test_concatenated_gzip_members_are_read_whole(tmp_path):
    plain = _numbered_mbox(20)
    half = len(plain) // 2
    cut = plain.rfind(b"\n" + FROM, 0, half) + 1
    items, files, _ = scan(write(tmp_path / "two.mbox.gz",
                                 gzip.compress(plain[:cut]) + gzip.compress(plain[cut:])))
    assert len(items) == 20 and all(isinstance(i, RawMessage) for i in items)
    assert not any("damaged" in n for n in files[0].notes)


def test_a_text_file_that_begins_like_a_header_but_names_no_mail_field_is_not_mail(tmp_path):
    """Corpus READMEs begin "Source: flanker-fixtures": quarantined as broken mail before."""
    items, files, _ = scan(write(tmp_path / "README.txt", b"Source: somewhere\nLicence: MIT\n\nText\n"))
    assert items == [] and files[0].skipped == "not mail"
    items, _, _ = scan(write(tmp_path / "m.txt", b"Subject: hi\nX-Note: y\n\nbody\n"))
    assert len(items) == 1 and isinstance(items[0], RawMessage)


@pytest.mark.parametrize("size, kept", [(500, True), (1500, False)])
def test_a_one_message_file_that_grew_after_its_size_was_taken_is_read_whole_within_the_bound(
        tmp_path, monkeypatch, size, kept):
    """A file is read by its size, not by the bound; one that grew since is read on to the
    bound, and one past the bound is never taken whole."""
    import importer.read.archive as archive_mod
    path = tmp_path / "grown.eml"
    data = b"From: a@example.org\nSubject: grown\n\n" + b"x" * (size - 37)
    path.write_bytes(data)
    monkeypatch.setattr(archive_mod.os, "fstat", lambda fd: types.SimpleNamespace(st_size=100))
    with Archive([str(path)], max_message=1000) as archive:
        assert archive._read_whole(str(path), "eml") == (data if kept else None)
