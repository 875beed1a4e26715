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

import argparse
import copy
import datetime
import json
import os
import re
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

ADMIN_PREFIX = "/__fake"
DOWN_MODES = ("close", "502", "hang")
BODY_TEXT_LIMIT = 1 << 20  # record at most 1 MiB of a body as text


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


# ---------------------------------------------------------------------------
# In-memory state

@dataclass
class Fault:
    """One injected fault (POST /__fake/inject); see Handler._apply_fault."""
    id: int
    method: Optional[str]
    path: re.Pattern
    times: int
    status: Optional[int] = None
    body: object = None
    has_body: bool = False
    headers: dict = field(default_factory=dict)
    hang_s: float = 0.0
    close: bool = False
    malformed: object = None

    def describe(self):
        d = {"id": self.id, "method": self.method, "path": self.path.pattern, "times_left": self.times}
        for key in ("status", "headers", "hang_s", "close", "malformed"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        if self.has_body:
            d["body"] = self.body
        return d


class FakeWebhook:
    """All state, guarded by one lock; `cond` wakes admin waits and hung requests."""

    def __init__(self):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.stop = threading.Event()  # set on shutdown so hangs end early
        self.reset()

    def reset(self):
        with self.lock:
            self.received, self.next_id = [], 1
            self.faults, self.next_fault_id = [], 1
            self.down = None
            self.latency_ms = 0
            self.cond.notify_all()

    def take_fault(self, method, path):
        with self.lock:
            for f in self.faults:
                if (f.method is None or f.method == method) and f.path.fullmatch(path):
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

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

class AdminError(Exception):
    pass


def admin_fields(body, allowed):
    unknown = set(body) - set(allowed)
    if unknown:
        raise AdminError(f"unknown fields: {sorted(unknown)}")


def admin_received(fake, query, body):
    """?wait_s=S&min=N waits up to S s for N records; ?path=REGEX filters."""
    admin_fields(query, ["wait_s", "min", "path"])
    try:
        wait_s, least = float(query.get("wait_s", 0)), int(query.get("min", 1))
        path = re.compile(query.get("path", ".*"))
    except (ValueError, re.error) as e:
        raise AdminError(f"bad query: {e}") from None
    if not 0 <= wait_s <= 120:
        raise AdminError("wait_s must be between 0 and 120")

    def chosen():
        return [r for r in fake.received if path.fullmatch(r["path"])]
    deadline = time.monotonic() + wait_s
    while len(chosen()) < least and not fake.stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        fake.cond.wait(min(left, 0.5))
    return {"received": copy.deepcopy(chosen())}


def admin_requests(fake, query, body):
    # Same data under fake_cfapi's and fake_telegram's name, so helpers can be shared.
    return {"requests": admin_received(fake, query, body)["received"]}


def admin_clear(fake, query, body):
    fake.received.clear()
    return {}


def admin_inject(fake, query, body):
    admin_fields(body, ["method", "path", "times", "status", "body", "headers", "hang_s", "close", "malformed"])
    try:
        path = re.compile(body.get("path", ".*"))
    except re.error as e:
        raise AdminError(f"bad path regex: {e}") from None
    times, status = body.get("times", 1), body.get("status")
    if not is_int(times) or times < 1:
        raise AdminError("times must be an integer >= 1")
    if status is not None and (not is_int(status) or not 100 <= status <= 599):
        raise AdminError("status must be an HTTP status code")
    if body.get("malformed") not in (None, False, True, "cut", "truncated"):
        raise AdminError("malformed must be true, \"cut\" or \"truncated\"")
    hang_s = body.get("hang_s", 0)
    if not is_number(hang_s) or hang_s < 0:
        raise AdminError("hang_s must be a number >= 0")
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise AdminError("headers must map names to strings")
    if status is None and "body" not in body and not body.get("close") and not body.get("malformed") \
            and not hang_s:
        raise AdminError("a fault needs one of status, body, close, malformed or hang_s")
    fault = Fault(id=fake.next_fault_id, method=(body.get("method") or "").upper() or None, path=path,
                  times=times, status=status, body=body.get("body"), has_body="body" in body,
                  headers=headers, hang_s=float(hang_s), close=bool(body.get("close")),
                  malformed=body.get("malformed") or None)
    fake.next_fault_id += 1
    fake.faults.append(fault)
    return {"fault": fault.describe()}


def admin_faults(fake, query, body):
    return {"faults": [f.describe() for f in fake.faults]}


def admin_faults_clear(fake, query, body):
    fake.faults.clear()
    return {}


def admin_down(fake, query, body):
    admin_fields(body, ["down", "mode"])
    if not isinstance(body.get("down"), bool):
        raise AdminError("down must be true or false")
    mode = body.get("mode", "close")
    if mode not in DOWN_MODES:
        raise AdminError("mode must be close, 502 or hang")
    fake.down = {"mode": mode, "since": now_iso()} if body["down"] else None
    fake.cond.notify_all()
    return {"down": fake.down}


def admin_latency(fake, query, body):
    admin_fields(body, ["ms"])
    ms = body.get("ms")
    if not is_number(ms) or ms < 0:
        raise AdminError("ms must be a number >= 0")
    fake.latency_ms = ms
    return {"latency_ms": ms}


def admin_state(fake, query, body):
    return fake.state()


def admin_reset(fake, query, body):
    fake.reset()
    return {}


ADMIN_ROUTES = [
    ("GET", r"/received", admin_received),
    ("GET", r"/requests", admin_requests),
    ("POST", r"/clear", admin_clear),
    ("POST", r"/requests/clear", admin_clear),
    ("POST", r"/inject", admin_inject),
    ("GET", r"/faults", admin_faults),
    ("POST", r"/faults/clear", admin_faults_clear),
    ("POST", r"/down", admin_down),
    ("POST", r"/latency", admin_latency),
    ("GET", r"/state", admin_state),
    ("POST", r"/reset", admin_reset),
]

HTML_502 = b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"


# ---------------------------------------------------------------------------
# HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and Expect: 100-continue, like a real receiver
    server_version = "fake-webhook"
    sys_version = ""
    fake: FakeWebhook = None  # set by main()

    def do_GET(self):
        try:
            url = urlsplit(self.path)
            raw = self._read_body()
            if url.path == ADMIN_PREFIX or url.path.startswith(ADMIN_PREFIX + "/"):
                self._serve_admin(url, raw)
            else:
                self._serve_hook(url, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def log_message(self, format, *args):
        pass  # replaced by _log_line, which prints neither bodies nor header values

    def _log_line(self, text):
        sys.stderr.write(f"fake_webhook: {text}\n")
        sys.stderr.flush()

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, status, payload, headers=None, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    # -- admin

    def _serve_admin(self, url, raw):
        fake = self.fake
        sub = url.path[len(ADMIN_PREFIX):]
        status = 200
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise AdminError("body must be a JSON object")
            query = dict(parse_qsl(url.query, keep_blank_values=True))
            for method, pattern, func in ADMIN_ROUTES:
                if re.fullmatch(pattern, sub) and method == self.command:
                    with fake.lock:
                        data = json.dumps({"ok": True, **func(fake, query, body)}).encode()
                    break
            else:
                status, data = 404, json.dumps({"ok": False, "error": f"no admin route {self.command} {sub}"}).encode()
        except (AdminError, ValueError) as e:
            status, data = 400, json.dumps({"ok": False, "error": str(e)}).encode()
        self._send(status, data)
        self._log_line(f"admin {self.command} {sub} -> {status}")

    # -- the webhook

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

    def _serve_hook(self, url, raw):
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

    def _refuse_down(self, rec):
        fake = self.fake
        mode = (fake.down or {"mode": "close"})["mode"]
        with fake.lock:
            rec["down"] = mode
        if mode == "502":
            self._finish(rec, 502, note=" (down)")
            return self._send(502, HTML_502, content_type="text/html")
        if mode == "hang":
            with fake.lock:
                while fake.down and fake.down["mode"] == "hang" and not fake.stop.is_set():
                    fake.cond.wait(0.5)
        self.close_connection = True
        self._finish(rec, None, note=f" (down: {mode}, closed without answer)")

    def _apply_fault(self, fault, rec):
        """Answer with the fault; False means "only a hang: now answer normally"."""
        if fault.hang_s:
            self.fake.stop.wait(fault.hang_s)
        if fault.close:
            self.close_connection = True
            self._finish(rec, None, note=" (closed without answer)")
            return True
        status = fault.status or 200
        if fault.malformed:
            data = json.dumps({"ok": status < 400}).encode()
            self._finish(rec, status, note=f" (malformed: {fault.malformed})")
            if fault.malformed == "truncated":
                # Promise the whole body, send half, then close: libcurl reports a partial transfer.
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.wfile.flush()
                self.close_connection = True
            elif fault.malformed == "cut":
                self._send(status, data[: len(data) // 2], fault.headers)
            else:
                self._send(status, HTML_502, fault.headers, content_type="text/html")
            return True
        if fault.has_body:
            if isinstance(fault.body, str):
                ctype = fault.headers.get("Content-Type", "text/plain; charset=utf-8")
                data = fault.body.encode()
            else:
                ctype, data = "application/json", json.dumps(fault.body).encode()
            headers = {k: v for k, v in fault.headers.items() if k.lower() != "content-type"}
            self._finish(rec, status)
            self._send(status, data, headers, content_type=ctype)
            return True
        if fault.status is not None:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            reply = {"ok": True} if status < 400 else {"ok": False, "error": f"{phrase} (injected)"}
            self._finish(rec, status)
            self._send(status, reply, fault.headers)
            return True
        return False


# ---------------------------------------------------------------------------

def write_port_file(path, port):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)  # readers never see a partial file


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fake = FakeWebhook()
    Handler.fake = fake
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True  # a hung request must not delay exit

    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write(f"fake_webhook: listening on http://127.0.0.1:{port}/\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        fake.stop.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
