"""A throwaway Request Tracker 5 on 127.0.0.1 for tests and benchmarks (Debian's request-tracker5).

Everything lives in one temporary folder: the site config (RT_SITE_CONFIG, with
an empty RT_SITE_CONFIG_DIR so the system's RT_SiteConfig.d is not read), the
SQLite database, and RT's var folder. `$MailCommand = 'mbox'` makes RT append
every mail it would send to `$RT::VarPath/<time>.mbox`
(RT::Interface::Email::_SendEmail), so pointing VarPath into the folder lets
`mail_count()` prove that nobody was mailed.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

RT_SERVER = "/usr/share/request-tracker5/libexec/rt-server"
RT_LIB = "/usr/share/request-tracker5/lib"
WRITABLE = "RT/REST2/Resource/Record/Writable.pm"
SETUP_DB = "rt-setup-database-5"
ROOT_USER, ROOT_PASSWORD = "root", "password"   # RT's initial superuser (etc/initialdata)

SITE_CONFIG = """\
Set($rtname, 'archive.test');
Set($Organization, 'archive.test');
Set($CorrespondAddress, 'rt@archive.test');
Set($CommentAddress, 'rt-comment@archive.test');
Set($DatabaseType, 'SQLite');
Set($DatabaseName, '{var}/rt.db');
Set($WebDomain, '127.0.0.1');
Set($WebPort, {port});
Set($WebPath, '');
Set($WebBaseURL, 'http://127.0.0.1:{port}');
Set($MailCommand, 'mbox');
Set($LogToSTDERR, 'warning');
Set($LogToSyslog, undef);
Set($Timezone, 'UTC');
$RT::VarPath = '{var}';
$RT::MasonDataDir = '{var}/mason_data';
$RT::MasonSessionDir = '{var}/session_data';
{extra}1;
"""


def unavailable_reason() -> str | None:
    """Why no RT can be started here, or None when it can."""
    if not os.path.exists(RT_SERVER):
        return f"{RT_SERVER} not found (apt-get install request-tracker5 rt5-standalone rt5-db-sqlite)"
    if shutil.which(SETUP_DB) is None and not os.path.exists(f"/usr/sbin/{SETUP_DB}"):
        return f"{SETUP_DB} not found (apt-get install request-tracker5 rt5-db-sqlite)"
    return None


def scratch_dir() -> str | None:
    """Where a throwaway RT keeps its files: a memory filesystem where the machine has one.
    RT commits each of its SQLite writes with fsyncs (about 1.7 ms each on a virtual disk, a
    tenth of that on tmpfs) and a REST 2 call makes dozens of them; the tests need RT's
    behaviour, not the durability of a database deleted when they end. None: the default."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RTServer:
    """Start with `start()`, stop with `stop()`; `url`, `auth`, `mail_count()` in between."""

    def __init__(self, workers: int | None = None, *, keeps_created: bool = False,
                 bcrypt_cost: int | None = None):
        self.dir = tempfile.mkdtemp(prefix="rt-test-", dir=scratch_dir())
        self.var = os.path.join(self.dir, "var")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth = (ROOT_USER, ROOT_PASSWORD)
        self.workers = workers
        self.keeps_created = keeps_created
        # RT checks the password of every REST 2 request with bcrypt (RT::User::IsPassword,
        # cost 12 by default: about 0.27 s of the server's CPU on a 2-core machine, most of
        # a request). The cost, set before the database is made, is the root password's.
        self.bcrypt_cost = bcrypt_cost
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(self.dir, "rt-server.log")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["RT_SITE_CONFIG"] = os.path.join(self.dir, "RT_SiteConfig.pm")
        env["RT_SITE_CONFIG_DIR"] = os.path.join(self.dir, "RT_SiteConfig.d")
        env.pop("RTSERVER", None)
        return env

    def start(self, timeout: float = 90.0) -> "RTServer":
        for sub in ("var/mason_data", "var/session_data", "RT_SiteConfig.d"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(self.dir, "RT_SiteConfig.pm"), "w") as f:
            extra = (f"Set($BcryptCost, {self.bcrypt_cost});\n" if self.bcrypt_cost else "")
            f.write(SITE_CONFIG.format(var=self.var, port=self.port, extra=extra))
        setup = shutil.which(SETUP_DB) or f"/usr/sbin/{SETUP_DB}"
        done = subprocess.run([setup, "--action", "init", "--skip-create"], env=self.env(),
                              capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"rt-setup-database failed: {done.stdout[-2000:]} {done.stderr[-2000:]}")
        cmd = [self._server_program(), "--port", str(self.port)]
        if self.workers:
            cmd += ["--max-workers", str(self.workers)]
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self._wait(timeout)
        return self

    def _server_program(self) -> str:
        """Debian's rt-server; for `keeps_created`, a copy that first loads a private
        Writable.pm without Created/Creator among the fields REST 2 drops (RT builds before
        Debian's deb12u7, and upstream's, keep them). Nothing outside self.dir changes."""
        if not self.keeps_created:
            return RT_SERVER
        lib = os.path.join(self.dir, "lib")
        target = os.path.join(lib, WRITABLE)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(os.path.join(RT_LIB, WRITABLE)) as f:
            code = f.read()
        patched = re.sub(r"return qw\(id Creator Created LastUpdated LastUpdatedBy\);",
                         "return qw(id LastUpdated LastUpdatedBy);", code)
        if patched == code:
            raise RuntimeError(f"{WRITABLE}: immutable_fields not as expected")
        with open(target, "w") as f:
            f.write(patched)
        with open(RT_SERVER) as f:
            server = f.read()
        # Entries of @libs are unshifted onto @INC in turn: the last one comes first.
        server, n = re.subn(r"my @libs = \(([^)]*)\);", lambda m: f'my @libs = ({m.group(1)}, "{lib}");',
                            server, count=1)
        if n != 1:
            raise RuntimeError("rt-server has no `my @libs = (...)` list to extend")
        program = os.path.join(self.dir, "rt-server")
        with open(program, "w") as f:
            f.write(server)
        os.chmod(program, 0o755)
        return program

    def _wait(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rt-server exited: {self.log_tail()}")
            try:
                if requests.get(self.url + "/REST/2.0/rt", auth=self.auth, timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"rt-server did not answer within {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""

    def mail_count(self) -> int:
        """Mails RT would have sent: `From ` separator lines of its mbox files."""
        n = 0
        for path in glob.glob(os.path.join(self.var, "*.mbox")):
            with open(path, "rb") as f:
                n += sum(1 for line in f if line.startswith(b"From "))
        return n

    def session(self) -> requests.Session:
        s = requests.Session()
        s.auth = self.auth
        return s

    def stop(self) -> None:
        """Stop the server's whole process group (the one this object started), then clean up."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=15)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)
