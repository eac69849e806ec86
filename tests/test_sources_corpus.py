"""The readers over the shared corpus of difficult real mail: no crash, every file accounted for."""

import mailbox
import os

import pytest

from importer.read.archive import Archive
from corpus import CORPUS, MARKS

pytestmark = MARKS


@pytest.fixture(scope="module")
def scanned():
    with Archive([CORPUS]) as archive:
        items = list(archive.scan())
        reread = [archive.read(i.source) for i in items]
    return items, reread, {f.path: f for f in archive.files}


def corpus_files():
    for folder, _, names in os.walk(CORPUS):
        for name in names:
            yield os.path.join(folder, name)


def test_every_corpus_file_is_accounted_for(scanned):
    items, _, files = scanned
    for path in corpus_files():
        summary = files[path]
        if os.path.getsize(path):
            # Every non-empty file is read, or listed as skipped with the reason (README.md).
            assert summary.messages + summary.unreadable > 0 or summary.skipped, path
    per_file = {}
    for item in items:
        per_file[item.source.path] = per_file.get(item.source.path, 0) + 1
    assert per_file == {p: f.messages + f.unreadable for p, f in files.items()
                        if f.messages + f.unreadable}


def test_read_gives_back_what_scan_gave_for_the_corpus(scanned):
    items, reread, _ = scanned
    assert [i.raw for i in items] == reread


def test_mbox_splits_never_exceed_a_split_on_every_from_line(scanned):
    """mailbox.mbox splits on every "From " line: we split on a subset of them."""
    _, _, files = scanned
    mboxes = [f for f in files.values() if f.fmt == "mbox" and f.messages > 1]
    assert mboxes
    for f in mboxes:
        assert f.messages <= len(mailbox.mbox(f.path, create=False).keys()), f.path


def test_rlug_mbox_matches_mime4j_expected_splits(scanned):
    """mime4j's expected files keep the separator blank line; our contract drops one."""
    items, _, _ = scanned
    base = os.path.join(CORPUS, "mime4j-testmsgs", "mbox__mbox.rlug")
    if not os.path.exists(base):
        pytest.skip("mbox.rlug not in this corpus")
    ours = [i.raw for i in items if i.source.path == base]
    expected = [open(f"{base}-{n}", "rb").read() for n in range(len(ours))]
    assert len(ours) == 5 and [m + b"\n" for m in ours] == expected


def test_jwz_content_length_mbox_has_all_29_messages(scanned):
    _, _, files = scanned
    path = os.path.join(CORPUS, "mimekit-testdata", "mbox__content-length.mbox.txt")
    if path not in files:
        pytest.skip("not in this corpus")
    assert (files[path].messages, files[path].unreadable) == (29, 0)
