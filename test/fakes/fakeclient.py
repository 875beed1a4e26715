"""What the self-tests of the fakes (test_fake_*.py) share: start a fake as a
subprocess on port 0, stop it, and talk to it with urllib through its HTTP
interface only, the way tether's tests do.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request


def start_fake(script, tmpdir, *args):
    """Start the fake; returns (process, port, stderr path). Waits for the port file."""
    port_file = os.path.join(tmpdir, "port")
    err_path = os.path.join(tmpdir, "stderr.log")
    with open(err_path, "wb") as err:  # a file, not a pipe: a full pipe would block the fake
        proc = subprocess.Popen([sys.executable, script, "--port", "0", "--port-file", port_file, *args],
                                stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 10
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("fake did not start: " + open(err_path).read())
        time.sleep(0.02)
    with open(port_file) as f:
        return proc, int(f.read()), err_path


def stop_fake(proc, sig=signal.SIGTERM):
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=10)


def stop_during(proc, hang, sig=signal.SIGINT):
    """Stop the fake while another thread waits in hang(), a request the fake does
    not answer soon; -> (exit status, seconds the stop took)."""
    def swallow():
        try:
            hang()
        except Exception:  # noqa: BLE001 - the fake is being stopped under it
            pass
    threading.Thread(target=swallow, daemon=True).start()
    time.sleep(0.3)  # let the request arrive
    start = time.monotonic()
    status = stop_fake(proc, sig)
    return status, time.monotonic() - start


class Client:
    """Tiny urllib client; a fake's self-test adds its API calls."""

    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener()

    def request(self, method, path, data=None, headers=None, timeout=10):
        """-> (status, parsed JSON or raw bytes, response headers); a header set to None is not sent."""
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={k: v for k, v in (headers or {}).items() if v is not None})
        try:
            resp = self.opener.open(req, timeout=timeout)
        except urllib.error.HTTPError as e:
            resp = e
        with resp:
            payload = resp.read()
        try:
            payload = json.loads(payload)
        except ValueError:
            pass
        return resp.status, payload, resp.headers

    def admin(self, method, path, body=None, timeout=10):
        """A /__fake/ call -> (status, parsed JSON)."""
        status, payload, _ = self.request(method, "/__fake" + path,
                                          json.dumps(body).encode() if body is not None else None,
                                          {"Content-Type": "application/json"} if body is not None else {},
                                          timeout=timeout)
        return status, payload


class FakeTestCase(unittest.TestCase):
    """One fake for the whole class; every test starts from /__fake/reset.
    A subclass sets start (tmpdir -> start_fake(...)) and client (its Client)."""

    start = None
    client = Client

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.proc, cls.port, cls.err_path = cls.start(cls.tmp.name)
        cls.c = cls.client(cls.port)

    @classmethod
    def tearDownClass(cls):
        stop_fake(cls.proc)
        cls.tmp.cleanup()

    def setUp(self):
        self.assertEqual(self.c.admin("POST", "/reset")[0], 200)
