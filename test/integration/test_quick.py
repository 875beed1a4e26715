"""Quick tunnels: start/stop/list/status/logs/killall against the fake cloudflared."""

import os
import re
import signal
import threading
import time

from harness import AgentTest, SLOW, alive, main, proc_cmdline, wait_until

URL = re.compile(r"^https://[a-z0-9-]+\.trycloudflare\.com$")
FAST = """
[watchdog]
backoff_initial_ms = 100
backoff_max_ms = 400
stop_grace_s = 2
start_wait_s = 10
"""


class Start(AgentTest):
    def test_start_replies_with_the_url(self):
        a = self.agent(FAST)
        lines, status = a.ok("start 8080")
        port, url = status.split()
        self.assertEqual(port, "8080")
        self.assertRegex(url, URL)
        j = a.json("list")
        self.assertEqual(j["message"], "1 tunnels")
        t = j["tunnels"][0]
        self.assertEqual((t["id"], t["kind"], t["state"], t["url"]), ("8080", "quick", "running", url))
        cmd = proc_cmdline(t["pid"])
        self.assertEqual(cmd[1:4], [b"tunnel", b"--no-autoupdate", b"--metrics"])
        self.assertRegex(cmd[4].decode(), r"^127\.0\.0\.1:\d+$")
        self.assertEqual(cmd[5:7], [b"--url", b"http://localhost:8080"])

    def test_restart_replies_with_the_new_url(self):
        a = self.agent(FAST)
        _, first = a.ok("start 8080")
        old_pid = a.json("status 8080")["tunnel"]["pid"]
        _, status = a.ok("restart 8080")
        port, url = status.split()
        self.assertEqual(port, "8080")
        self.assertRegex(url, URL)
        self.assertNotEqual(url, first.split()[1])
        t = a.json("status 8080")["tunnel"]
        self.assertEqual(t["url"], url)
        self.assertNotEqual(t["pid"], old_pid)
        # Without its URL within start_wait_s, the restart says pending, as start does.
        a.knobs(8080, no_url=1)
        self.assertEqual(a.request("restart 8080", timeout=30)[1], "OK 8080 pending")

    def test_a_configured_quick_tunnel_answers_to_its_name(self):
        a = self.agent(FAST + "[tunnel cam]\ntype = quick\nport = 8090\n")
        _, status = a.ok("start cam")
        self.assertRegex(status, r"^8090 https://")
        self.assertEqual(a.json("status cam")["tunnel"]["id"], "8090")
        self.assertTrue(a.request("logs cam")[1].startswith("OK"))
        self.assertRegex(a.request("restart cam")[1], r"^OK 8090 https://")
        self.assertEqual(a.request("stop cam")[1], "OK stopped 8090")
        self.assertEqual(a.request("status cam")[1], "ERR notfound no tunnel '8090' (see 'list')")

    def test_start_twice(self):
        a = self.agent(FAST)
        _, first = a.ok("start 8080")
        _, status = a.request("start 8080")
        self.assertEqual(status, "ERR exists tunnel 8080 already exists (running, %s); stop it first"
                         % first.split()[1])
        _, status = a.request("start 08080")
        self.assertTrue(status.startswith("ERR exists"))

    def test_bad_ports(self):
        a = self.agent(FAST)
        for bad in ("0", "65536", "99999999999", "-1", "80a"):
            _, status = a.request("start " + bad)
            self.assertTrue(status.startswith("ERR usage start <port>|<name> [nowait]: "), status)
        self.assertIn("port must be a number from 1 to 65535", a.request("start 65536")[1])
        self.assertEqual(a.request("start")[1], "ERR usage start <port>|<name> [nowait]")
        self.assertIn("unknown option 'later'", a.request("start 8080 later")[1])
        self.assertEqual(a.json("list")["tunnels"], [])

    def test_nowait(self):
        a = self.agent(FAST)
        a.knobs(8080, url_delay_ms=500)
        self.assertEqual(a.request("start 8080 nowait"), ([], "OK 8080 pending"))
        url = wait_until(lambda: a.json("status 8080")["tunnel"]["url"], what="the URL")
        self.assertRegex(url, URL)

    def test_pending_after_the_wait(self):
        a = self.agent(FAST.replace("start_wait_s = 10", "start_wait_s = 1"))
        a.knobs(8080, no_url=1)
        started = time.monotonic()
        lines, status = a.request("start 8080")
        self.assertEqual(status, "OK 8080 pending")
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        t = a.json("status 8080")["tunnel"]
        self.assertEqual((t["state"], t["url"]), ("starting", None))
        self.assertTrue(alive(t["pid"]))

    def test_other_clients_served_while_start_waits(self):
        a = self.agent(FAST)
        a.knobs(8080, url_delay_ms=1500)
        waiting = a.client()
        waiting.send("start 8080\n")
        for _ in range(5):
            self.assertEqual(a.request("ping")[1], "OK pong")
        lines, status = waiting.read_reply(timeout=20)
        self.assertRegex(status, r"^OK 8080 https://")

    def test_client_leaving_while_start_waits(self):
        a = self.agent(FAST)
        a.knobs(8080, url_delay_ms=800)
        c = a.client()
        c.send("start 8080\n")
        c.close()
        url = wait_until(lambda: a.json("status 8080")["tunnel"]["url"], what="the URL")
        self.assertRegex(url, URL)
        self.assertEqual(a.json("status 8080")["tunnel"]["state"], "running")
        self.assertEqual(a.request("ping")[1], "OK pong")

    def test_cloudflared_missing(self):
        a = self.agent("[cloudflared]\npath = /nonexistent/cloudflared\n")
        _, status = a.request("start 8080")
        self.assertTrue(status.startswith("ERR nocloudflared cloudflared was not found."), status)
        for hint in ("arm64", "armhf", "dpkg -i", "[cloudflared] path", "/nonexistent/cloudflared"):
            self.assertIn(hint, status)
        self.assertEqual(a.json("list")["tunnels"], [])

    def test_cloudflared_not_in_path(self):
        a = self.agent(env={"PATH": "/usr/bin:/bin"})
        self.assertTrue(a.request("start 8080")[1].startswith("ERR nocloudflared"))

    def test_api_error_never_becomes_a_url(self):
        a = self.agent(FAST.replace("start_wait_s = 10", "start_wait_s = 1"))
        a.knobs(8080, api_error=1)
        lines, status = a.request("start 8080")
        self.assertEqual(status, "OK 8080 pending")
        self.assertIn("failed to request quick Tunnel", "\n".join(lines))
        c = a.client()
        c.send("watch\n")
        self.assertEqual(c.read_reply()[1], "OK watching")
        exits = 0
        while exits < 2:
            line = c.read_line()
            self.assertNotIn(" url ", line)
            if " exited " in line:
                exits += 1
                self.assertIn("exit status 1: failed to request quick Tunnel", line)
        t = a.json("status 8080")["tunnel"]
        self.assertIsNone(t["url"])
        self.assertIn("api.trycloudflare.com", t["last_error"])


class Fifty(AgentTest):
    def test_fifty_tunnels_at_once(self):
        a = self.agent(FAST.replace("start_wait_s = 10", "start_wait_s = 60"))
        replies = {}

        def start(port):
            replies[port] = a.request("start %d" % port, timeout=60)[1]

        threads = [threading.Thread(target=start, args=(9000 + i,)) for i in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        urls = set()
        for port, status in replies.items():
            m = re.match(r"^OK (\d+) (https://\S+)$", status)
            self.assertTrue(m, status)
            self.assertEqual(int(m.group(1)), port)
            urls.add(m.group(2))
        self.assertEqual(len(urls), 50)
        listed = {t["id"]: t["url"] for t in a.json("list")["tunnels"]}
        self.assertEqual(set(listed.values()), urls)
        self.assertEqual(len(a.children()), 50)
        self.assertEqual(a.request("killall", timeout=60)[1], "OK stopped 50 tunnels")
        self.assertEqual(a.children(), [])


class Stop(AgentTest):
    def test_stop(self):
        a = self.agent(FAST)
        a.ok("start 8080")
        pid = a.json("status 8080")["tunnel"]["pid"]
        self.assertEqual(a.request("stop 8080"), ([], "OK stopped 8080"))
        self.assertFalse(alive(pid))
        self.assertEqual(a.json("list")["tunnels"], [])
        self.assertIn("tunnel 8080: stopped (exit status 0)", a.log())

    def test_stop_unknown(self):
        a = self.agent(FAST)
        self.assertEqual(a.request("stop 9999"), ([], "ERR notfound no tunnel '9999' (see 'list')"))
        self.assertEqual(a.request("stop nope"), ([], "ERR notfound no tunnel 'nope' (see 'list')"))
        self.assertTrue(a.request("stop 70000")[1].startswith("ERR usage stop <id>:"))

    def test_child_ignoring_sigterm_is_killed_after_the_grace(self):
        a = self.agent(FAST.replace("stop_grace_s = 2", "stop_grace_s = 1"))
        a.knobs(8080, ignore_term=1)
        a.ok("start 8080")
        pid = a.json("status 8080")["tunnel"]["pid"]
        started = time.monotonic()
        self.assertEqual(a.request("stop 8080")[1], "OK stopped 8080")
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertFalse(alive(pid))
        self.assertIn("sending SIGKILL", a.log())
        self.assertIn("stopped (killed by SIGKILL)", a.log())

    def test_grandchild_in_the_group_is_gone_after_stop(self):
        a = self.agent(FAST.replace("stop_grace_s = 2", "stop_grace_s = 1"))
        a.knobs(8080, grandchild=1, grandchild_ignore_term=1)
        a.ok("start 8080")
        grandchild = int(wait_until(lambda: re.search(r"fake grandchild pid=(\d+)", "\n".join(
            a.ok("logs 8080 200")[0])), what="the grandchild's pid").group(1))
        pid = a.json("status 8080")["tunnel"]["pid"]
        self.assertEqual(os.getpgid(grandchild), pid)
        self.assertEqual(a.request("stop 8080")[1], "OK stopped 8080")
        wait_until(lambda: not alive(grandchild), timeout=5, what="the grandchild to die")
        self.assertFalse(alive(pid))

    def test_killall(self):
        a = self.agent(FAST)
        for port in (8081, 8082, 8083):
            a.ok("start %d" % port)
        self.assertEqual(len(a.children()), 3)
        self.assertEqual(a.request("killall"), ([], "OK stopped 3 tunnels"))
        self.assertEqual(a.children(), [])
        self.assertEqual(a.request("killall"), ([], "OK stopped 0 tunnels"))


class Inspect(AgentTest):
    def test_list_status_logs(self):
        a = self.agent(FAST)
        _, status = a.ok("start 8080")
        url = status.split()[1]
        lines, status = a.request("list")
        self.assertEqual(status, "OK 1 tunnels")
        self.assertEqual(lines[0].split(), ["ID", "KIND", "STATE", "URL", "PID", "UPTIME", "RESTARTS"])
        fields = lines[1].split()
        self.assertEqual(fields[:4], ["8080", "quick", "running", url])
        self.assertTrue(fields[4].isdigit())
        self.assertRegex(fields[5], r"^\d+s$")
        self.assertEqual(fields[6], "0")

        lines, status = a.request("status 8080")
        self.assertEqual(status, "OK 8080 running")
        info = dict(l.split(": ", 1) for l in lines)
        self.assertEqual(info["url"], url)
        self.assertEqual(info["kind"], "quick")
        self.assertEqual(info["restarts"], "0")
        self.assertEqual(info["connections"], "1")
        self.assertRegex(info["metrics"], r"^127\.0\.0\.1:\d+$")

        lines, status = a.request("logs 8080 200")
        self.assertEqual(status, "OK %d lines" % len(lines))
        text = "\n".join(lines)
        self.assertIn("Your quick Tunnel has been created!", text)
        self.assertIn(url, text)
        self.assertIn("Registered tunnel connection connIndex=0", text)
        lines, status = a.request("logs 8080 2")
        self.assertEqual((len(lines), status), (2, "OK 2 lines"))
        self.assertTrue(a.request("logs 8080 zero")[1].startswith("ERR usage logs <id> [n]"))
        self.assertTrue(a.request("status 1234")[1].startswith("ERR notfound"))
        j = a.json("logs 8080 3")
        self.assertEqual(len(j["lines"]), 3)

    def test_unexpected_exit_is_noticed_and_shown(self):
        a = self.agent(FAST.replace("backoff_initial_ms = 100", "backoff_initial_ms = 60000")
                       .replace("backoff_max_ms = 400", "backoff_max_ms = 60000"))
        a.knobs(8080, crash_after_ms=300, crash_status=3, crash_message="fatal: fake crash")
        a.ok("start 8080")
        t = wait_until(lambda: (lambda t: t if t["state"] == "backoff" else None)(
            a.json("status 8080")["tunnel"]), what="backoff")
        self.assertEqual(t["last_exit"], "exit status 3: fatal: fake crash")
        self.assertIsNone(t["pid"])
        lines, _ = a.request("status 8080")
        self.assertIn("last exit: exit status 3: fatal: fake crash", lines)
        self.assertTrue(any(l.startswith("next restart in: ") for l in lines))
        self.assertEqual(a.request("list")[0][1].split()[2], "backoff")
        # Stopping a tunnel in backoff needs no process.
        self.assertEqual(a.request("stop 8080")[1], "OK stopped 8080")

    def test_killed_by_a_signal(self):
        a = self.agent(FAST.replace("backoff_initial_ms = 100", "backoff_initial_ms = 60000")
                       .replace("backoff_max_ms = 400", "backoff_max_ms = 60000"))
        a.ok("start 8080")
        pid = a.json("status 8080")["tunnel"]["pid"]
        os.kill(pid, signal.SIGSEGV)
        t = wait_until(lambda: (lambda t: t if t["state"] == "backoff" else None)(
            a.json("status 8080")["tunnel"]), what="backoff")
        self.assertTrue(t["last_exit"].startswith("killed by SIGSEGV"), t["last_exit"])


class Output(AgentTest):
    def test_flooding_child_does_not_stall_the_agent(self):
        a = self.agent(FAST)
        a.knobs(8080, flood=1)
        a.ok("start 8080")
        for _ in range(20):
            self.assertEqual(a.request("ping")[1], "OK pong")
        lines, _ = a.request("logs 8080 9999")
        self.assertLessEqual(len(lines), 200)
        self.assertEqual(a.json("status 8080")["tunnel"]["restarts"], 0)
        self.assertEqual(a.request("stop 8080")[1], "OK stopped 8080")

    def test_chatty_child_keeps_living(self):
        # The agent reads stderr for the child's whole life: a child that
        # logs every 20 ms never blocks on the pipe nor dies of SIGPIPE.
        a = self.agent(FAST)
        a.knobs(8080, heartbeat_ms=20)
        a.ok("start 8080")
        wait_until(lambda: sum("Failed to create new quic connection" in l for l in a.ok("logs 8080 200")[0]) >= 30,
                   what="30 lines of output")
        t = a.json("status 8080")["tunnel"]
        self.assertEqual((t["state"], t["restarts"]), ("running", 0))

    def test_a_child_whose_reader_is_gone_dies_at_its_next_line(self):
        # docs/cloudflared.md §8: once nobody reads its stderr, cloudflared
        # dies of SIGPIPE at its next log line; the fake does the same. With
        # the agent killed, the chatty child goes and the quiet one stays.
        a = self.agent(FAST)
        a.knobs(8080, heartbeat_ms=50)
        a.ok("start 8080")
        a.ok("start 8081")
        chatty = a.json("status 8080")["tunnel"]["pid"]
        quiet = a.json("status 8081")["tunnel"]["pid"]
        a.proc.kill()
        a.proc.wait()
        wait_until(lambda: not alive(chatty), what="the chatty child to die of SIGPIPE")
        self.assertTrue(alive(quiet), "a child with nothing to say outlives the agent")
        os.killpg(quiet, signal.SIGKILL)
        wait_until(lambda: not alive(quiet), what="the quiet child to be gone")


if __name__ == "__main__":
    main()
