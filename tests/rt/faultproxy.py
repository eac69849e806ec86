"""A fault-injecting HTTP/1.1 reverse proxy for tests.

`FaultProxy` listens on 127.0.0.1 (a free port) and forwards every request to
an upstream base URL, such as the throwaway RT server, returning its answers
unchanged except for the hop-by-hop headers, a recomputed Content-Length and
`Location` headers that point at the upstream, which are rewritten to point at
the proxy. Rules make it misbehave on chosen requests::

    with FaultProxy(rt_server.url, seed=7) as proxy:
        proxy.add_rule("drop", method="POST", path=r"/ticket$")     # applied, answer lost
        proxy.add_rule("503", method="GET", times=None, rate=0.2)   # never forwarded
        client = RTClient(proxy.url, ...)

Fault kinds:

``drop``
    Forward the request, read the answer, then close the client's connection
    without sending anything: the request was applied but the client cannot know.
``500``, ``502``, ``503``
    Answer that status with ``{"message": "injected"}`` without forwarding.
``429``
    Answer 429 with ``Retry-After: <retry_after>`` (default 1) without forwarding.
``delay``
    Forward, then wait ``seconds`` before answering (to exceed a client's
    timeout). A client that has gone away meanwhile is not answered.
``cut``
    Forward, then send the status line and headers with the full Content-Length
    but only the first half of the body, and close the connection. An empty body
    is announced as one byte; an answer that cannot have a body (HEAD, 204, 304)
    is cut in its status line.
``hold``
    Forward, read the answer, set `FaultProxy.held` and wait for `release()`
    (or `stop()`), then answer, unless the client has gone away meanwhile. For
    tests that kill a client whose request was applied but not yet answered.

Rules are checked in the order they were added and the first one that fires
decides; a request that no rule fires on is forwarded untouched. A rule only
sees the requests that reach it (that no earlier rule fired on) and match its
method and path; among those, `nth` picks a single one (1-based), `times` caps
how often it fires (None: no cap) and `rate` makes it fire with that
probability, drawn from a `random.Random` seeded with the proxy's `seed`.

Upstream requests go over a fresh connection each, so every forwarded request
is applied exactly once upstream. Uses only the standard library.
"""

from __future__ import annotations

import collections
import http.client
import json
import random
import re
import select
import socket
import socketserver
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterable, Pattern
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "Rule", "KINDS"]

#: Every fault kind `FaultProxy.add_rule` accepts.
KINDS = ("drop", "500", "502", "503", "429", "delay", "cut", "hold")

_FORWARDING = {"drop", "delay", "cut", "hold"}
_PARAMS = {"429": {"retry_after"}, "delay": {"seconds"}}
_REQUIRED = {"delay": {"seconds"}}

# RFC 9110 section 7.6.1, plus Expect: the proxy itself answers "100-continue".
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
               "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding",
               "upgrade", "expect"}

_INJECTED_BODY = json.dumps({"message": "injected"}).encode("ascii")


def _is_hop_by_hop(name: str, listed: set[str]) -> bool:
    name = name.lower()
    return name in _HOP_BY_HOP or name.startswith("proxy-") or name in listed


def _connection_tokens(headers) -> set[str]:
    """Header names listed in the Connection header(s), which are hop-by-hop too."""
    tokens = set()
    for value in headers.get_all("Connection") or ():
        tokens.update(t.strip().lower() for t in value.split(",") if t.strip())
    return tokens


@dataclass
class Rule:
    """One fault rule; `seen` and `fired` count the matching requests it saw and fired on."""

    kind: str
    method: frozenset[str] | None = None
    path: Pattern[str] | None = None
    nth: int | None = None
    times: int | None = 1
    rate: float | None = None
    params: dict = field(default_factory=dict)
    seen: int = 0
    fired: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and method.upper() not in self.method:
            return False
        return self.path is None or self.path.search(path) is not None

    def __repr__(self) -> str:
        where = [f"{k}={v!r}" for k, v in (("method", self.method and sorted(self.method)),
                                           ("path", self.path and self.path.pattern),
                                           ("nth", self.nth), ("times", self.times),
                                           ("rate", self.rate)) if v is not None]
        where += [f"{k}={v!r}" for k, v in self.params.items()]
        return (f"<Rule {self.kind} {' '.join(where)} seen={self.seen} fired={self.fired}>")


@dataclass
class _Upstream:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: "FaultProxy"):
        self.proxy = proxy
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self):
        # HTTPServer.server_bind looks the host up with socket.getfqdn, which can be slow.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request, client_address):
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, ssl.SSLError)) or self.proxy._stopping:
            return     # clients that go away (or a stopping proxy) are part of the game
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args):     # noqa: A002 - the base class's name
        pass

    def do_GET(self):
        self._proxy()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -- reading and forwarding ------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        n = int(length)      # a ValueError is answered 400 by _proxy
        body = self.rfile.read(n)
        if len(body) < n:
            raise ConnectionResetError("client closed the connection in the request body")
        return body

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionResetError("client closed the connection in a chunked body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass       # trailers: dropped
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(65537)

    def _forward(self, body: bytes) -> _Upstream:
        proxy = self.server.proxy
        conn = proxy._connect()
        try:
            listed = _connection_tokens(self.headers)
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", proxy._upstream_host)
            for name, value in self.headers.items():
                if name.lower() in ("host", "content-length") or _is_hop_by_hop(name, listed):
                    continue
                conn.putheader(name, value)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            proxy._count_forwarded()
            resp = conn.getresponse()
            data = resp.read()
            return _Upstream(resp.status, resp.reason, resp.getheaders(), data)
        finally:
            conn.close()

    # -- answering -------------------------------------------------------------

    def _client_gone(self) -> bool:
        """True when the client has closed or reset its side of the connection."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _send(self, up: _Upstream, *, cut: bool = False) -> None:
        proxy = self.server.proxy
        no_body = self.command == "HEAD" or up.status in (204, 304) or 100 <= up.status < 200
        listed = {t.strip().lower() for name, value in up.headers if name.lower() == "connection"
                  for t in value.split(",") if t.strip()}
        if cut and no_body:
            # Nothing to cut but the head: half a status line, then the connection closes.
            line = f"{self.protocol_version} {up.status} {up.reason}\r\n".encode("latin-1")
            self.wfile.write(line[:len(line) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send_response_only(up.status, up.reason)
        for name, value in up.headers:
            lname = name.lower()
            if _is_hop_by_hop(name, listed):
                continue
            if lname == "content-length":
                if self.command == "HEAD":
                    self.send_header(name, value)
                continue
            if lname == "location":
                value = proxy._rewrite_location(value)
            self.send_header(name, value)
        body = b"" if no_body else up.body
        if cut:
            # Always leave something missing, even from an empty body.
            self.send_header("Content-Length", str(max(len(body), 1)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if not no_body:
            self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if body:
            self.wfile.write(body)
        self.wfile.flush()

    def _send_injected(self, status: int, extra: Iterable[tuple[str, str]] = ()) -> None:
        self.send_response_only(status)
        self.send_header("Content-Type", "application/json")
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(_INJECTED_BODY)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(_INJECTED_BODY)
        self.wfile.flush()

    def _bad_gateway(self, exc: BaseException) -> None:
        body = json.dumps({"message": f"fault proxy: upstream failed: {type(exc).__name__}: {exc}"})
        self._send(_Upstream(502, "Bad Gateway", [("Content-Type", "application/json")],
                             body.encode("utf-8")))

    # -- the request -----------------------------------------------------------

    def _proxy(self) -> None:
        proxy = self.server.proxy
        try:
            body = self._read_body()
        except ValueError:
            self.send_error(400, "bad Content-Length or chunk size")
            return
        path = self.path.split("?", 1)[0]
        rule = proxy._decide(self.command, path)
        kind = rule.kind if rule else None

        if kind in ("500", "502", "503"):
            self._send_injected(int(kind))
            return
        if kind == "429":
            self._send_injected(429, [("Retry-After", str(rule.params.get("retry_after", 1)))])
            return

        try:
            up = self._forward(body)
        except (OSError, http.client.HTTPException) as exc:
            if kind == "drop":
                self.close_connection = True
            else:
                self._bad_gateway(exc)
            return

        if kind is None:
            self._send(up)
        elif kind == "drop":
            self.close_connection = True          # no answer at all
        elif kind == "cut":
            self._send(up, cut=True)
        elif kind == "delay":
            if proxy._wait(self, float(rule.params["seconds"])):
                self._send(up)
            else:
                self.close_connection = True
        elif kind == "hold":
            proxy._hold()
            if self._client_gone():
                self.close_connection = True
            else:
                self._send(up)
        else:                                      # pragma: no cover - add_rule validates
            raise AssertionError(kind)


class FaultProxy:
    """A reverse proxy on 127.0.0.1 that forwards to `upstream_url` and injects faults by rule.

    Attributes, all safe to read from any thread:

    - `url`: the proxy's base URL (the upstream's path prefix on the proxy's origin);
    - `injected`: a `collections.Counter` of fault kind -> times injected;
    - `forwarded`: how many requests were sent upstream;
    - `log`: ``(method, path, kind or None)`` for every request, path without the query;
    - `held`: a `threading.Event` set while a ``hold`` rule holds an answer.
    """

    def __init__(self, upstream_url: str, *, seed: int | None = 0,
                 upstream_timeout: float = 120.0):
        parts = urlsplit(upstream_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) base URL: {upstream_url!r}")
        self.upstream_url = upstream_url.rstrip("/")
        self._scheme = parts.scheme
        self._upstream_hostname = parts.hostname
        self._upstream_port = parts.port or (443 if parts.scheme == "https" else 80)
        self._upstream_host = parts.netloc.rsplit("@", 1)[-1]
        self._upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self._upstream_timeout = upstream_timeout

        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._rules: list[Rule] = []
        self.injected: collections.Counter[str] = collections.Counter()
        self.forwarded = 0
        self.log: list[tuple[str, str, str | None]] = []

        self.held = threading.Event()
        self._hold_cond = threading.Condition()
        self._release_generation = 0
        self._stopping = False

        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None

    def __repr__(self) -> str:
        return f"<FaultProxy {self.url or '(stopped)'} -> {self.upstream_url}>"

    # -- life cycle ------------------------------------------------------------

    def start(self) -> "FaultProxy":
        if self._server is not None:
            return self
        self._stopping = False
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self._origin = f"http://{host}:{port}"
        self.url = self._origin + self._prefix
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"faultproxy:{port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        with self._hold_cond:
            self._stopping = True
            self._hold_cond.notify_all()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- rules -----------------------------------------------------------------

    def add_rule(self, kind: str, *, method: str | Iterable[str] | None = None,
                 path: str | Pattern[str] | None = None, nth: int | None = None,
                 times: int | None = 1, rate: float | None = None, **params) -> Rule:
        """Add a rule after the existing ones and return it.

        `method`: a method or several (case-insensitive), None for any; `path`: a
        regular expression searched in the request path (without the query);
        `nth`: fire only on the nth matching request (1-based); `times`: fire on
        at most that many requests (None: unlimited); `rate`: fire with that
        probability on each matching request. `params`: ``retry_after`` for
        ``429`` (default 1), ``seconds`` for ``delay`` (required).
        """
        kind = str(kind)
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(KINDS)}")
        unknown = set(params) - _PARAMS.get(kind, set())
        if unknown:
            raise TypeError(f"fault {kind!r} takes no parameter(s) {', '.join(sorted(unknown))}")
        missing = _REQUIRED.get(kind, set()) - set(params)
        if missing:
            raise TypeError(f"fault {kind!r} needs parameter(s) {', '.join(sorted(missing))}")
        if nth is not None and nth < 1:
            raise ValueError("nth is 1-based")
        if times is not None and times < 0:
            raise ValueError("times must be >= 0 or None")
        if rate is not None and not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        methods = None
        if method is not None:
            methods = frozenset([method.upper()] if isinstance(method, str)
                                else (m.upper() for m in method))
        pattern = re.compile(path) if isinstance(path, str) else path
        rule = Rule(kind, methods, pattern, nth, times, rate, dict(params))
        with self._lock:
            self._rules.append(rule)
        return rule

    def reseed(self, seed: int | None) -> None:
        """Start the `rate` draws again from `seed`."""
        with self._lock:
            self._random.seed(seed)

    def clear(self) -> None:
        """Remove every rule (the counters and the log stay)."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[Rule]:
        with self._lock:
            return list(self._rules)

    def release(self) -> None:
        """Let every answer that a ``hold`` rule holds right now go (later holds wait again)."""
        with self._hold_cond:
            self._release_generation += 1
            self.held.clear()
            self._hold_cond.notify_all()

    # -- used by the handler ---------------------------------------------------

    def _decide(self, method: str, path: str) -> Rule | None:
        with self._lock:
            chosen = None
            for rule in self._rules:
                if not rule.matches(method, path):
                    continue
                rule.seen += 1
                if rule.nth is not None and rule.seen != rule.nth:
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                if rule.rate is not None and self._random.random() >= rule.rate:
                    continue
                rule.fired += 1
                chosen = rule
                break
            kind = chosen.kind if chosen else None
            if kind is not None:
                self.injected[kind] += 1
            self.log.append((method, path, kind))
            return chosen

    def _count_forwarded(self) -> None:
        with self._lock:
            self.forwarded += 1

    def _connect(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            context = ssl.create_default_context()
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            return http.client.HTTPSConnection(self._upstream_hostname, self._upstream_port,
                                               timeout=self._upstream_timeout, context=context)
        return http.client.HTTPConnection(self._upstream_hostname, self._upstream_port,
                                          timeout=self._upstream_timeout)

    def _rewrite_location(self, value: str) -> str:
        if value.startswith(self._upstream_origin):
            rest = value[len(self._upstream_origin):]
            if rest == "" or rest[0] in "/?#":
                return self._origin + rest
        return value

    def _wait(self, handler: _Handler, seconds: float) -> bool:
        """Sleep `seconds`; False as soon as the client goes away or the proxy stops."""
        deadline = time.monotonic() + seconds
        while True:
            if self._stopping or handler._client_gone():
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.02))

    def _hold(self) -> None:
        with self._hold_cond:
            generation = self._release_generation
            self.held.set()
            self._hold_cond.wait_for(
                lambda: self._release_generation != generation or self._stopping)
