#!/usr/bin/python3
"""Self-test of fake_webhook.py: starts it as a subprocess on port 0 and talks to
it with urllib, the way tether's tests will (through its HTTP interface only).

    /usr/bin/python3 -m unittest discover -s test/fakes -p test_fake_webhook.py
    /usr/bin/python3 test/fakes/test_fake_webhook.py
"""

import http.client
import json
import os
import sys
import tempfile
import threading
import time
import unittest
import urllib.error

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fakeclient  # noqa: E402
from fakeclient import stop_fake  # noqa: E402

FAKE = os.path.join(HERE, "fake_webhook.py")
EVENT = {"event": "tunnel.up", "tunnel": "drone-7", "url": "https://drone-7.example.com", "ts": 1767225600}


def start_fake(tmpdir):
    return fakeclient.start_fake(FAKE, tmpdir)


class Client(fakeclient.Client):
    def post_json(self, path="/hook", body=EVENT, headers=None, **kw):
        h = {"Content-Type": "application/json", "User-Agent": "tetherd/0.1", **(headers or {})}
        return self.request("POST", path, json.dumps(body).encode(), h, **kw)


class WebhookTestCase(fakeclient.FakeTestCase):
    start = staticmethod(start_fake)
    client = Client

    def received(self, query=""):
        return self.c.admin("GET", "/received" + query)[1]["received"]

    def inject(self, **fault):
        status, reply = self.c.admin("POST", "/inject", fault)
        self.assertEqual(status, 200, reply)
        return reply["fault"]


class RecordingTest(WebhookTestCase):
    def test_json_post_is_recorded(self):
        status, payload, _ = self.c.post_json("/notify/tether?source=drone-7", headers={"X-Tether-Event": "up"})
        self.assertEqual((status, payload), (200, {"ok": True}))
        (rec,) = self.received()
        self.assertEqual((rec["method"], rec["path"], rec["query"]), ("POST", "/notify/tether", {"source": "drone-7"}))
        self.assertEqual(rec["body"], EVENT)
        self.assertIsNone(rec["error"])
        self.assertEqual(rec["headers"]["X-Tether-Event"], "up")
        self.assertEqual(rec["headers"]["User-Agent"], "tetherd/0.1")
        self.assertEqual(rec["content_type"], "application/json")
        self.assertEqual((rec["status"], rec["length"]), (200, len(json.dumps(EVENT))))
        self.assertEqual(json.loads(rec["body_text"]), EVENT)
        for key in ("id", "time", "t"):
            self.assertIn(key, rec)

    def test_order_and_any_path(self):
        for i, path in enumerate(["/", "/a", "/a/b/c"]):
            self.c.post_json(path, {"n": i})
        self.assertEqual([(r["path"], r["body"]["n"]) for r in self.received()], [("/", 0), ("/a", 1), ("/a/b/c", 2)])
        self.assertEqual(len(self.received("?path=/a.*")), 2)
        self.assertEqual(self.c.admin("GET", "/requests")[1]["requests"], self.received())  # same data

    def test_invalid_json_is_an_error(self):
        status, payload, _ = self.c.request("POST", "/hook", b'{"event": "tunnel.up",',
                                            {"Content-Type": "application/json; charset=utf-8"})
        self.assertEqual(status, 400)
        self.assertFalse(payload["ok"])
        (rec,) = self.received()
        self.assertTrue(rec["error"].startswith("invalid JSON"), rec)
        self.assertEqual(rec["body"], '{"event": "tunnel.up",')
        self.c.request("POST", "/hook", b"\xff\xfe{}", {"Content-Type": "application/json"})
        self.assertIn("UTF-8", self.received()[-1]["error"])

    def test_other_content_types_are_kept_as_text(self):
        status, _, _ = self.c.request("POST", "/hook", b"tunnel drone-7 is up", {"Content-Type": "text/plain"})
        self.assertEqual(status, 200)
        rec = self.received()[0]
        self.assertEqual((rec["body"], rec["error"]), ("tunnel drone-7 is up", None))

    def test_only_post(self):
        status, _, headers = self.c.request("GET", "/hook")
        self.assertEqual((status, headers["Allow"]), (405, "POST"))
        status, _, _ = self.c.request("PUT", "/hook", b"{}", {"Content-Type": "application/json"})
        self.assertEqual(status, 405)
        self.assertEqual([(r["method"], r["status"]) for r in self.received()], [("GET", 405), ("PUT", 405)])

    def test_chunked_body(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        conn.request("POST", "/chunked", body=iter([b'{"a":', b" 1}"]),
                     headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
                     encode_chunked=True)
        try:
            self.assertEqual(conn.getresponse().status, 200)
        finally:
            conn.close()
        self.assertEqual(self.received()[0]["body"], {"a": 1})

    def test_wait_for_a_delivery(self):
        th = threading.Thread(target=lambda: (time.sleep(0.3), self.c.post_json()), daemon=True)
        th.start()
        start = time.monotonic()
        got = self.received("?wait_s=5&min=1")
        th.join(5)
        self.assertEqual(len(got), 1)
        self.assertLess(time.monotonic() - start, 2)
        start = time.monotonic()
        self.assertEqual(len(self.received("?wait_s=0.3&min=5")), 1)  # gives up after wait_s
        self.assertGreaterEqual(time.monotonic() - start, 0.3)

    def test_clear_and_reset(self):
        self.c.post_json()
        self.inject(status=500)
        self.c.admin("POST", "/clear")
        self.assertEqual(self.received(), [])
        self.assertEqual(len(self.c.admin("GET", "/faults")[1]["faults"]), 1)  # clear keeps faults
        self.c.admin("POST", "/reset")
        self.assertEqual(self.c.admin("GET", "/faults")[1]["faults"], [])
        self.assertEqual(self.c.post_json()[0], 200)


class InjectTest(WebhookTestCase):
    def test_status_for_n_requests(self):
        self.inject(status=503, times=2)
        statuses = [self.c.post_json()[0] for _ in range(3)]
        self.assertEqual(statuses, [503, 503, 200])
        recs = self.received()
        self.assertEqual([r["status"] for r in recs], [503, 503, 200])
        self.assertEqual(recs[0]["fault"]["id"], 1)
        self.assertEqual(recs[0]["body"], EVENT)  # recorded even when refused

    def test_custom_body_and_headers(self):
        self.inject(status=429, body={"error": "slow down"}, headers={"Retry-After": "2"})
        status, payload, headers = self.c.post_json()
        self.assertEqual((status, payload, headers["Retry-After"]), (429, {"error": "slow down"}, "2"))

    def test_path_filter(self):
        self.inject(path="/b", status=500)
        self.assertEqual(self.c.post_json("/a")[0], 200)
        self.assertEqual(self.c.post_json("/b")[0], 500)

    def test_hang_then_answer(self):
        self.inject(hang_s=1.0)
        start = time.monotonic()
        self.assertEqual(self.c.post_json()[0], 200)
        self.assertGreaterEqual(time.monotonic() - start, 1.0)

    def test_hang_beyond_client_timeout(self):
        self.inject(hang_s=1.5)
        with self.assertRaises((TimeoutError, urllib.error.URLError)):
            self.c.post_json(timeout=0.4)
        self.assertEqual(self.received()[0]["body"], EVENT)  # it did arrive

    def test_close(self):
        self.inject(close=True)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            self.c.post_json()
        self.assertIsNone(self.received()[0]["status"])
        self.assertEqual(self.c.post_json()[0], 200)

    def test_malformed(self):
        self.inject(malformed="truncated")
        with self.assertRaises(http.client.IncompleteRead):
            self.c.post_json()
        self.inject(malformed=True, status=502)
        status, payload, headers = self.c.post_json()
        self.assertEqual(status, 502)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))

    def test_down(self):
        self.c.admin("POST", "/down", {"down": True})
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            self.c.post_json()
        self.c.admin("POST", "/down", {"down": True, "mode": "502"})
        self.assertEqual(self.c.post_json()[0], 502)
        self.c.admin("POST", "/down", {"down": False})
        self.assertEqual(self.c.post_json()[0], 200)
        self.assertEqual([r["down"] for r in self.received()], ["close", "502", None])

    def test_inject_validation(self):
        for bad in ({"path": "("}, {"times": 0}, {"status": 99}, {"colour": 1}, {"malformed": "x"},
                    {"hang_s": "1"}, {}):
            with self.subTest(bad=bad):
                self.assertEqual(self.c.admin("POST", "/inject", bad)[0], 400)
        self.assertEqual(self.c.admin("GET", "/nope")[0], 404)


class LifecycleTest(unittest.TestCase):
    def test_sigterm_exits_zero_and_stderr_has_no_bodies(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, err_path = start_fake(tmp)
            try:
                with open(os.path.join(tmp, "port")) as f:
                    self.assertRegex(f.read(), r"^[0-9]+\n$")
                Client(port).post_json("/hook", {"secret": "s3cr3t-value"}, headers={"Authorization": "Bearer xyz"})
            finally:
                self.assertEqual(stop_fake(proc), 0)
            with open(err_path) as f:
                log = f.read()
        self.assertIn("POST /hook", log)
        self.assertNotIn("s3cr3t-value", log)
        self.assertNotIn("Bearer xyz", log)


if __name__ == "__main__":
    unittest.main()
