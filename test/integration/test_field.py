"""In the field: sd_notify, pid file, notifications (webhook, Telegram) and
the metrics verb."""

import os
import signal
import socket
import time

import promparse
from harness import AgentTest, SLOW, main, wait_until

BOT_TOKEN = "123456:notify-bot-token-abcdefghij"


class NotifySocket:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def next(self, timeout=10.0):
        self.sock.settimeout(timeout * SLOW)
        data = self.sock.recv(4096).decode()
        return data, time.monotonic()

    def close(self):
        self.sock.close()


class SdNotify(AgentTest):
    def test_ready_status_watchdog_stopping(self):
        a = self.agent("[tunnel cam]\ntype = quick\nport = 8001\nautostart = true\n", start=False)
        n = NotifySocket(a.dir)
        self.addCleanup(n.close)
        a.env.update({"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "200000"})
        a.start(wait=False)
        seen = []
        while "READY=1" not in [m for m, _ in seen]:
            seen.append(n.next())
        # READY comes once the socket answers and autostart tunnels are spawned.
        self.assertEqual(a.request("ping")[1], "OK pong")
        t = a.json("status 8001")["tunnel"]
        self.assertIsNotNone(t["pid"])
        kicks = [when for msg, when in seen if msg == "WATCHDOG=1"]
        while len(kicks) < 6:
            msg, when = n.next()
            if msg == "WATCHDOG=1":
                kicks.append(when)
            elif msg.startswith("STATUS="):
                self.assertRegex(msg, r"^STATUS=\d+ tunnels?(: .*)?$")
        # Every half of WATCHDOG_USEC: 100 ms. What matters to systemd is
        # that no gap is long; the mean shows the cadence.
        gaps = [b - a_ for a_, b in zip(kicks[1:], kicks[2:])]
        self.assertLess(max(gaps), 0.5 * SLOW, gaps)
        self.assertGreater(sum(gaps) / len(gaps), 0.05, gaps)
        statuses = [m for m, _ in seen if m.startswith("STATUS=")]
        self.assertTrue(statuses)
        a.signal(signal.SIGTERM)
        rest = []
        while "STOPPING=1" not in rest:
            rest.append(n.next()[0])
        self.assertEqual(a.wait(), 0)

    def test_status_follows_the_tunnels(self):
        a = self.agent(start=False)
        n = NotifySocket(a.dir)
        self.addCleanup(n.close)
        a.env["NOTIFY_SOCKET"] = n.path
        a.start(wait=False)
        while n.next()[0] != "READY=1":
            pass
        a.ok("start 8080")
        msgs = []
        while "STATUS=1 tunnel: 1 running" not in msgs:
            msgs.append(n.next()[0])
        self.assertNotIn("WATCHDOG=1", msgs)  # no watchdog unless asked for

    def test_watchdog_for_another_pid_is_ignored(self):
        a = self.agent(start=False)
        n = NotifySocket(a.dir)
        self.addCleanup(n.close)
        a.env.update({"NOTIFY_SOCKET": n.path, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"})
        a.start()
        self.assertNotIn("watchdog", a.log())


def started_with_file(test, flag, name):
    """An agent started with `flag <its dir>/name`; returns it and the path."""
    a = test.agent(start=False)
    path = os.path.join(a.dir, name)
    a.args += [flag, path]
    a.start()
    return a, path


class PidFile(AgentTest):
    def test_written_and_removed(self):
        a, pidfile = started_with_file(self, "--pidfile", "tetherd.pid")
        with open(pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % a.pid())
        self.assertEqual(a.stop(), 0)
        self.assertFalse(os.path.exists(pidfile))

    def test_a_refused_second_agent_leaves_it_alone(self):
        a, pidfile = started_with_file(self, "--pidfile", "tetherd.pid")
        b = self.agent(start=False, directory=a.dir)
        b.args += ["--pidfile", pidfile]
        b.start(wait=False)
        self.assertNotEqual(b.wait(), 0)
        with open(pidfile) as f:
            self.assertEqual(f.read(), "%d\n" % a.pid())


class LogFile(AgentTest):
    def test_usr1_reopens_a_rotated_log_and_loses_no_line(self):
        a, log = started_with_file(self, "--log-file", "tetherd.log")
        a.ok("start 8080")
        os.rename(log, log + ".1")  # what logrotate does, then "create"
        a.ok("start 8081")  # still written to the renamed file
        a.signal(signal.SIGUSR1)
        wait_until(lambda: os.path.exists(log), what="a new log file")
        a.ok("start 8082")
        wait_until(lambda: "tunnel 8082: starting" in open(log).read(), what="8082 in the new log")
        self.assertEqual(a.stop(), 0)
        old, new = open(log + ".1").read(), open(log).read()
        self.assertEqual(oct(os.stat(log).st_mode & 0o777), "0o640")
        for port, where in (("8080", old), ("8081", old), ("8082", new)):
            self.assertIn("tunnel %s: starting" % port, where)
        self.assertIn("reopening " + log, old)
        self.assertIn("every tunnel is stopped", new)
        both = old + new
        for port in ("8080", "8081", "8082"):
            self.assertEqual(both.count("tunnel %s: starting" % port), 1)


class Notifications(AgentTest):
    def setUp(self):
        super().setUp()
        self.hook = self.fake("fake_webhook.py")
        self.tg = self.fake("fake_telegram.py", "--token", BOT_TOKEN)

    def notify_agent(self, watchdog="", directory=None, marker=None):
        a = self.agent(start=False, config=None, directory=directory, marker=marker)
        a.write_config("""
[watchdog]
backoff_initial_ms = 50
backoff_max_ms = 100
%s
[notify]
webhook = %s/hooks/tether
telegram_bot_token_env = NOTIFY_BOT
telegram_chat_id = -100777
telegram_api_base = %s
""" % (watchdog, self.hook.base, self.tg.base))
        a.env["NOTIFY_BOT"] = BOT_TOKEN
        return a.start()

    def received(self, n):
        return wait_until(lambda: (lambda r: r if len(r) >= n else None)(self.hook.admin("received")["received"]),
                          what="%d webhook posts" % n)

    def sent(self, n):
        return wait_until(lambda: (lambda r: r if len(r) >= n else None)(self.tg.admin("sent")["sent"]),
                          what="%d telegram messages" % n)

    def test_url_change_reaches_both(self):
        a = self.notify_agent()
        url = a.ok("start 8080")[1].split()[1]
        post = self.received(1)[0]
        self.assertEqual((post["method"], post["path"]), ("POST", "/hooks/tether"))
        body = post["body"]
        self.assertEqual((body["notice"], body["event"], body["id"], body["url"]), ("url", "url", "8080", url))
        self.assertEqual(body["host"], socket.gethostname())
        self.assertRegex(body["time"], r"^\d{4}-\d\d-\d\dT")
        msg = self.sent(1)[0]
        self.assertEqual((msg["chat_id"], msg["parse_mode"]), (-100777, "HTML"))
        self.assertIn("8080", msg["text"])
        self.assertIn(url, msg["text"])
        tg_requests = self.tg.admin("requests")["requests"]
        self.assertEqual(tg_requests[0]["encoding"], "json")
        self.assertNotIn(BOT_TOKEN, a.log())

    def test_retries_after_500s_and_nothing_twice(self):
        self.hook.admin("inject", {"times": 2, "status": 500})
        self.tg.admin("inject", {"method": "sendMessage", "times": 2, "status": 500})
        a = self.notify_agent()
        a.ok("start 8080")
        self.received(3)
        self.sent(1)
        a.ok("stop 8080")
        a.ok("start 8081")
        posts = self.received(4)
        ok_posts = [p for p in posts if p["status"] == 200]
        self.assertEqual([p["body"]["id"] for p in ok_posts], ["8080", "8081"])
        msgs = self.sent(2)
        self.assertEqual(len(msgs), 2)
        self.assertIn("8080", msgs[0]["text"])
        self.assertIn("8081", msgs[1]["text"])

    def test_telegram_429_retry_after(self):
        self.tg.admin("inject", {"method": "sendMessage", "times": 1, "retry_after": 1})
        a = self.notify_agent()
        a.ok("start 8080")
        started = time.monotonic()
        self.sent(1)
        self.assertGreaterEqual(time.monotonic() - started, 0.5)

    def test_crash_loop_and_give_up(self):
        a = self.notify_agent("max_restarts = 4\nrestart_window_s = 60")
        a.knobs(8080, crash_after_ms=20, url_delay_ms=5000)
        a.request("start 8080 nowait")
        posts = self.received(2)
        notices = [p["body"]["notice"] for p in posts]
        self.assertEqual(notices, ["crashing", "failed"])
        self.assertIn("keeps crashing (3 in a row)", self.sent(2)[0]["text"])
        self.assertIn("failed: gave up after 4 restarts", self.sent(2)[1]["text"])

    def test_odd_output_is_escaped_for_html(self):
        a = self.notify_agent("max_restarts = 1\nrestart_window_s = 60")
        a.knobs(8080, crash_after_ms=20, url_delay_ms=5000, crash_message="<b>bad</b> & worse")
        a.request("start 8080 nowait")
        msg = [m for m in self.sent(1) if "failed" in m["text"]][0]
        self.assertIn("<b>bad</b> & worse", msg["text"])  # shown literally
        self.assertIn("&lt;b&gt;bad&lt;/b&gt; &amp; worse", msg["raw_text"])

    def test_bounded_queue_while_the_endpoint_is_down(self):
        self.hook.admin("down", {"down": True, "mode": "close"})
        a = self.notify_agent()
        for port in range(8100, 8120):
            a.ok("start %d" % port)
        lines, _ = a.request("metrics")
        self.assertEqual(a.request("ping")[1], "OK pong")
        self.hook.admin("down", {"down": False})
        self.assertTrue(any(l.startswith('tether_notifications_sent_total{channel="webhook"}') for l in lines))

    def test_a_notice_queued_before_kill9_is_delivered_after_the_restart_with_its_id(self):
        self.hook.admin("down", {"down": True, "mode": "close"})
        a = self.notify_agent()
        url = a.ok("start 8080")[1].split()[1]
        attempt = self.received(1)[0]
        event_id = attempt["body"]["event_id"]
        self.assertRegex(event_id, r"^[0-9a-f]{32}$")
        self.assertEqual(attempt["headers"]["Idempotency-Key"], event_id)
        outbox = os.path.join(a.state_dir, "outbox-webhook.json")
        wait_until(lambda: os.path.exists(outbox) and event_id in open(outbox).read(), what="the outbox on disk")
        with open(outbox) as f:
            self.assertNotIn(BOT_TOKEN, f.read())
        a.kill()
        self.hook.admin("down", {"down": False})
        b = self.notify_agent(directory=a.dir, marker=a.marker)
        delivered = wait_until(lambda: [p for p in self.hook.admin("received")["received"]
                                        if p["status"] == 200 and p["body"]["url"] == url],
                               what="the notice delivered after the restart")[0]
        self.assertEqual(delivered["body"]["event_id"], event_id)
        self.assertEqual(delivered["headers"]["Idempotency-Key"], event_id)
        self.assertEqual((delivered["body"]["notice"], delivered["body"]["id"]), ("url", "8080"))
        self.assertIn("1 notices left by the previous run", b.log())
        wait_until(lambda: not os.path.exists(outbox), what="the empty outbox removed")

    def test_notices_queued_at_shutdown_are_kept_in_order(self):
        self.hook.admin("down", {"down": True, "mode": "close"})
        a = self.notify_agent()
        urls = [a.ok("start %d" % port)[1].split()[1] for port in (8080, 8081)]
        self.assertEqual(a.stop(), 0)
        self.assertIn("notices still queued are kept for the next start", a.log())
        self.hook.admin("down", {"down": False})
        self.hook.admin("clear", {})
        b = self.notify_agent(directory=a.dir, marker=a.marker)
        posts = self.received(2)
        self.assertEqual([p["body"]["url"] for p in posts[:2]], urls)
        self.assertEqual(len({p["body"]["event_id"] for p in posts[:2]}), 2)
        b.ok("killall")

    def test_a_corrupt_outbox_is_set_aside(self):
        a = self.agent(start=False)
        a.put_state_file("outbox-webhook.json", '{"version":1,"notices":[{"id":"x"')
        b = self.notify_agent(directory=a.dir, marker=a.marker)
        self.assertSetAside(b, "outbox", "outbox-webhook.json")
        self.assertIn("its notices are not sent", b.log())
        b.ok("start 8080")
        self.assertEqual(self.received(1)[0]["body"]["id"], "8080")


class Metrics(AgentTest):
    def test_metrics_parse_strictly(self):
        a = self.agent("[watchdog]\nbackoff_initial_ms = 50\nbackoff_max_ms = 100\n")
        a.ok("start 8080")
        a.ok("start 8081")
        pid = a.json("status 8081")["tunnel"]["pid"]
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: a.json("status 8081")["tunnel"]["restarts"] == 1 and
                   a.json("status 8081")["tunnel"]["state"] == "running", what="a restart")
        extra = a.client()
        lines, status = a.request("metrics")
        self.assertEqual(status, "OK metrics")
        fam = promparse.parse("\n".join(lines) + "\n")
        self.assertEqual(fam["tether_tunnels"]["samples"][(("state", "running"),)], 2)
        self.assertEqual(fam["tether_tunnels"]["samples"][(("state", "failed"),)], 0)
        restarts = fam["tether_tunnel_restarts_total"]["samples"]
        self.assertEqual(restarts[(("kind", "quick"), ("tunnel", "8081"))], 1)
        self.assertEqual(restarts[(("kind", "quick"), ("tunnel", "8080"))], 0)
        self.assertEqual(fam["tether_tunnel_url_changes_total"]["samples"][(("kind", "quick"), ("tunnel", "8081"))], 2)
        self.assertEqual(fam["tether_tunnel_up"]["samples"][(("kind", "quick"), ("tunnel", "8080"))], 1)
        self.assertGreaterEqual(fam["tether_control_connections"]["samples"][()], 2)
        rss = fam["tether_resident_memory_bytes"]["samples"][()]
        self.assertGreater(rss, 1 << 20)
        self.assertEqual(fam["tether_build_info"]["type"], "gauge")
        extra.close()

    def test_the_parser_rejects_what_promtool_rejects(self):
        for bad in ("x 1\n", "# TYPE x counter\n# HELP x h\nx 1\n", "# HELP x h\n# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n",
                    "# HELP x h\n# TYPE x gauge\nx{a=1} 1\n", "# HELP x h\n# TYPE x gauge\nx one\n"):
            with self.assertRaises(ValueError, msg=bad):
                promparse.parse(bad)


if __name__ == "__main__":
    main()
