#!/usr/bin/python3
"""Fake webhook receiver for tether's tests (Python 3.11 standard library only).

It accepts a POST on any path, records it (method, path, query, headers, body)
and answers 200 {"ok":true}.  A body sent as application/json is parsed; one
that does not parse is recorded with an "error" and answered 400, as a strict
receiver would, so that an agent sending broken JSON fails tests loudly.
Other HTTP methods are recorded and answered 405.

    /usr/bin/python3 fake_webhook.py --port 0 --port-file PATH

Webhook URL: http://127.0.0.1:<port>/<any path>.  Test control: /__fake/...,
see ADMIN_ROUTES; the same shapes as fake_cfapi.py and fake_telegram.py.
stderr gets one line per request, never a body or a header value.
"""

import copy
import json
import os
import re
import sys
import time
import traceback
from urllib.parse import parse_qsl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402  (it sits next to this script, which is run directly)
from fakebase import AdminError, PathFault, admin_fields, now_iso  # noqa: E402

BODY_TEXT_LIMIT = 1 << 20  # record at most 1 MiB of a body as text


# ---------------------------------------------------------------------------
# In-memory state

class FakeWebhook(fakebase.FakeState):
    """All state, guarded by one lock; `cond` wakes admin waits and hung requests."""

    def __init__(self):
        super().__init__()
        self.reset()

    def reset(self):
        with self.lock:
            self.received, self.next_id = [], 1
            self.faults, self.next_fault_id = [], 1
            self.down = None
            self.latency_ms = 0
            self.cond.notify_all()

    def state(self):
        return {"received_count": len(self.received), "down": self.down, "latency_ms": self.latency_ms,
                "faults": [f.describe() for f in self.faults]}


def parse_body(content_type, raw):
    """-> (body, error): JSON-parsed for application/json, else the text."""
    text = raw[:BODY_TEXT_LIMIT].decode("utf-8", "replace")
    media = (content_type or "").split(";")[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        return text, None
    try:
        return json.loads(raw.decode("utf-8")), None
    except UnicodeDecodeError:
        return text, "body is not valid UTF-8"
    except ValueError as e:
        return text, f"invalid JSON: {e}"


# ---------------------------------------------------------------------------
# Admin (test control) handlers: (fake, query, body) -> dict; run with the lock

def admin_received(fake, query, body):
    """?wait_s=S&min=N waits up to S s for N records; ?path=REGEX filters."""
    admin_fields(query, ["wait_s", "min", "path"])
    try:
        wait_s, least = float(query.get("wait_s", 0)), int(query.get("min", 1))
        path = re.compile(query.get("path", ".*"))
    except (ValueError, re.error) as e:
        raise AdminError(f"bad query: {e}") from None

    def chosen():
        return [r for r in fake.received if path.fullmatch(r["path"])]
    fakebase.wait_for_count(fake, wait_s, least, lambda: len(chosen()))
    return {"received": copy.deepcopy(chosen())}


def admin_requests(fake, query, body):
    # Same data under fake_cfapi's and fake_telegram's name, so helpers can be shared.
    return {"requests": admin_received(fake, query, body)["received"]}


def admin_clear(fake, query, body):
    fake.received.clear()
    return {}


def admin_inject(fake, query, body):
    admin_fields(body, ["method", "path", "times", "status", "body", "headers", "hang_s", "close", "malformed"])
    path = fakebase.fault_regex(body, "path")
    times, status = fakebase.fault_times_status(body)
    malformed = fakebase.fault_malformed(body, ("cut", "truncated"))
    hang_s, headers = fakebase.fault_hang_headers(body)
    if status is None and "body" not in body and not body.get("close") and not malformed and not hang_s:
        raise AdminError("a fault needs one of status, body, close, malformed or hang_s")
    return fake.add_fault(PathFault, body, method=(body.get("method") or "").upper() or None, path=path,
                          times=times, status=status, headers=headers, hang_s=hang_s, malformed=malformed)


ADMIN_ROUTES = [
    ("GET", r"/received", admin_received),
    ("GET", r"/requests", admin_requests),
    ("POST", r"/clear", admin_clear),
    ("POST", r"/requests/clear", admin_clear),
    ("POST", r"/inject", admin_inject),
    ("GET", r"/faults", fakebase.admin_faults),
    ("POST", r"/faults/clear", fakebase.admin_faults_clear),
    ("POST", r"/down", fakebase.admin_down),
    ("POST", r"/latency", fakebase.admin_latency),
    ("GET", r"/state", fakebase.admin_state),
    ("POST", r"/reset", fakebase.admin_reset),
]

HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"


# ---------------------------------------------------------------------------
# HTTP

class Handler(fakebase.FakeHandler):
    server_version = "fake-webhook"
    fake: FakeWebhook = None  # set by fakebase.serve()
    log_name = "fake_webhook"
    admin_routes = ADMIN_ROUTES
    error_page = HTML_502

    do_HEAD = fakebase.FakeHandler.do_GET  # recorded and answered 405, like other non-POST methods

    def _record(self, url, raw):
        fake = self.fake
        ctype = self.headers.get("Content-Type")
        body, error = parse_body(ctype, raw) if self.command == "POST" else (
            raw[:BODY_TEXT_LIMIT].decode("utf-8", "replace") if raw else None, None)
        with fake.lock:
            rec = {"id": fake.next_id, "time": now_iso(), "t": time.time(), "method": self.command,
                   "path": url.path, "query": dict(parse_qsl(url.query, keep_blank_values=True)),
                   "headers": dict(self.headers.items()), "content_type": ctype, "length": len(raw),
                   "body": body, "body_text": raw[:BODY_TEXT_LIMIT].decode("utf-8", "replace"),
                   "error": error, "status": None, "fault": None, "down": None}
            fake.next_id += 1
            fake.received.append(rec)
        return rec

    def _finish(self, rec, status, note=""):
        """Record the outcome before answering, so a test reading /received right
        after the agent's request completes always sees it."""
        with self.fake.lock:
            rec["status"] = status
            self.fake.cond.notify_all()
        shown = status if status is not None else "closed"
        self._log_line(f"{rec['method']} {rec['path']} {rec['length']}B -> {shown}"
                       + (f" ERROR: {rec['error']}" if rec["error"] else "")
                       + (f" fault#{rec['fault']['id']}" if rec["fault"] else "") + note)

    def _serve_api(self, url, raw):
        """The webhook itself: any path but /__fake/."""
        fake = self.fake
        rec = self._record(url, raw)
        if fake.down:
            return self._refuse_down(rec)
        if fake.latency_ms:
            fake.stop.wait(fake.latency_ms / 1000.0)
        try:
            if self.command != "POST":
                self._finish(rec, 405)
                return self._send(405, {"ok": False, "error": "only POST"}, {"Allow": "POST"})
            fault = fake.take_fault(self.command, url.path)
            if fault:
                with fake.lock:
                    rec["fault"] = fault.describe()
                if self._apply_fault(fault, rec):
                    return
            if rec["error"]:
                self._finish(rec, 400)
                return self._send(400, {"ok": False, "error": rec["error"]})
            self._finish(rec, 200)
            self._send(200, {"ok": True})
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as e:  # a bug in the fake: answer and flag it loudly, never hang
            traceback.print_exc()
            self._finish(rec, 500, note=" fake internal error")
            self._send(500, {"ok": False, "error": f"fake_webhook internal error: {e!r}"})

    def _malformed_json(self, status):
        return json.dumps({"ok": status < 400}).encode()

    def _answer_fault(self, fault, status, rec):
        if fault.status is None:
            return False
        reply = {"ok": True} if status < 400 else {"ok": False, "error": fakebase.injected_reason(status)}
        self._finish(rec, status)
        self._send(status, reply, fault.headers)
        return True


# ---------------------------------------------------------------------------

def parse_args(argv):
    return fakebase.arg_parser(__doc__).parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return fakebase.serve(Handler, FakeWebhook(), args, lambda port: f"http://127.0.0.1:{port}/")


if __name__ == "__main__":
    sys.exit(main())
