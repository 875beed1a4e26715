"""Self-healing: respawn with backoff, health restarts, give-up, events,
agent restarts (kill -9 and SIGTERM), reload, autostart, the state file."""

import base64
import datetime
import json
import os
import re
import signal
import time

from harness import AgentTest, SANITIZED, SLOW, alive, main, wait_until


def config(**watchdog):
    values = {"backoff_initial_ms": 100, "backoff_max_ms": 800, "stop_grace_s": 2, "start_wait_s": 10}
    values.update(watchdog)
    return "[watchdog]\n" + "".join("%s = %s\n" % kv for kv in values.items())


def when(event):
    return datetime.datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp()


class Watcher:
    """A `json watch` connection collecting events."""

    def __init__(self, agent):
        self.c = agent.client()
        self.c.send("json watch\n")
        reply = json.loads(self.c.read_line())
        assert reply == {"ok": True, "message": "watching"}, reply

    def next(self, timeout=20.0):
        line = self.c.read_line(timeout)
        assert line is not None, "watch stream closed"
        return json.loads(line)

    def until(self, predicate, timeout=30.0, limit=10000):
        """Events up to and including the first one matching predicate."""
        seen = []
        deadline = time.monotonic() + timeout * SLOW
        while len(seen) < limit:
            ev = self.next(max(0.1, deadline - time.monotonic()) / SLOW)
            seen.append(ev)
            if predicate(ev):
                return seen
        raise AssertionError("no matching event in %r" % seen)


class Respawn(AgentTest):
    def test_kill_9_of_a_child(self):
        a = self.agent(config())
        w = Watcher(a)
        _, status = a.ok("start 8080")
        first_url = status.split()[1]
        pid = a.json("status 8080")["tunnel"]["pid"]
        w.until(lambda e: e["event"] == "connected")
        os.kill(pid, signal.SIGKILL)
        events = w.until(lambda e: e["event"] == "url")
        kinds = [e["event"] for e in events]
        self.assertEqual(kinds, ["exited", "backoff", "restarted", "url"])
        self.assertEqual(events[0]["signal"], "SIGKILL")
        self.assertEqual(events[0]["detail"], "killed by SIGKILL")
        self.assertEqual(events[2]["restarts"], 1)
        self.assertNotEqual(events[3]["url"], first_url)
        t = a.json("status 8080")["tunnel"]
        self.assertEqual((t["restarts"], t["url"], t["url_changes"]), (1, events[3]["url"], 2))
        self.assertNotEqual(t["pid"], pid)
        self.assertFalse(alive(pid))

    def test_quick_tunnel_in_backoff_shows_no_dead_url(self):
        a = self.agent(config(backoff_initial_ms=5000, backoff_max_ms=5000))
        a.knobs(8080, crash_after_ms=300)
        _, status = a.ok("start 8080")
        dead = status.split()[1]
        st = wait_until(lambda: (lambda t: t if t["state"] == "backoff" else None)(a.json("status 8080")["tunnel"]),
                        what="8080 in backoff")
        self.assertIsNone(st["url"])
        self.assertNotIn(dead, "\n".join(a.request("list")[0]))

    def test_missing_state_dir_parents_are_created(self):
        a = self.agent(config(), start=False)
        a.state_dir = os.path.join(a.dir, "var", "lib", "tether")
        a.start()
        a.ok("start 8080")
        wait_until(lambda: os.path.exists(os.path.join(a.state_dir, "state.json")), what="the state file")

    def test_crash_loop_backs_off_and_resets_after_a_stable_run(self):
        a = self.agent(config(backoff_initial_ms=100, backoff_max_ms=800, stable_after_s=1))
        counter = os.path.join(a.dir, "spawns")
        a.knobs(8080, crash_after_ms=50, counter_file=counter, crash_first=6)
        w = Watcher(a)
        a.request("start 8080 nowait")
        backoffs, exits, respawns = [], [], []
        for e in w.until(lambda e: e["event"] == "restarted" and e["restarts"] == 6):
            if e["event"] == "backoff":
                backoffs.append(e)
            elif e["event"] == "exited":
                exits.append(e)
            elif e["event"] == "restarted":
                respawns.append(e)
        delays = [b["delay_ms"] for b in backoffs]
        self.assertEqual([b["attempt"] for b in backoffs], [1, 2, 3, 4, 5, 6])
        for attempt, delay in enumerate(delays, 1):
            base = min(100 * 2 ** (attempt - 1), 800)
            self.assertGreaterEqual(delay, max(100, base * 0.8), delays)
            self.assertLessEqual(delay, min(800, base * 1.2), delays)
        # The respawn really waited (event times have millisecond precision).
        for ex, re_ in zip(exits, respawns):
            waited = (when(re_) - when(ex)) * 1000
            delay = [b for b in backoffs if b["time"] >= ex["time"]][0]["delay_ms"]
            self.assertGreaterEqual(waited, delay - 2)
            self.assertLess(waited, delay + 1000 * SLOW)
        # The 7th child is healthy: after stable_after_s its crash starts over.
        w.until(lambda e: e["event"] == "connected")
        wait_until(lambda: "stable, backoff reset" in a.log(), what="the stable reset")
        os.kill(a.json("status 8080")["tunnel"]["pid"], signal.SIGKILL)
        b = w.until(lambda e: e["event"] == "backoff")[-1]
        self.assertEqual(b["attempt"], 1)
        self.assertLessEqual(b["delay_ms"], 120)

    def test_max_restarts_gives_up(self):
        a = self.agent(config(max_restarts=2, restart_window_s=60))
        a.knobs(8080, crash_after_ms=50, url_delay_ms=1000)
        w = Watcher(a)
        a.request("start 8080 nowait")
        events = w.until(lambda e: e["event"] == "failed")
        self.assertEqual([e["event"] for e in events].count("restarted"), 2)
        self.assertIn("gave up after 2 restarts within 60s", events[-1]["detail"])
        t = a.json("status 8080")["tunnel"]
        self.assertEqual((t["state"], t["pid"]), ("failed", None))
        self.assertEqual(a.children(), [])
        self.assertEqual(a.request("list")[0][1].split()[2], "failed")
        # A start that waits hears about it too.
        self.assertEqual(a.request("stop 8080")[1], "OK stopped 8080")
        lines, status = a.request("start 8080")
        self.assertTrue(status.startswith("ERR failed tunnel 8080 gave up after 2 restarts"), status)

    def test_degraded_then_restarted_when_unhealthy(self):
        a = self.agent(config(unhealthy_after_s=1))
        a.knobs(8080, unregister_after_ms=200, dial_retry_ms=0)
        w = Watcher(a)
        a.ok("start 8080")
        pid = a.json("status 8080")["tunnel"]["pid"]
        disconnected = w.until(lambda e: e["event"] == "disconnected")[-1]
        self.assertEqual(a.json("status 8080")["tunnel"]["state"], "degraded")
        restarted = w.until(lambda e: e["event"] == "restarted")[-1]
        self.assertIn("unhealthy: no registered connection for 1s", restarted["reason"])
        self.assertGreaterEqual(when(restarted) - when(disconnected), 0.99)
        self.assertFalse(alive(pid))
        w.until(lambda e: e["event"] == "connected")
        self.assertEqual(a.json("status 8080")["tunnel"]["state"], "running")

    def test_unexpected_exit_0_is_respawned_with_its_output_as_reason(self):
        # cloudflared exits 0 on a flag it does not know, usage on stdout.
        a = self.agent(config() + "[cloudflared]\nextra_args = --no-such-flag\n")
        w = Watcher(a)
        a.request("start 8080 nowait")
        events = w.until(lambda e: e["event"] == "restarted")
        exited = [e for e in events if e["event"] == "exited"][0]
        self.assertEqual(exited["status"], 0)
        self.assertRegex(exited["detail"], r"^exit status 0: Incorrect Usage.? flag provided but not defined: -no-such-flag")
        self.assertEqual(a.request("stop 8080")[1], "OK stopped 8080")


class Events(AgentTest):
    def test_watch_stream_in_order(self):
        a = self.agent(config())
        c = a.client()
        c.send("watch\n")
        self.assertEqual(c.read_reply(), ([], "OK watching"))
        _, status = a.ok("start 8080")
        url = status.split()[1]
        a.ok("stop 8080")
        lines = [c.read_line() for _ in range(4)]
        pattern = r"^EVENT \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 8080 "
        for l in lines:
            self.assertRegex(l, pattern)
        kinds = [l.split()[3] for l in lines]
        self.assertEqual(kinds, ["starting", "url", "connected", "stopped"])
        self.assertTrue(lines[1].endswith(" url " + url))
        self.assertRegex(lines[0], r" starting pid \d+$")

    def test_several_watchers(self):
        a = self.agent(config())
        w1, w2 = Watcher(a), Watcher(a)
        a.ok("start 8080")
        e1 = w1.until(lambda e: e["event"] == "connected")
        e2 = w2.until(lambda e: e["event"] == "connected")
        self.assertEqual(e1, e2)

    def test_slow_watcher_is_dropped(self):
        a = self.agent(config(backoff_initial_ms=1, backoff_max_ms=1))
        slow = a.client()
        slow.send("watch\n")
        self.assertEqual(slow.read_reply(), ([], "OK watching"))
        for port in range(8100, 8110):
            a.knobs(port, crash_after_ms=0)
            a.request("start %d nowait" % port)
        wait_until(lambda: "dropping a watcher" in a.log(), timeout=60, what="the slow watcher to be dropped")
        self.assertEqual(a.request("ping")[1], "OK pong")
        last = None
        while True:
            line = slow.read_line(timeout=20)
            if line is None:
                break
            last = line
        self.assertEqual(last, "ERR slow watcher: events were not read fast enough; dropped")
        self.assertEqual(a.request("killall", timeout=60)[1], "OK stopped 10 tunnels")


class AgentRestart(AgentTest):
    def test_kill_9_of_the_agent_then_a_new_agent(self):
        a = self.agent(config() + "[tunnel cam]\ntype = quick\nport = 8001\nautostart = true\n")
        a.knobs(8003, grandchild=1)
        a.ok("start 8002")
        a.ok("start 8003")
        wait_until(lambda: len(a.json("list")["tunnels"]) == 3 and all(
            t["state"] == "running" for t in a.json("list")["tunnels"]), what="three running tunnels")
        old = {t["id"]: t["pid"] for t in a.json("list")["tunnels"]}
        old_procs = set(a.children())
        self.assertEqual(len(old_procs), 4)  # three cloudflared and a grandchild
        a.proc.kill()
        a.proc.wait()
        self.assertTrue(all(alive(p) for p in old.values()), "children outlive a killed agent")

        b = self.agent(config() + "[tunnel cam]\ntype = quick\nport = 8001\nautostart = true\n",
                       directory=a.dir, marker=a.marker)
        wait_until(lambda: len(b.json("list")["tunnels"]) == 3 and all(
            t["pid"] for t in b.json("list")["tunnels"]), what="the three tunnels back")
        for pid in old_procs:
            wait_until(lambda: not alive(pid), timeout=15, what="old process %d to be gone" % pid)
        new = {t["id"]: t["pid"] for t in b.json("list")["tunnels"]}
        self.assertEqual(set(new), {"8001", "8002", "8003"})
        self.assertFalse(set(new.values()) & set(old.values()))
        # Exactly one cloudflared per tunnel (and 8003's grandchild).
        wait_until(lambda: len(b.children()) == 4, what="one child per tunnel")
        self.assertIn("left by a previous agent", b.log())

    def test_second_agent_on_the_same_state_dir_is_refused(self):
        a = self.agent(config())
        a.ok("start 8081")
        child = a.json("status 8081")["tunnel"]["pid"]
        state_file = os.path.join(a.state_dir, "state.json")
        with open(state_file) as f:
            state = f.read()
        b = self.agent(config(), start=False, directory=a.dir, marker=a.marker)
        b.socket = os.path.join(a.dir, "other.sock")
        b.start(wait=False)
        self.assertEqual(b.wait(), 1)
        with open(b.log_path) as f:
            self.assertIn("state directory %s is in use by another tetherd (pid %d)" % (a.state_dir, a.pid()),
                          f.read())
        self.assertFalse(os.path.exists(b.socket))
        self.assertEqual(a.json("status 8081")["tunnel"]["pid"], child)
        self.assertEqual(a.children(), [child])
        with open(state_file) as f:
            self.assertEqual(f.read(), state)

    def test_sigterm_stops_every_child_and_keeps_the_desired_set(self):
        a = self.agent(config(stop_grace_s=1))
        a.knobs(8082, ignore_term=1)
        for port in (8081, 8082):
            a.ok("start %d" % port)
        pids = [t["pid"] for t in a.json("list")["tunnels"]]
        self.assertEqual(a.stop(), 0)
        self.assertEqual(a.children(), [])
        self.assertFalse(any(alive(p) for p in pids))
        self.assertFalse(os.path.exists(a.socket))
        with open(os.path.join(a.state_dir, "state.json")) as f:
            state = json.load(f)
        self.assertEqual(sorted(t["id"] for t in state["tunnels"]), ["8081", "8082"])
        # The dead children's pids stay recorded: their start times tell them
        # from a reuse, and not writing each exit spares the flash.
        self.assertTrue(all(t["desired"] and t["pid"] in pids for t in state["tunnels"]))
        # `systemctl restart`: the same tunnels come back.
        b = self.agent(config(), directory=a.dir, marker=a.marker)
        wait_until(lambda: sorted(t["id"] for t in b.json("list")["tunnels"]) == ["8081", "8082"],
                   what="the tunnels back")

    def test_second_sigterm_kills_at_once(self):
        a = self.agent(config(stop_grace_s=60))
        a.knobs(8080, ignore_term=1)
        a.ok("start 8080")
        a.signal(signal.SIGTERM)
        wait_until(lambda: "stopping every tunnel" in a.log(), what="the first SIGTERM")
        started = time.monotonic()
        a.signal(signal.SIGTERM)
        self.assertEqual(a.wait(timeout=10), 0)
        self.assertLess(time.monotonic() - started, 10 * SLOW)
        self.assertEqual(a.children(), [])

    def test_stopped_tunnels_do_not_come_back(self):
        a = self.agent(config())
        a.ok("start 8081")
        a.ok("start 8082")
        a.ok("stop 8081")
        self.assertEqual(a.stop(), 0)
        b = self.agent(config(), directory=a.dir, marker=a.marker)
        wait_until(lambda: [t["id"] for t in b.json("list")["tunnels"]] == ["8082"], what="8082 back")

    def test_corrupt_state_file_is_set_aside(self):
        a = self.agent(config(), start=False)
        os.makedirs(a.state_dir)
        with open(os.path.join(a.state_dir, "state.json"), "w") as f:
            f.write('{"version": 1, "tunnels": [{"id": ')
        a.start()
        self.assertEqual(a.request("ping")[1], "OK pong")
        aside = [n for n in os.listdir(a.state_dir) if n.startswith("state.json.corrupt-")]
        self.assertEqual(len(aside), 1)
        self.assertIn("is unusable", a.log())
        a.ok("start 8080")
        wait_until(lambda: os.path.exists(os.path.join(a.state_dir, "state.json")), what="a new state file")

    def test_pid_reused_by_another_program_is_left_alone(self):
        a = self.agent(config(), start=False)
        os.makedirs(a.state_dir)
        # A record whose pid is now some other program (this test runner).
        with open(os.path.join(a.state_dir, "state.json"), "w") as f:
            json.dump({"version": 1, "tunnels": [{"id": "8080", "kind": "quick", "port": 8080, "desired": True,
                                                  "pid": os.getpid(), "start_ticks": 1}]}, f)
        a.start()
        wait_until(lambda: a.json("list")["tunnels"] and a.json("list")["tunnels"][0]["pid"],
                   what="8080 restored")
        self.assertNotIn("left by a previous agent", a.log())


class Reload(AgentTest):
    BASE = config() + """
[tunnel a]
type = quick
port = 8001
autostart = true
[tunnel b]
type = quick
port = 8002
autostart = true
[tunnel c]
type = quick
port = 8003
autostart = true
"""

    def test_autostart(self):
        a = self.agent(self.BASE)
        wait_until(lambda: sorted(t["id"] for t in a.json("list")["tunnels"]) == ["8001", "8002", "8003"],
                   what="autostart tunnels")
        self.assertTrue(all(t["origin"] == "config" for t in a.json("list")["tunnels"]))

    def test_sighup_adds_removes_and_changes(self):
        a = self.agent(self.BASE)
        wait_until(lambda: len([t for t in a.json("list")["tunnels"] if t["pid"]]) == 3, what="3 tunnels")
        a.ok("start 9000")
        before = {t["id"]: t["pid"] for t in a.json("list")["tunnels"]}
        a.write_config(config() + """
[tunnel a]
type = quick
port = 8001
autostart = true
[tunnel c]
type = quick
port = 8004
autostart = true
[tunnel d]
type = quick
port = 8005
autostart = true
""")
        a.signal(signal.SIGHUP)
        wait_until(lambda: sorted(t["id"] for t in a.json("list")["tunnels"]) == ["8001", "8004", "8005", "9000"]
                   and all(t["pid"] for t in a.json("list")["tunnels"]), what="the reloaded set")
        after = {t["id"]: t["pid"] for t in a.json("list")["tunnels"]}
        self.assertEqual(after["8001"], before["8001"])  # unchanged: untouched
        self.assertEqual(after["9000"], before["9000"])  # runtime: untouched
        self.assertFalse(alive(before["8002"]))
        self.assertFalse(alive(before["8003"]))

    def test_broken_file_keeps_the_running_config(self):
        a = self.agent(self.BASE)
        wait_until(lambda: len(a.json("list")["tunnels"]) == 3, what="3 tunnels")
        pids = sorted(t["pid"] for t in a.json("list")["tunnels"])
        a.write_config("[tunnel a]\ntype = quick\nport = 80000\n")
        a.signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in a.log(), what="the reload error")
        self.assertIn("%s:3: [tunnel a] port: 80000 is out of range" % a.config_path, a.log())
        _, status = a.request("reload")
        self.assertTrue(status.startswith("ERR config the running configuration is kept: %s:3:" % a.config_path),
                        status)
        self.assertEqual(sorted(t["pid"] for t in a.json("list")["tunnels"]), pids)
        a.write_config(self.BASE)
        self.assertEqual(a.request("reload")[1], "OK reloaded " + a.config_path)


class Lifecycle(AgentTest):
    """Cells of the supervision table (agent/lifecycle.cpp) seen from outside."""

    TUNNEL_ID = "7a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

    def named_agent(self, hostname, **watchdog):
        raw = json.dumps({"a": "0123456789abcdef0123456789abcdef", "t": self.TUNNEL_ID,
                          "s": base64.b64encode(b"s" * 32).decode()}, separators=(",", ":"))
        self.token = base64.b64encode(raw.encode()).decode()
        self.base = config(**watchdog)
        return self.agent(self.tunnel_config(hostname), env={"CAM_TOKEN": self.token})

    def tunnel_config(self, hostname):
        return self.base + "[tunnel cam]\ntoken_env = CAM_TOKEN\nhostname = %s\n" % hostname

    def test_registered_line_while_failed_does_not_revive_it(self):
        # Unauthorized until unhealthy_after_s: failed, its child told to
        # stop. The child ignores SIGTERM and, in its grace period, prints a
        # Registered line after all: failed is final until `restart`.
        a = self.named_agent("cam.example.net", unhealthy_after_s=1, stop_grace_s=10)
        a.knobs(self.TUNNEL_ID, unauthorized=1, retry_ms=200, ignore_term=1, unauth_register_ms=3000)
        w = Watcher(a)
        a.ok("start cam nowait")
        w.until(lambda ev: ev["event"] == "failed")
        wait_until(lambda: any("Registered tunnel connection" in l for l in a.request("logs cam 50")[0]),
                   timeout=20, what="the late Registered line")
        st = a.json("status cam")["tunnel"]
        self.assertEqual(st["state"], "failed", st)
        self.assertTrue(st["pid"], st)  # still in its grace period

    def test_restart_of_a_tunnel_being_stopped_keeps_its_spec(self):
        a = self.named_agent("old.example.net", stop_grace_s=10)
        a.knobs(self.TUNNEL_ID, ignore_term=1)
        a.ok("start cam")
        wait_until(lambda: a.json("status cam")["tunnel"]["connections"] > 0, what="cam connected")
        c = a.client()
        c.send("stop cam\n")
        wait_until(lambda: a.json("status cam")["tunnel"]["state"] == "stopping", what="cam stopping")
        a.write_config(self.tunnel_config("new.example.net"))
        self.assertEqual(a.request("reload")[1], "OK reloaded " + a.config_path)
        wait_until(lambda: "reload restart cam" in a.log(), what="the refused restart in the log")
        self.assertIn("is being stopped", a.log())
        st = a.json("status cam")["tunnel"]
        self.assertEqual(st["state"], "stopping", st)
        self.assertEqual(st["url"], "https://old.example.net", st)


if __name__ == "__main__":
    main()
