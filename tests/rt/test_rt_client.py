"""The REST 2 client with the retry layer over it: retry rules, error mapping and secrecy,\non a scripted transport (no server)."""

from __future__ import annotations

import json
import logging

import pytest
import requests
import urllib3
from hypothesis import example, given, strategies as st

from importer.backends.rt import client as rtclient
from importer.errors import AuthError, BackendError
from importer.backends.rt.client import RTClient, auth_from_env, clean_base_url
from importer.retry import MAX_RETRY_AFTER, RetryPolicy


class Script(requests.adapters.BaseAdapter):
    """Answers each request with the next scripted step: a status (with headers) or an exception."""

    def __init__(self, steps):
        super().__init__()
        self.steps, self.seen = list(steps), []

    def send(self, request, **kw):
        if "/NoAuth/Login.html" in request.url:      # the web login: answered, sets no cookie
            self.logins = getattr(self, "logins", 0) + 1
            return self._response(request, 200, {}, {})
        self.seen.append((request.method, request.headers.get("Authorization")))
        step = self.steps.pop(0)
        if isinstance(step, Exception):
            raise step
        status, headers, body = step if isinstance(step, tuple) else (step, {}, {})
        return self._response(request, status, headers, body)

    @staticmethod
    def _response(request, status, headers, body):
        resp = requests.Response()
        resp.status_code, resp.request, resp.url = status, request, request.url
        resp.headers.update(headers)
        resp._content = json.dumps(body).encode()
        return resp

    def close(self):
        pass


def client(steps, retries=3, env=None):
    """A client on a scripted transport, and the one retry layer over it (importer/retry.py):
    the client tries each request once and says whether it may be repeated."""
    script = Script(steps)
    auth, _ = auth_from_env(env or {"RTUSER": "importer", "RTPASSWD": "hunter2-secret"})
    sleeps = []
    c = RTClient("https://rt.example.org/", auth, adapter=lambda: script)
    c.policy = RetryPolicy(attempts=retries, pause=sleeps.append)
    return c, script, sleeps


def retried(c, method, *args, recover=None):
    return c.policy.call(lambda: getattr(c, method)(*args), what=method, recover=recover)


def never(*_):
    raise AssertionError("asked what happened to a request that cannot have been applied")


def refused():
    reason = urllib3.exceptions.NewConnectionError(None, "Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", reason))


def test_reads_are_retried_on_gateway_errors_and_timeouts():
    c, script, sleeps = client([502, requests.exceptions.ReadTimeout(), 503, (200, {}, {"ok": 1})])
    assert retried(c, "get", "/rt", recover=never).body == {"ok": 1}
    assert len(script.seen) == 4 and len(sleeps) == 3


def test_reads_give_up_after_the_retry_budget_as_transient():
    c, script, _ = client([504] * 3, retries=2)
    with pytest.raises(BackendError) as err:
        retried(c, "get", "/rt")
    assert err.value.transient and err.value.status == 504 and len(script.seen) == 3


def test_each_request_is_tried_once_by_the_client():
    c, script, sleeps = client([503, 200])
    with pytest.raises(BackendError) as err:
        c.get("/rt")
    assert err.value.transient and len(script.seen) == 1 and sleeps == []


@pytest.mark.parametrize("lost", [requests.exceptions.ReadTimeout(),
                                  requests.exceptions.ConnectionError("reset by peer"), 502, 504])
def test_a_write_whose_answer_was_lost_is_not_repeated(lost):
    """It may have been applied: the retry layer asks what RT did instead of sending it again."""
    c, script, _ = client([lost, 201])
    asked = []
    found = retried(c, "post", "/ticket", {"Subject": "x"},
                    recover=lambda: asked.append(1) or "found by lookup")
    assert found == "found by lookup" and asked == [1] and len(script.seen) == 1


def test_a_write_that_never_reached_the_server_is_repeated():
    c, script, _ = client([refused(), requests.exceptions.ConnectTimeout(), (201, {}, {"id": "7"})])
    assert retried(c, "post", "/ticket", {}, recover=never).body == {"id": "7"}
    assert len(script.seen) == 3


def test_429_is_repeated_after_retry_after_even_for_writes():
    c, script, sleeps = client([(429, {"Retry-After": "7"}, {}), (201, {}, {"id": "1"})])
    assert retried(c, "post", "/ticket", {}, recover=never).status == 201
    assert sleeps == [7.0]


def test_backoff_grows_and_is_jittered_within_bounds():
    c, _, sleeps = client([503] * 6 + [200], retries=6)
    retried(c, "get", "/rt")
    assert all(0 <= s <= min(c.policy.cap, 0.5 * 2 ** i) for i, s in enumerate(sleeps))


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_auth_errors(status):
    c, _, _ = client([(status, {}, {"message": "Unauthorized"})])
    with pytest.raises(AuthError) as err:
        c.get("/rt")
    assert err.value.status == status and not err.value.transient


@pytest.mark.parametrize("status", [400, 404, 409, 422, 500])
def test_refusals_are_permanent_errors_with_rts_message(status):
    c, _, _ = client([(status, {}, {"message": "Queue already exists"})])
    with pytest.raises(BackendError) as err:
        c.post("/queue", {"Name": "Archive"})
    assert not err.value.transient and "Queue already exists" in str(err.value)


def test_token_auth_header_and_no_secret_anywhere():
    c, script, _ = client([(401, {}, {"message": "Unauthorized"})],
                          env={"RTTOKEN": "1-2-tok3nsecret", "RTUSER": "x", "RTPASSWD": "pw-secret"})
    with pytest.raises(AuthError) as err:
        c.get("/rt")
    assert script.seen[0][1] == "token 1-2-tok3nsecret"
    for text in (str(err.value), repr(err.value), repr(c)):
        assert "tok3nsecret" not in text and "pw-secret" not in text


def test_a_redirect_to_the_login_page_is_an_auth_error():
    c, _, _ = client([(302, {"Location": "/"}, {})])
    with pytest.raises(AuthError):
        c.get("/rt")


def test_basic_auth_logs_in_once_per_session():
    c, script, _ = client([200, 200, 200])
    for _ in range(3):
        c.get("/rt")
    assert script.logins == 1


def test_basic_auth_repr_hides_the_password():
    c, _, _ = client([])
    assert "hunter2" not in repr(c)


def test_no_credentials_means_no_auth():
    assert auth_from_env({})[0] is None
    assert auth_from_env({"RTUSER": "u"})[1].kind == "none"


def test_base_url_loses_userinfo_and_api_suffix():
    assert clean_base_url("https://u:p@rt.example.org:8443/rt/REST/2.0/") == "https://rt.example.org:8443/rt"
    with pytest.raises(ValueError):
        clean_base_url("ftp://rt.example.org")


def test_turning_tls_verification_off_warns_once(caplog, monkeypatch):
    monkeypatch.setattr(rtclient, "_insecure_warned", False)
    with caplog.at_level(logging.WARNING):
        RTClient("https://rt.example.org", None, verify=False)
        RTClient("https://rt.example.org", None, verify=False)
    assert sum("verification is OFF" in r.message for r in caplog.records) == 1


@given(st.text(max_size=40))
@example(value="\u00b9")          # a digit to str.isdigit(), not to float()
def test_retry_after_never_waits_beyond_the_cap(value):
    resp = requests.Response()
    resp.headers["Retry-After"] = value.replace("\n", " ").replace("\r", " ")
    wait = rtclient._retry_after(resp)
    assert wait is None or 0 <= wait <= MAX_RETRY_AFTER


@pytest.mark.parametrize("rt_cfg, expected", [
    ({}, True),
    ({"ca_bundle": "/etc/ssl/private-ca.pem"}, "/etc/ssl/private-ca.pem"),
    ({"verify_tls": False}, False),
])
def test_tls_is_verified_unless_a_ca_bundle_or_verify_off_is_configured(rt_cfg, expected):
    from importer.backends.rt.fields import make_client
    from importer.config import parse_config
    cfg = parse_config({"backend": {"kind": "rt"}, "rt": rt_cfg}, "c.yaml",
                       env={"RTSERVER": "https://rt.example.org"})
    client = make_client(cfg.rt, {"RTTOKEN": "t0k"})
    assert client._verify == expected    # what every session of the client is given
