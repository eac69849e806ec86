"""HTTP to Request Tracker's REST 2 API: sessions, authentication, TLS, error mapping.

Each request is tried once. Its failure says what a retry needs to know
(importer/retry.py is the one retry layer): `transient` (a timeout, a reset,
429/502/503/504), `sent` (a POST or PUT whose answer was lost may have been
applied: the driver asks the backend what RT did before trying again; a read,
a refused connection or a 429 was not) and `retry_after`.

Secrets (password, token) live only inside the requests auth object, whose
repr hides them; no message built here ever contains them or the URL's
userinfo part.
"""

from __future__ import annotations

import email.utils
import logging
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import requests
import urllib3

from importer.errors import AuthError, BackendError
from importer.retry import MAX_RETRY_AFTER

log = logging.getLogger(__name__)

API = "/REST/2.0"
# 502/504 come from a proxy that may already have handed the request to RT;
# 503 may too. Only reads are repeated after them.
TRANSIENT_STATUS = frozenset({429, 502, 503, 504})
_insecure_warned = False
_warn_lock = threading.Lock()


class _BasicAuth(requests.auth.HTTPBasicAuth):
    def __repr__(self) -> str:
        return f"<basic auth user={self.username!r} password=***>"


class _NoAuth(requests.auth.AuthBase):
    """Sends no Authorization header (to test whether the session cookie alone works)."""

    def __call__(self, r):
        r.headers.pop("Authorization", None)
        return r


class _TokenAuth(requests.auth.AuthBase):
    """RT's auth tokens: `Authorization: token <secret>` (RT::Authen::Token)."""

    def __init__(self, token: str):
        self._token = token

    def __call__(self, r):
        r.headers["Authorization"] = f"token {self._token}"
        return r

    def __repr__(self) -> str:
        return "<token auth ***>"


@dataclass(frozen=True)
class Credentials:
    """Where the credentials came from, without them: safe to print."""

    kind: str      # "token" | "basic" | "none"
    user: str | None


def auth_from_env(env: Mapping[str, str]) -> tuple[requests.auth.AuthBase | None, Credentials]:
    """RTTOKEN wins over RTUSER/RTPASSWD, as in RT's own command-line client."""
    token = env.get("RTTOKEN")
    if token:
        return _TokenAuth(token), Credentials("token", env.get("RTUSER") or None)
    user, password = env.get("RTUSER"), env.get("RTPASSWD")
    if user and password is not None:
        return _BasicAuth(user, password), Credentials("basic", user)
    return None, Credentials("none", user or None)


def clean_base_url(url: str) -> str:
    """The server's base URL without userinfo, query or trailing slash, nor `/REST/2.0`."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("RT URL must be http:// or https:// with a host")
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port:
        netloc += f":{parts.port}"
    path = parts.path.rstrip("/")
    if path.endswith(API):
        path = path[: -len(API)]
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, "", ""))


@dataclass(frozen=True)
class Answer:
    """One HTTP answer from RT, decoded."""

    status: int
    body: Any                      # parsed JSON, or None
    location: str | None           # the Location header (201 answers)


def _never_reached_server(exc: requests.RequestException) -> bool:
    """True when the connection was never established, so nothing was sent."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason = getattr(exc.args[0], "reason", exc.args[0]) if exc.args else None
    return isinstance(reason, (urllib3.exceptions.NewConnectionError,
                               urllib3.exceptions.NameResolutionError))


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if not value:
        return None
    # RFC 9110 section 10.2.3: delay-seconds is ASCII digits; str.isdigit() alone also
    # accepts "¹" or Arabic-Indic digits, which float() refuses (found by hypothesis).
    if value.strip().isascii() and value.strip().isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, min(when.timestamp() - time.time(), MAX_RETRY_AFTER))


def _message(body: Any) -> str:
    """RT's own words from an error answer, bounded."""
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return body["message"][:500]
    return ""


class RTClient:
    """A thread-safe REST 2 client: one requests.Session per thread."""

    def __init__(self, base_url: str, auth: requests.auth.AuthBase | None, *,
                 verify: bool | str = True, timeout: float = 60.0,
                 adapter: Callable[[], requests.adapters.BaseAdapter] | None = None):
        self.base_url = clean_base_url(base_url)
        self._auth, self._verify, self._timeout = auth, verify, timeout
        self._adapter = adapter
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self.requests_sent = 0
        if verify is False:
            _warn_insecure_once(self.base_url)

    def __repr__(self) -> str:
        return f"<RTClient {self.base_url} auth={self._auth!r}>"

    def _session(self) -> requests.Session:
        s = getattr(self._local, "session", None)
        if s is None:
            s = requests.Session()
            s.auth, s.verify = self._auth, self._verify
            s.trust_env = False    # no .netrc or proxy variables: credentials come from RT*
            s.headers["Accept"] = "application/json"
            if self._adapter is not None:
                s.mount("http://", self._adapter())
                s.mount("https://", self._adapter())
            self._local.session = s
            with self._lock:
                self._sessions.append(s)
            self._login(s)
        return s

    def _login(self, s: requests.Session) -> None:
        """Log in once through RT's web login to get a session cookie.

        RT checks a password with bcrypt on every basic-auth request (about 0.3 s
        on a 2-core machine; REST2::Middleware::Auth), but tries the session
        cookie first (8 ms). The basic auth stays on every request, so an expired
        or refused cookie only costs speed. A cookie RT does not accept is dropped.
        For a write RT takes the cookie only with an Origin of its own (its CSRF
        check, `request_origin_allowed`), else it falls back to the password: each
        write then cost a bcrypt too, 0.43 s a request on Debian's RT 5.
        """
        if not isinstance(self._auth, _BasicAuth):
            return
        try:
            self._count()
            s.post(self.base_url + "/NoAuth/Login.html", allow_redirects=False,
                   data={"user": self._auth.username, "pass": self._auth.password},
                   timeout=self._timeout)
            if not s.cookies:
                return
            self._count()
            check = s.get(self.base_url + API + "/rt", auth=_NoAuth(), allow_redirects=False,
                          timeout=self._timeout)
            if check.status_code != 200:
                s.cookies.clear()
            else:
                s.headers["Origin"] = _origin(self.base_url)
        except requests.RequestException:
            s.cookies.clear()

    def _count(self) -> None:
        with self._lock:
            self.requests_sent += 1

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Answer:
        return self._call("GET", path, params=params)

    def post(self, path: str, payload: Any) -> Answer:
        return self._call("POST", path, json=payload)

    def put(self, path: str, payload: Any) -> Answer:
        return self._call("PUT", path, json=payload)

    def _call(self, method: str, path: str, **kw) -> Answer:
        """One try; the retry layer (importer/retry.py) decides whether to try again."""
        url = self.base_url + API + path
        session = self._session()
        self._count()
        try:
            resp = session.request(method, url, timeout=self._timeout, allow_redirects=False, **kw)
        except requests.RequestException as exc:
            # A read can always be repeated; a write only if it never reached RT.
            unsent = method == "GET" or _never_reached_server(exc)
            raise BackendError(f"{method} {path}: {type(exc).__name__}"
                               + ("" if unsent else ": answer lost, the request may have been applied"),
                               transient=True, sent=not unsent) from None
        return self._answer(method, path, resp)

    def _answer(self, method: str, path: str, resp: requests.Response) -> Answer:
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = None
        status = resp.status_code
        if status < 300:
            return Answer(status, body, resp.headers.get("Location"))
        if 300 <= status < 400:
            # REST2 redirects to the login page instead of answering 401 when the
            # request carried a cookie (Middleware::Auth::_looks_like_browser).
            raise AuthError(f"{method} {path}: credentials refused (redirected to login)",
                            status=status)
        what = f"{method} {path}: {_message(body) or resp.reason or 'error'}"
        if status in (401, 403):
            raise AuthError(what, status=status)
        # A 429 was refused before any work; a 502/503/504 may come from a proxy that had
        # already handed the request on: only a read is surely not applied then.
        raise BackendError(what, status=status, transient=status in TRANSIENT_STATUS,
                           sent=method != "GET" and status != 429,
                           retry_after=_retry_after(resp) if status in TRANSIENT_STATUS else None)

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()
        self._local = threading.local()


def _origin(base_url: str) -> str:
    """RFC 6454's serialisation of the server's origin: scheme, host and port, no path."""
    parts = urllib.parse.urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}"


def _warn_insecure_once(url: str) -> None:
    global _insecure_warned
    with _warn_lock:
        if _insecure_warned:
            return
        _insecure_warned = True
    log.warning("TLS certificate verification is OFF for %s (verify_tls: false)", url)
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
