"""Progress bars: shown on a terminal (reading and writing, with rate and ETA), never otherwise."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios

import pytest

from importer import progress

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARCHIVE = os.path.join(ROOT, "fixtures", "helpdesk")


def _on_a_terminal(*argv) -> str:
    pid, fd = pty.fork()
    if pid == 0:   # the child: a 100-column terminal, then the command
        fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execv(sys.executable, [sys.executable, "-m", "importer", *argv])
    out = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    os.waitpid(pid, 0)
    return out.decode("utf-8", "replace")


@pytest.mark.skipif(not hasattr(pty, "fork"), reason="needs a pseudo-terminal")
def test_bars_show_on_a_terminal(tmp_path):
    out = _on_a_terminal("run", "--store", str(tmp_path / "s.sqlite"), "--report",
                         str(tmp_path / "r.json"), ARCHIVE)
    assert "reading:" in out and "B/s" in out
    assert "writing:" in out and "tickets/s" in out
    assert "17 threads" in out


@pytest.mark.skipif(not hasattr(pty, "fork"), reason="needs a pseudo-terminal")
def test_quiet_shows_only_the_result_even_on_a_terminal(tmp_path):
    out = _on_a_terminal("run", "--quiet", "--store", str(tmp_path / "s.sqlite"), "--report",
                         str(tmp_path / "r.json"), ARCHIVE)
    assert "reading:" not in out and "writing:" not in out
    assert out.strip().count("\n") == 0 and "17 threads" in out


def test_no_bars_when_not_a_terminal(tmp_path):
    done = subprocess.run([sys.executable, "-m", "importer", "dry-run", "--report",
                           str(tmp_path / "r.json"), ARCHIVE], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    assert done.stderr == ""


def test_reading_total_is_the_inputs_size_on_disk(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.mbox").write_bytes(b"x" * 300)
    (tmp_path / "y.eml").write_bytes(b"y" * 45)
    assert progress.input_bytes([str(tmp_path / "a"), str(tmp_path / "y.eml")]) == 345


def test_a_batch_log_gets_a_progress_line_every_interval(tmp_path, monkeypatch, capsys):
    """With stderr not a terminal (nohup, cron, 2>log) nothing was printed until the end of
    a run of hours; now a line with messages, rate and ETA every INTERVAL seconds."""
    from importer.cli import main
    monkeypatch.setattr(progress, "INTERVAL", 0.0)
    assert main(["run", "--store", str(tmp_path / "s.sqlite"), "--report",
                 str(tmp_path / "r.json"), ARCHIVE]) == 0
    err = capsys.readouterr().err.splitlines()
    reading = [line for line in err if line.startswith("archive-import: reading: ")]
    writing = [line for line in err if line.startswith("archive-import: writing: ")]
    assert len(reading) >= 10 and len(writing) >= 10
    assert "55 messages" in reading[-1] and "B/s" in reading[-1] and "%" in reading[-1]
    assert writing[-1].startswith("archive-import: writing: 17 tickets of 17 (100%)")
    assert any("left" in line for line in writing)
