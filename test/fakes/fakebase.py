"""What fake_cfapi.py, fake_telegram.py and fake_webhook.py share (Python 3.11
standard library only): the process (--port/--port-file, the port file,
SIGTERM/SIGINT), the HTTP plumbing of the request handler, the /__fake/ admin
dispatch and the admin calls that are the same in all three, injected faults
(status, body, hang, close, malformed) and down mode.

Each fake keeps its own API routes, validation, request log, state and the
admin calls only it has.  The fakes are run as scripts, so each imports this
module from its own directory.
"""

import argparse
import datetime
import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qsl, urlsplit

ADMIN_PREFIX = "/__fake"
DOWN_MODES = ("close", "502", "hang")


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def injected_reason(status):
    """The text of an injected status that comes without a body: "<phrase> (injected)"."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"{phrase} (injected)"


# ---------------------------------------------------------------------------
# State

@dataclass(kw_only=True)
class Fault:
    """One injected fault (POST /__fake/inject); see FakeHandler._apply_fault.
    A subclass says which requests it hits: matches(), and selector() for describe()."""
    id: int
    times: int
    status: Optional[int] = None
    body: object = None
    has_body: bool = False
    headers: dict = field(default_factory=dict)
    hang_s: float = 0.0
    close: bool = False
    malformed: object = None

    # The optional fields describe() shows when set, in the order each fake always showed them.
    SHOWN = ("status", "headers", "hang_s", "close", "malformed")

    def selector(self):
        return {}

    def describe(self):
        d = {"id": self.id, **self.selector(), "times_left": self.times}
        for key in self.SHOWN:
            if getattr(self, key):
                d[key] = getattr(self, key)
        if self.has_body:
            d["body"] = self.body
        return d


@dataclass(kw_only=True)
class PathFault(Fault):
    """A fault for the requests with this HTTP method (None: any) whose path matches a regex."""
    method: Optional[str]
    path: re.Pattern

    def selector(self):
        return {"method": self.method, "path": self.path.pattern}

    def matches(self, method, path):
        return (self.method is None or self.method == method) and self.path.fullmatch(path)


class FakeState:
    """A fake's state, guarded by one lock.  `cond` (on the same lock) wakes admin
    waits, hung requests and long polls.  A subclass sets faults and next_fault_id
    in its reset()."""

    def __init__(self):
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.stop = threading.Event()  # set on shutdown so hangs end early

    def take_fault(self, *request):
        """The first pending fault matching this request, consumed once."""
        with self.lock:
            for f in self.faults:
                if f.matches(*request):
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

    def add_fault(self, fault_class, body, **fields):
        """Queue a fault from a checked /__fake/inject body; -> the admin reply."""
        fault = fault_class(id=self.next_fault_id, body=body.get("body"), has_body="body" in body,
                            close=bool(body.get("close")), **fields)
        self.next_fault_id += 1
        self.faults.append(fault)
        return {"fault": fault.describe()}


# ---------------------------------------------------------------------------
# Admin (test control): func(fake, params, body) -> dict, run with the lock held

class AdminError(Exception):
    pass


def admin_fields(body, allowed):
    unknown = set(body) - set(allowed)
    if unknown:
        raise AdminError(f"unknown fields: {sorted(unknown)}")


def wait_for_count(fake, wait_s, least, count):
    """Wait up to wait_s seconds until count() >= least (tests need no sleep loops)."""
    if not 0 <= wait_s <= 120:
        raise AdminError("wait_s must be between 0 and 120")
    deadline = time.monotonic() + wait_s
    while count() < least and not fake.stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        fake.cond.wait(min(left, 0.5))


# The /__fake/inject fields every fake takes.  Each fake calls these checks in the
# order it always made them, its own fields' checks in between.

def fault_regex(body, key, flags=0):
    try:
        return re.compile(body.get(key, ".*"), flags)
    except re.error as e:
        raise AdminError(f"bad {key} regex: {e}") from None


def fault_times_status(body):
    times, status = body.get("times", 1), body.get("status")
    if not is_int(times) or times < 1:
        raise AdminError("times must be an integer >= 1")
    if status is not None and (not is_int(status) or not 100 <= status <= 599):
        raise AdminError("status must be an HTTP status code")
    return times, status


def fault_malformed(body, kinds):
    """`kinds`: the strings malformed may be besides true."""
    if body.get("malformed") not in (None, False, True, *kinds):
        quoted = [f'"{k}"' for k in kinds]
        raise AdminError(f"malformed must be true, {', '.join(quoted[:-1])} or {quoted[-1]}")
    return body.get("malformed") or None


def fault_hang_headers(body):
    hang_s = body.get("hang_s", 0)
    if not is_number(hang_s) or hang_s < 0:
        raise AdminError("hang_s must be a number >= 0")
    headers = body.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise AdminError("headers must map names to strings")
    return float(hang_s), headers


def admin_state(fake, params, body):
    return fake.state()


def admin_requests_clear(fake, params, body):
    fake.requests.clear()
    return {}


def admin_faults(fake, params, body):
    return {"faults": [f.describe() for f in fake.faults]}


def admin_faults_clear(fake, params, body):
    fake.faults.clear()
    return {}


def admin_down(fake, params, body):
    admin_fields(body, ["down", "mode"])
    if not isinstance(body.get("down"), bool):
        raise AdminError("down must be true or false")
    mode = body.get("mode", "close")
    if mode not in DOWN_MODES:
        raise AdminError("mode must be close, 502 or hang")
    fake.down = {"mode": mode, "since": now_iso()} if body["down"] else None
    fake.cond.notify_all()  # waiting polls and hung requests notice at once
    return {"down": fake.down}


def admin_latency(fake, params, body):
    admin_fields(body, ["ms"])
    ms = body.get("ms")
    if not is_number(ms) or ms < 0:
        raise AdminError("ms must be a number >= 0")
    fake.latency_ms = ms
    return {"latency_ms": ms}


def admin_reset(fake, params, body):
    fake.reset()
    return {}


# ---------------------------------------------------------------------------
# HTTP

class FakeHandler(BaseHTTPRequestHandler):
    """/__fake/... goes to admin_routes, everything else to _serve_api(url, raw).
    A subclass provides _serve_api, _finish(entry, status, note=...) and, for
    faults, _answer_fault; it sets the class attributes below."""
    # HTTP/1.1 so libcurl can keep connections alive (and Expect: 100-continue works).
    protocol_version = "HTTP/1.1"
    sys_version = ""
    fake: FakeState = None  # set by serve()
    log_name = ""           # the fake's name at the start of its stderr lines
    admin_routes = ()       # (HTTP method, path regex below /__fake, func(fake, params, body) -> dict)
    error_page = b""        # what a broken front end answers: down mode 502, a malformed fault
    json_ascii = True       # False: answers carry UTF-8 text, not \u escapes

    def do_GET(self):
        try:
            url = urlsplit(self.path)
            raw = self._read_body()
            if url.path == ADMIN_PREFIX or url.path.startswith(ADMIN_PREFIX + "/"):
                self._serve_admin(url, raw)
            else:
                self._serve_api(url, raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. timed out during a hang)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def log_message(self, format, *args):
        pass  # replaced by _log_line, which never prints bodies, header values or tokens

    def _log_line(self, text):
        sys.stderr.write(f"{self.log_name}: {text}\n")
        sys.stderr.flush()

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self):
        data = b""
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return data
            data += self.rfile.read(size)
            self.rfile.readline()

    def _json(self, payload):
        return json.dumps(payload, ensure_ascii=self.json_ascii).encode()

    def _send(self, status, payload, headers=None, content_type="application/json"):
        data = payload if isinstance(payload, bytes) else self._json(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":  # only a fake that takes HEAD gets here with one
            self.wfile.write(data)

    # -- admin

    def _admin_params(self, url, match):
        """What admin functions get as `params`: the query string."""
        return dict(parse_qsl(url.query, keep_blank_values=True))

    def _serve_admin(self, url, raw):
        fake = self.fake
        sub = url.path[len(ADMIN_PREFIX):]
        status = 200
        try:
            body = json.loads(raw) if raw else {}
            if not isinstance(body, dict):
                raise AdminError("body must be a JSON object")
            for method, pattern, func in self.admin_routes:
                m = re.fullmatch(pattern, sub)
                if m and method == self.command:
                    with fake.lock:
                        reply = {"ok": True, **func(fake, self._admin_params(url, m), body)}
                        data = self._json(reply)  # serialise under the lock
                    break
            else:
                status, data = 404, json.dumps({"ok": False, "error": f"no admin route {self.command} {sub}"}).encode()
        except (AdminError, ValueError) as e:
            status, data = 400, json.dumps({"ok": False, "error": str(e)}).encode()
        self._send(status, data)
        self._log_line(f"admin {self.command} {sub} -> {status}")

    # -- outages and faults

    def _refuse_down(self, entry):
        """Outage: close without a word, answer like a failing front end, or black-hole."""
        fake = self.fake
        mode = (fake.down or {"mode": "close"})["mode"]
        with fake.lock:
            entry["down"] = mode
        if mode == "502":
            self._finish(entry, 502, note=" (down)")
            self._send(502, self.error_page, content_type="text/html")
            return
        if mode == "hang":
            with fake.lock:
                while fake.down and fake.down["mode"] == "hang" and not fake.stop.is_set():
                    fake.cond.wait(0.5)
        self.close_connection = True
        self._finish(entry, None, note=f" (down: {mode}, closed without answer)")

    def _fault_status(self, fault):
        """The status of a fault that answers; the fake's own fault fields may imply one."""
        return fault.status or 200

    def _malformed_json(self, status):
        """The JSON that a "cut" or "truncated" fault sends half of."""
        raise NotImplementedError

    def _answer_fault(self, fault, status, entry):
        """Answer a fault that has no body; False when it has nothing to answer."""
        raise NotImplementedError

    def _apply_fault(self, fault, entry):
        """Answer with the fault; False means "only a hang: now answer normally"."""
        if fault.hang_s:
            self.fake.stop.wait(fault.hang_s)
        if fault.close:
            self.close_connection = True
            self._finish(entry, None, note=" (closed without answer)")
            return True
        status = self._fault_status(fault)
        if fault.malformed:
            self._finish(entry, status, note=f" (malformed: {fault.malformed})")
            self._send_malformed(status, fault)
            return True
        if fault.has_body:
            if isinstance(fault.body, str):
                ctype = fault.headers.get("Content-Type", "text/plain; charset=utf-8")
                data = fault.body.encode()
            else:
                ctype, data = "application/json", json.dumps(fault.body).encode()
            headers = {k: v for k, v in fault.headers.items() if k.lower() != "content-type"}
            self._finish(entry, status)
            self._send(status, data, headers, content_type=ctype)
            return True
        return self._answer_fault(fault, status, entry)

    def _send_malformed(self, status, fault):
        data = self._malformed_json(status)
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
            self._send(status, data[: len(data) // 2], fault.headers)  # valid HTTP, bad JSON
        else:  # True / "html": what a proxy's error page looks like
            self._send(status, self.error_page, fault.headers, content_type="text/html")


# ---------------------------------------------------------------------------
# The process

def arg_parser(doc):
    """The command line every fake takes; the fake adds its own options."""
    p = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--port-file", help="write the chosen port here once listening")
    return p


def write_port_file(path, port):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{port}\n")
    os.replace(tmp, path)  # readers never see a partial file


class Server(ThreadingHTTPServer):
    # 100 clients connecting at once must not overflow the listen queue
    # (the default of 5 drops SYNs, resent only after a second or more).
    request_queue_size = 128


def serve(handler_class, fake, args, where):
    """Serve on 127.0.0.1 until SIGTERM or SIGINT, then exit 0.  where(port) is
    what the "listening on" line on stderr says after the port file is written."""
    handler_class.fake = fake
    # Headers and body go out in two writes: without this, Nagle holds the
    # body for the peer's delayed ACK (40 ms per request on loopback).
    handler_class.disable_nagle_algorithm = True
    server = Server(("127.0.0.1", args.port), handler_class)
    server.daemon_threads = True  # a hung request or long poll must not delay exit

    def on_signal(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    port = server.server_address[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    sys.stderr.write(f"{handler_class.log_name}: listening on {where(port)}\n")
    sys.stderr.flush()
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        fake.stop.set()
        server.server_close()
    return 0
