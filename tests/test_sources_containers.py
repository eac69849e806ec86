"""Tar and zip archives (Google Takeout, a tarred Maildir, a zip of .eml files) are read
member by member as sources of their own, never extracted to paths from the archive."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import zipfile

import pytest

from importer.read.archive import Archive
from importer.records import RawMessage

FROM = b"From carol@example.net Sun Feb 16 10:00:00 2014\n"


def msg(n: int) -> bytes:
    return (f"From: carol@example.net\nSubject: Case {n}\nMessage-ID: <c{n}@example.net>\n"
            f"Date: Sun, 16 Feb 2014 10:00:0{n % 10} +0000\n\nText {n}\n").encode()


MEMBERS = {
    "Takeout/Mail/All mail Including Spam and Trash.mbox": FROM + msg(1) + b"\n" + FROM + msg(2),
    "Takeout/archive_browser.html": b"<html><body>Takeout</body></html>\n",
    "saved/readme.eml": msg(3),
    "Maildir/cur/1200.1.host:2,S": msg(4),
    "Maildir/new/1300.2.host": msg(5),
    "../../escape.mbox": FROM + msg(6),
    "/abs/olute.eml": msg(7),
    "inner/old.mbox.gz": gzip.compress(FROM + msg(8), mtime=0),
}


def make_tar(path, mode="w"):
    with tarfile.open(path, mode) as tar:
        for name, data in MEMBERS.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        os.symlink("nowhere", str(path) + ".link")
        tar.add(str(path) + ".link", arcname="Maildir/cur/link")   # not a regular member
        os.unlink(str(path) + ".link")
    return path


def make_zip(path):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in MEMBERS.items():
            z.writestr(name, data)
    return path


def scan(path):
    with Archive([str(path)]) as archive:
        items = list(archive.scan())
        reread = [archive.read(i.source) for i in items]
        return items, archive.files, reread, archive.produced


@pytest.mark.parametrize("name, make", [
    ("takeout.tgz", lambda p: make_tar(p, "w:gz")),
    ("mail.tar", make_tar),
    ("mail.tar.bz2", lambda p: make_tar(p, "w:bz2")),
    ("mail.tar.xz", lambda p: make_tar(p, "w:xz")),
    ("mail.zip", make_zip),
])
def test_every_member_is_read_as_a_source_of_its_own(tmp_path, name, make):
    work = tmp_path / "in"
    work.mkdir()
    path = make(work / name)
    before = sorted(os.listdir(tmp_path)) + sorted(os.listdir(work))
    items, files, reread, produced = scan(path)
    assert all(isinstance(i, RawMessage) for i in items)
    assert sorted(i.raw for i in items) == sorted(msg(n) for n in range(1, 9))
    assert reread == [i.raw for i in items] and produced == 8
    where = {i.source.path for i in items}
    assert f"{path}!Takeout/Mail/All mail Including Spam and Trash.mbox" in where
    assert f"{path}!../../escape.mbox" in where and f"{path}!/abs/olute.eml" in where
    listed = {f.path: f for f in files}
    assert listed[f"{path}!Takeout/archive_browser.html"].skipped == "not mail"
    assert listed[f"{path}!Takeout/Mail/All mail Including Spam and Trash.mbox"].messages == 2
    assert listed[str(path)].fmt in ("tar", "zip") and listed[str(path)].messages == 0
    assert sum(f.messages + f.unreadable for f in files) == produced
    # Nothing was written outside the spool: not beside the archive, not where names point.
    assert sorted(os.listdir(tmp_path)) + sorted(os.listdir(work)) == before
    assert not (tmp_path.parent / "escape.mbox").exists() and not os.path.exists("/abs/olute.eml")


def test_a_damaged_tar_keeps_the_members_before_the_damage(tmp_path):
    path = make_tar(tmp_path / "cut.tar")
    with tarfile.open(path) as tar:
        fifth = tar.getmembers()[4]
    data = path.read_bytes()
    path.write_bytes(data[: fifth.offset_data + 10])     # cut inside the fifth member's data
    items, files, _, produced = scan(path)
    assert produced == 4 and all(isinstance(i, RawMessage) for i in items)   # 1-2, 3, 4 (html: skipped)
    problems = [f.skipped for f in files if f.skipped and f.skipped != "not mail"]
    problems += [n for f in files for n in f.notes if "damaged" in n]
    assert problems, files


def test_an_encrypted_zip_member_is_skipped_with_the_reason(tmp_path):
    path = make_zip(tmp_path / "m.zip")
    data = bytearray(path.read_bytes())
    # Set the "encrypted" flag in the first central directory record.
    cd = data.find(b"PK\x01\x02")
    data[cd + 8] |= 1
    path.write_bytes(bytes(data))
    items, files, _, _ = scan(path)
    assert any(f.skipped == "encrypted zip member: not read" for f in files)


@pytest.mark.parametrize("name, make", [("maildir.tar", make_tar), ("maildir.zip", make_zip)])
def test_a_tarred_maildirs_tmp_files_are_kept_never_imported_like_on_disk(tmp_path, name, make):
    """A Maildir's tmp/ holds mail being delivered, never delivered: on disk it is quarantined
    with its bytes, and so it is inside an archive, wherever its cur/ or new/ comes in the
    archive's order. A folder merely called tmp/ with no cur/ or new/ beside it is read."""
    extra = {"Maildir/tmp/1400.3.host": msg(9),          # before or after its cur/: both
             "backup/tmp/old.mbox": FROM + msg(10)}       # no Maildir around it: read
    MEMBERS_WITH = {"Maildir/tmp/1100.0.host": msg(11), **MEMBERS, **extra}
    original = dict(MEMBERS)
    MEMBERS.clear()
    MEMBERS.update(MEMBERS_WITH)
    try:
        path = make(tmp_path / name)
    finally:
        MEMBERS.clear()
        MEMBERS.update(original)
    items, files, reread, produced = scan(path)
    kept = {i.raw for i in items if isinstance(i, RawMessage)}
    held = [i for i in items if not isinstance(i, RawMessage)]
    assert kept == {msg(n) for n in (*range(1, 9), 10)}
    assert sorted(i.raw for i in held) == sorted([msg(9), msg(11)])
    assert all(i.reason == "Maildir tmp/ file: never delivered" for i in held)
    assert reread == [i.raw for i in items] and produced == 11
    notes = next(f for f in files if f.path == str(path)).notes
    assert "files in tmp/ were never delivered: quarantined, not imported" in notes
