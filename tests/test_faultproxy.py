"""The fault-injecting proxy of the RT tests (tests/rt/faultproxy.py), against a tiny local upstream.

Needs no RT: the upstream is an http.server on 127.0.0.1 that records every
request it receives and answers JSON.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
import requests

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "rt"))

from faultproxy import FaultProxy  # noqa: E402

TIMEOUT = 3.0
BIG = bytes(range(256)) * 64          # 16 KiB


class _Upstream(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        self.hits: list[tuple[str, str, bytes, dict]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)        # no getfqdn() lookup
        self.server_name, self.server_port = self.server_address[:2]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def count(self, method: str | None = None, path: str | None = None) -> int:
        with self.lock:
            return sum(1 for m, p, _, _ in self.hits
                       if (method is None or m == method) and (path is None or p.split("?")[0] == path))


class _UpstreamHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Upstream

    def log_message(self, format, *args):     # noqa: A002
        pass

    def _record(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        with self.server.lock:
            self.server.hits.append((self.command, self.path, body, headers))
        return body

    def _json(self, status: int, payload, extra=()) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _echo(self, body: bytes) -> dict:
        path, _, query = self.path.partition("?")
        return {"method": self.command, "path": path, "query": query,
                "body": body.decode("latin-1"),
                "headers": {k.lower(): v for k, v in self.headers.items()}}

    def do_GET(self):
        body = self._record()
        path = self.path.split("?")[0]
        if path == "/big":
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG)
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (b'{"chunked": ', b'"yes", "n": ', b'3}'):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/empty":
            self.send_response(204)
            self.end_headers()
        elif path == "/zero":
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/elsewhere":
            self._json(302, {}, [("Location", "http://elsewhere.invalid/x")])
        else:
            self._json(200, self._echo(body))

    def do_POST(self):
        body = self._record()
        if self.path.split("?")[0] == "/items":
            self._json(201, {"id": 7, **self._echo(body)},
                       [("Location", f"{self.server.url}/items/7")])
        else:
            self._json(200, self._echo(body))

    do_PUT = do_DELETE = do_POST


@pytest.fixture
def upstream():
    server = _Upstream()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(upstream):
    with FaultProxy(upstream.url, seed=1) as p:
        yield p


@pytest.fixture
def session():
    with requests.Session() as s:
        s.trust_env = False
        yield s


# -- plain forwarding ------------------------------------------------------------


def test_url_is_local_and_different_from_the_upstream(proxy, upstream):
    parts = urlsplit(proxy.url)
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1"
    assert parts.port and parts.port != upstream.server_port
    assert proxy.start() is proxy


def test_forwards_get_with_query(proxy, upstream, session):
    r = session.get(proxy.url + "/REST/2.0/tickets?query=Queue%3D%27x%27&page=2", timeout=TIMEOUT)
    assert r.status_code == 200
    echo = r.json()
    assert (echo["method"], echo["path"]) == ("GET", "/REST/2.0/tickets")
    assert echo["query"] == "query=Queue%3D%27x%27&page=2"
    assert echo["headers"]["host"] == f"127.0.0.1:{upstream.server_port}"
    assert upstream.count("GET") == 1
    assert proxy.forwarded == 1 and not proxy.injected
    assert proxy.log == [("GET", "/REST/2.0/tickets", None)]


def test_forwards_post_and_put_bodies(proxy, upstream, session):
    r = session.post(proxy.url + "/thing?x=1", json={"Subject": "héllo", "n": [1, 2]},
                     timeout=TIMEOUT)
    assert r.status_code == 200
    assert json.loads(r.json()["body"].encode("latin-1")) == {"Subject": "héllo", "n": [1, 2]}
    assert r.json()["query"] == "x=1"
    assert r.json()["headers"]["content-type"] == "application/json"

    r = session.put(proxy.url + "/thing/3", data=b"\x00\xffraw bytes", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["method"] == "PUT"
    assert r.json()["body"].encode("latin-1") == b"\x00\xffraw bytes"

    r = session.post(proxy.url + "/form", data={"user": "root", "pass": "pw"}, timeout=TIMEOUT)
    assert r.json()["body"] == "user=root&pass=pw"

    r = session.post(proxy.url + "/empty-post", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["body"] == ""
    assert [h[0] for h in upstream.hits] == ["POST", "PUT", "POST", "POST"]
    assert proxy.forwarded == 4


def test_chunked_request_body_is_forwarded_with_a_length(proxy, upstream, session):
    def pieces():
        yield b"first,"
        yield b"second"
    r = session.post(proxy.url + "/stream", data=pieces(), timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json()["body"] == "first,second"
    assert r.json()["headers"]["content-length"] == "12"
    assert "transfer-encoding" not in r.json()["headers"]


def test_hop_by_hop_headers_are_not_forwarded(proxy, upstream, session):
    r = session.get(proxy.url + "/h", timeout=TIMEOUT,
                    headers={"X-Custom": "kept", "Proxy-Authorization": "Basic eDp5",
                             "TE": "trailers", "Upgrade": "h2c", "X-Listed": "gone",
                             "Connection": "keep-alive, X-Listed",
                             "Keep-Alive": "timeout=5", "Authorization": "token abc"})
    headers = r.json()["headers"]
    assert headers["x-custom"] == "kept" and headers["authorization"] == "token abc"
    for name in ("proxy-authorization", "te", "upgrade", "x-listed", "connection", "keep-alive"):
        assert name not in headers, name


def test_location_pointing_at_the_upstream_is_rewritten(proxy, upstream, session):
    r = session.post(proxy.url + "/items", json={"Subject": "x"}, timeout=TIMEOUT)
    assert r.status_code == 201
    assert r.headers["Location"] == proxy.url + "/items/7"
    assert r.json()["id"] == 7

    r = session.get(proxy.url + "/elsewhere", allow_redirects=False, timeout=TIMEOUT)
    assert r.status_code == 302
    assert r.headers["Location"] == "http://elsewhere.invalid/x"


def test_big_body_arrives_whole(proxy, session):
    r = session.get(proxy.url + "/big", timeout=TIMEOUT)
    assert r.content == BIG
    assert r.headers["Content-Length"] == str(len(BIG))


# -- faults ----------------------------------------------------------------------


def test_drop_applies_the_request_but_sends_no_answer(proxy, upstream, session):
    proxy.add_rule("drop", method="POST", path=r"/items$")
    with pytest.raises(requests.ConnectionError):
        session.post(proxy.url + "/items", json={"Subject": "lost"}, timeout=TIMEOUT)
    assert upstream.count("POST", "/items") == 1
    assert json.loads(upstream.hits[0][2]) == {"Subject": "lost"}
    assert proxy.injected == {"drop": 1} and proxy.forwarded == 1
    # times=1: the next one goes through, on a new connection
    r = session.post(proxy.url + "/items", json={}, timeout=TIMEOUT)
    assert r.status_code == 201
    assert proxy.log == [("POST", "/items", "drop"), ("POST", "/items", None)]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_status_is_answered_without_forwarding(proxy, upstream, session, status):
    proxy.add_rule(str(status))
    r = session.post(proxy.url + "/items", json={"a": 1}, timeout=TIMEOUT)
    assert r.status_code == status
    assert r.json() == {"message": "injected"}
    assert r.headers["Content-Type"] == "application/json"
    assert upstream.count() == 0 and proxy.forwarded == 0
    assert proxy.injected[str(status)] == 1
    # the connection stays usable
    assert session.get(proxy.url + "/x", timeout=TIMEOUT).status_code == 200
    assert upstream.count() == 1


def test_429_carries_retry_after(proxy, upstream, session):
    proxy.add_rule("429", path="^/first")
    proxy.add_rule("429", path="^/second", retry_after=7)
    r = session.get(proxy.url + "/first", timeout=TIMEOUT)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    r = session.get(proxy.url + "/second", timeout=TIMEOUT)
    assert r.status_code == 429 and r.headers["Retry-After"] == "7"
    assert r.json() == {"message": "injected"}
    assert upstream.count() == 0
    assert proxy.injected == {"429": 2}


def test_delay_beyond_the_client_timeout(proxy, upstream, session, capfd):
    proxy.add_rule("delay", seconds=3)
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        session.put(proxy.url + "/slow", json={"x": 1}, timeout=0.3)
    assert time.monotonic() - started < 2
    assert upstream.count("PUT", "/slow") == 1
    assert proxy.injected == {"delay": 1} and proxy.forwarded == 1
    assert session.get(proxy.url + "/after", timeout=TIMEOUT).status_code == 200
    time.sleep(0.1)       # the delayed thread notices the client left, and closes quietly
    assert "Traceback" not in capfd.readouterr().err


def test_delay_within_the_client_timeout_answers(proxy, upstream, session):
    proxy.add_rule("delay", seconds=0.2)
    started = time.monotonic()
    r = session.get(proxy.url + "/slow", timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["path"] == "/slow"
    assert time.monotonic() - started >= 0.2


def test_cut_sends_half_a_body(proxy, upstream, session, capfd):
    proxy.add_rule("cut", path="/big")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        session.get(proxy.url + "/big", timeout=TIMEOUT)
    assert upstream.count("GET", "/big") == 1
    assert proxy.injected == {"cut": 1}
    assert session.get(proxy.url + "/big", timeout=TIMEOUT).content == BIG
    assert "Traceback" not in capfd.readouterr().err


def test_cut_of_a_streamed_answer_is_seen_half_way(proxy, session):
    proxy.add_rule("cut", path="/big")
    r = session.get(proxy.url + "/big", timeout=TIMEOUT, stream=True)
    assert r.status_code == 200 and r.headers["Content-Length"] == str(len(BIG))
    got = bytearray()
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        for piece in r.iter_content(1024):
            got += piece
    assert bytes(got) == BIG[:len(BIG) // 2]


@pytest.mark.parametrize("path", ["/zero"])
def test_cut_of_an_answer_without_body_still_fails(proxy, upstream, session, path):
    proxy.add_rule("cut")
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        session.get(proxy.url + path, timeout=TIMEOUT)
    assert upstream.count("GET", path) == 1


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["result"] = fn()
        except BaseException as exc:     # noqa: BLE001 - handed to the test
            out["error"] = exc
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_hold_until_release(proxy, upstream, session):
    proxy.add_rule("hold", method="POST")
    t, out = _in_thread(lambda: session.post(proxy.url + "/items", json={"h": 1}, timeout=TIMEOUT))
    assert proxy.held.wait(TIMEOUT)
    time.sleep(0.05)
    assert t.is_alive() and not out                 # applied, not answered
    assert upstream.count("POST", "/items") == 1
    proxy.release()
    t.join(TIMEOUT)
    assert not t.is_alive()
    r = out["result"]
    assert r.status_code == 201 and r.headers["Location"] == proxy.url + "/items/7"
    assert not proxy.held.is_set()
    assert proxy.injected == {"hold": 1}


def test_hold_when_the_client_is_gone(proxy, upstream, session, capfd):
    proxy.add_rule("hold")
    with pytest.raises(requests.ReadTimeout):
        session.post(proxy.url + "/items", json={}, timeout=0.3)
    assert proxy.held.is_set() and upstream.count() == 1
    proxy.release()
    assert session.get(proxy.url + "/next", timeout=TIMEOUT).status_code == 200
    time.sleep(0.1)
    assert "Traceback" not in capfd.readouterr().err


def test_stop_lets_a_held_request_go(upstream, session):
    proxy = FaultProxy(upstream.url).start()
    proxy.add_rule("hold")
    t, out = _in_thread(lambda: session.get(proxy.url + "/x", timeout=TIMEOUT))
    assert proxy.held.wait(TIMEOUT)
    started = time.monotonic()
    proxy.stop()
    t.join(TIMEOUT)
    assert not t.is_alive() and time.monotonic() - started < 2
    # Stopping may get the answer out or not, but the client never hangs.
    assert "result" in out or isinstance(out["error"], requests.RequestException)


# -- rules -----------------------------------------------------------------------


def _statuses(session, url, n, method="GET"):
    return [session.request(method, url, timeout=TIMEOUT).status_code for _ in range(n)]


def test_nth_fires_on_that_matching_request_only(proxy, upstream, session):
    proxy.add_rule("500", path=r"^/echo$", nth=3)
    session.get(proxy.url + "/other", timeout=TIMEOUT)            # does not match: not counted
    assert _statuses(session, proxy.url + "/echo?q=1", 5) == [200, 200, 500, 200, 200]
    assert upstream.count("GET", "/echo") == 4
    assert proxy.rules[0].seen == 5 and proxy.rules[0].fired == 1


def test_times_caps_the_rule(proxy, upstream, session):
    proxy.add_rule("503", method="get", times=2)
    assert _statuses(session, proxy.url + "/p", 1, "POST") == [200]
    assert _statuses(session, proxy.url + "/g", 4) == [503, 503, 200, 200]
    assert proxy.injected == {"503": 2}


def test_times_none_is_unlimited_and_path_ignores_the_query(proxy, session):
    proxy.add_rule("502", path=r"^/echo$", times=None)
    assert _statuses(session, proxy.url + "/echo?next=/other", 6) == [502] * 6
    assert _statuses(session, proxy.url + "/other?x=/echo", 1) == [200]
    assert proxy.injected == {"502": 6}


def test_method_can_be_several(proxy, session):
    proxy.add_rule("500", method=("POST", "put"), times=None)
    assert [session.request(m, proxy.url + "/m", timeout=TIMEOUT).status_code
            for m in ("GET", "POST", "PUT", "DELETE")] == [200, 500, 500, 200]


def test_first_rule_that_fires_decides(proxy, session):
    proxy.add_rule("500", nth=2)
    proxy.add_rule("503")
    assert _statuses(session, proxy.url + "/x", 4) == [503, 500, 200, 200]
    assert proxy.injected == {"500": 1, "503": 1}


def test_clear_removes_the_rules(proxy, session):
    proxy.add_rule("500", times=None)
    assert _statuses(session, proxy.url + "/x", 2) == [500, 500]
    proxy.clear()
    assert proxy.rules == []
    assert _statuses(session, proxy.url + "/x", 2) == [200, 200]
    assert proxy.injected == {"500": 2}           # counters stay


def _rate_run(upstream_url, seed, n=100):
    with FaultProxy(upstream_url, seed=seed) as p, requests.Session() as s:
        s.trust_env = False
        p.add_rule("500", rate=0.3, times=None)
        statuses = _statuses(s, p.url + "/r", n)
        assert p.injected["500"] == statuses.count(500)
        assert p.forwarded == statuses.count(200)
        return statuses


def test_rate_is_about_right_and_follows_the_seed(upstream):
    first = _rate_run(upstream.url, 42)
    assert 15 <= first.count(500) <= 45          # rate 0.3 of 100: 30 +- 3.3 sd
    assert upstream.count() == first.count(200)
    assert _rate_run(upstream.url, 42) == first
    assert _rate_run(upstream.url, 43) != first


def test_rate_with_times_stops_after_times(proxy, session):
    proxy.add_rule("500", rate=0.5, times=3)
    assert _statuses(session, proxy.url + "/x", 60).count(500) == 3


def test_counters_and_log(proxy, upstream, session):
    proxy.add_rule("500", method="GET", path="^/a", nth=1)
    proxy.add_rule("429", method="POST", times=1)
    proxy.add_rule("drop", path="^/d")
    session.get(proxy.url + "/a?x=1", timeout=TIMEOUT)
    session.get(proxy.url + "/a", timeout=TIMEOUT)
    session.post(proxy.url + "/p", timeout=TIMEOUT)
    session.post(proxy.url + "/p", timeout=TIMEOUT)
    with pytest.raises(requests.ConnectionError):
        session.put(proxy.url + "/d", data=b"x", timeout=TIMEOUT)
    session.put(proxy.url + "/d", data=b"x", timeout=TIMEOUT)
    assert proxy.log == [("GET", "/a", "500"), ("GET", "/a", None), ("POST", "/p", "429"),
                         ("POST", "/p", None), ("PUT", "/d", "drop"), ("PUT", "/d", None)]
    assert proxy.injected == {"500": 1, "429": 1, "drop": 1}
    assert proxy.forwarded == 4 == upstream.count()


def test_rules_are_thread_safe(proxy, upstream):
    proxy.add_rule("503", times=5)

    def worker(out):
        with requests.Session() as s:
            s.trust_env = False
            out.extend(s.get(proxy.url + "/t", timeout=TIMEOUT).status_code for _ in range(10))
    results = [[] for _ in range(8)]
    threads = [threading.Thread(target=worker, args=(r,)) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    statuses = [s for r in results for s in r]
    assert len(statuses) == 80
    assert statuses.count(503) == 5 and proxy.injected["503"] == 5
    assert proxy.forwarded == 75 == upstream.count()
    assert len(proxy.log) == 80


def test_bad_rules_are_refused(proxy):
    with pytest.raises(ValueError):
        proxy.add_rule("404")
    with pytest.raises(TypeError):
        proxy.add_rule("delay")
    with pytest.raises(TypeError):
        proxy.add_rule("500", seconds=1)
    with pytest.raises(ValueError):
        proxy.add_rule("500", nth=0)
    with pytest.raises(ValueError):
        proxy.add_rule("500", rate=1.5)
    assert proxy.rules == []


# -- robustness ------------------------------------------------------------------


def test_client_leaving_mid_request_is_quiet(proxy, upstream, session, capfd):
    host, port = urlsplit(proxy.url).hostname, urlsplit(proxy.url).port
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        raw.sendall(b"POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nonly ten b")
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        raw.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        raw.recv(10)                       # leaves with most of the answer unread
    with socket.create_connection((host, port), timeout=TIMEOUT) as raw:
        raw.sendall(b"GET /x HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400")
    time.sleep(0.1)
    assert session.get(proxy.url + "/still-up", timeout=TIMEOUT).status_code == 200
    assert upstream.count("POST") == 0
    assert "Traceback" not in capfd.readouterr().err


def test_upstream_down_is_a_502_from_the_proxy(session):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # nothing listens here once closed
    with FaultProxy(f"http://127.0.0.1:{port}") as proxy:
        r = session.get(proxy.url + "/x", timeout=TIMEOUT)
        assert r.status_code == 502 and "upstream" in r.json()["message"]


def test_stop_closes_the_listener_and_open_connections(upstream, session):
    with FaultProxy(upstream.url) as proxy:
        assert session.get(proxy.url + "/x", timeout=TIMEOUT).status_code == 200
        url = proxy.url
    with pytest.raises(requests.ConnectionError):
        session.get(url + "/x", timeout=TIMEOUT)
    proxy.stop()                              # twice is fine


def test_upstream_path_prefix_is_kept(upstream, session):
    with FaultProxy(upstream.url + "/rt/") as proxy:
        assert proxy.url.endswith("/rt")
        r = session.post(proxy.url + "/items", json={}, timeout=TIMEOUT)
        assert r.json()["path"] == "/rt/items"
