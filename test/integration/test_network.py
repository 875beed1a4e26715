"""Network-aware healing in a network lab (netlab.py): tetherd runs inside
the drone namespace (`ip netns exec`), so its netlink socket sees that
namespace's links and routes; the fake cloudflared really dials a fake edge
in the edge namespace (FAKE_CF_DIAL=1). Link down and up, default route
removed and added, UDP dropped with nftables, boot without a route, and a
child spinning on a refused port. The clock policy is a unit test
(test_linkpolicy.cpp): setting the clock here would set the host's.

Needs root; as another user it re-runs itself under `unshare -rnm` when
that is allowed, and otherwise fails loudly rather than skip in silence.
"""

import base64
import json
import os
import re
import subprocess
import sys
import time
import uuid

import netlab
import promparse
from harness import SANITIZED, VALGRIND, AgentTest, SLOW, alive, main, wait_until
from test_watchdog import Watcher


def reexec_unprivileged():
    """Root in a user namespace of our own, with private mounts for
    /run/netns and /etc/netns (ip netns needs both)."""
    if os.environ.get("TETHER_NETLAB_USERNS") == "1":
        for d in ("/run/netns", "/etc/netns"):
            subprocess.run(["mount", "-t", "tmpfs", "tmpfs", d], check=True)
        return
    if os.geteuid() != 0:
        os.environ["TETHER_NETLAB_USERNS"] = "1"
        os.execvp("unshare", ["unshare", "-rnm", "--propagation", "private", sys.executable] + sys.argv)


def token(tunnel_id=None):
    body = {"a": "0123456789abcdef0123456789abcdef", "t": tunnel_id or str(uuid.uuid4()),
            "s": base64.b64encode(os.urandom(32)).decode()}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def config(network="", cloudflared="", watchdog="", tunnels=""):
    return ("[cloudflared]\nextra_args = --edge %s:7844\n%s"
            "[watchdog]\nbackoff_initial_ms = 200\nbackoff_max_ms = 2000\nstop_grace_s = 2\nstart_wait_s = 10\n%s"
            "[network]\nrequire = default-route\n%s%s") % (netlab.EDGE_IPS[0], cloudflared, watchdog, network, tunnels)


def proc_state(pid):
    with open("/proc/%d/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def metrics(agent):
    lines, _ = agent.request("metrics")
    return promparse.parse("\n".join(lines) + "\n")


def sample(fams, name, **labels):
    for key, value in fams[name]["samples"].items():
        if all((k, v) in key for k, v in labels.items()):
            return value
    raise AssertionError("no %s%r" % (name, labels))


class NetworkLab(AgentTest):
    def setUp(self):
        super().setUp()
        why = netlab.usable()
        if why:
            self.fail(why)
        self.lab = netlab.Lab()
        self.addCleanup(self.lab.teardown)  # runs after the agents are gone (cleanups are LIFO)
        self.lab.setup()

    def agent_in_drone(self, cfg, env=None, **kw):
        e = {"FAKE_CF_DIAL": "1", "CF_TUNNEL_TOKEN_DRONE": token()}
        e.update(env or {})
        return self.agent(cfg, env=e, prefix=self.lab.exec_in(self.lab.drone, []), **kw)

    def status(self, a, tid):
        return a.json("status %s" % tid)["tunnel"]

    def connected(self, a, tid):
        t = self.status(a, tid)
        return t["state"] == "running" and t["connections"] > 0 and t

    def connect_then_lose_route(self, a, w, tid):
        """Starts tid, waits until it is connected, removes the default
        route; returns the child's pid and the `offline` event."""
        a.ok("start %s" % tid)
        wait_until(lambda: self.connected(a, tid), what="%s connected" % tid)
        pid = self.status(a, tid)["pid"]
        self.lab.route_del()
        return pid, w.until(lambda e: e["event"] == "offline")[-1]

    def test_default_route_removed_then_added(self):
        cfg = config(tunnels="[tunnel drone]\ntype = named\nhostname = drone.example.org\n")
        a = self.agent_in_drone(cfg)
        w = Watcher(a)
        pid, offline = self.connect_then_lose_route(a, w, "drone")
        self.assertIn("no default route", offline["detail"])
        t = self.status(a, "drone")
        self.assertEqual((t["state"], t["pid"], t["connections"]), ("offline", pid, 0))
        self.assertIn("paused", t["network"])
        wait_until(lambda: proc_state(pid) == "T", what="the child stopped")
        lines, status = a.request("status drone")
        self.assertEqual(status, "OK drone offline")
        self.assertTrue(any(l.startswith("network: offline (no default route") for l in lines), lines)
        lines, _ = a.request("list")
        self.assertRegex(lines[1], r"^drone\s+named\s+offline\s")
        self.assertEqual(a.json("list")["tunnels"][0]["state"], "offline")
        fams = metrics(a)
        self.assertEqual(sample(fams, "tether_tunnels", state="offline"), 1)
        self.assertEqual(sample(fams, "tether_network_online"), 0)
        # Longer than the child's own idle timeout: its connection is dead by
        # the time it resumes. Meanwhile it costs nothing and nothing counts.
        before = cpu_ticks(pid)
        time.sleep(6)
        self.assertEqual(cpu_ticks(pid), before)
        t = self.status(a, "drone")
        self.assertEqual((t["state"], t["restarts"]), ("offline", 0))

        self.lab.route_add()
        back = time.monotonic()
        events = w.until(lambda e: e["event"] == "connected", timeout=15)
        took = time.monotonic() - back
        kinds = [e["event"] for e in events]
        self.assertIn("online", kinds)
        self.assertNotIn("backoff", kinds)
        self.assertLess(took, 3.0 * SLOW, kinds)  # the goal is 2 s; slack for a loaded CI
        t = self.status(a, "drone")
        self.assertEqual(t["url"], "https://drone.example.org")  # a named tunnel keeps its hostname
        self.assertEqual(sample(metrics(a), "tether_network_online"), 1)

    def test_link_down_then_up(self):
        a = self.agent_in_drone(config(network="reconnect_grace_s = 2\n"),
                                env={"FAKE_CF_REDIAL_BASE_MS": "60000"})
        w = Watcher(a)
        _, status = a.ok("start 8080")
        url = status.split()[1]
        wait_until(lambda: self.connected(a, "8080"), what="8080 connected")
        pid = self.status(a, "8080")["pid"]

        # A short outage: the paused child keeps its connection and its URL.
        self.lab.link_down()
        w.until(lambda e: e["event"] == "offline")
        wait_until(lambda: proc_state(pid) == "T", what="the child stopped")
        time.sleep(1)
        self.lab.link_up()
        w.until(lambda e: e["event"] == "online")
        time.sleep(3)  # past reconnect_grace_s: nothing was restarted
        t = self.status(a, "8080")
        self.assertEqual((t["pid"], t["url"], t["restarts"], t["state"]), (pid, url, 0, "running"))
        self.assertNotEqual(proc_state(pid), "T")

        # A long one: the resumed child finds its connection dead and would
        # wait a random while to re-dial; after reconnect_grace_s it is
        # replaced at once (a new URL, with its event).
        self.lab.link_down()
        w.until(lambda e: e["event"] == "offline")
        time.sleep(6)
        self.lab.link_up()
        events = w.until(lambda e: e["event"] == "url", timeout=20)
        kinds = [e["event"] for e in events]
        self.assertIn("online", kinds)
        self.assertIn("restarted", kinds)
        self.assertNotIn("backoff", kinds)
        restarted = [e for e in events if e["event"] == "restarted"][0]
        self.assertIn("after the network came back", restarted["reason"])
        self.assertNotEqual(events[-1]["url"], url)
        self.assertFalse(alive(pid))

    def test_offline_action_stop(self):
        a = self.agent_in_drone(config(network="offline_action = stop\n"))
        w = Watcher(a)
        pid, offline = self.connect_then_lose_route(a, w, "drone")
        self.assertIn("cloudflared stopped", offline["detail"])
        wait_until(lambda: not alive(pid), what="the child gone")
        time.sleep(1)
        t = self.status(a, "drone")
        self.assertEqual((t["state"], t["pid"], t["restarts"]), ("offline", None, 0))
        self.assertIn("waiting for the route", t["network"])
        self.lab.route_add()
        events = w.until(lambda e: e["event"] == "connected")
        kinds = [e["event"] for e in events]
        self.assertNotIn("exited", kinds)
        self.assertNotIn("backoff", kinds)
        self.assertIn("restarted", kinds)

    def test_udp_dropped(self):
        self.lab.drop_udp()
        a = self.agent_in_drone(config(network="quic_fallback_after = 3\n"), env={"FAKE_CF_QUIC_TIMEOUT_MS": "1000"})
        w = Watcher(a)
        start = time.monotonic()
        a.ok("start drone nowait")
        events = w.until(lambda e: e["event"] == "connected", timeout=40)
        took = time.monotonic() - start
        self.assertLess(took, 30 * SLOW)
        self.assertIn("protocol", [e["event"] for e in events])
        lines, _ = a.request("status drone")
        self.assertIn("protocol: http2 (quic blocked)", lines)
        t = self.status(a, "drone")
        self.assertEqual((t["protocol"], t["protocol_reason"]), ("http2", "quic blocked"))
        fams = metrics(a)
        self.assertEqual(sample(fams, "tether_tunnel_quic_blocked", tunnel="drone"), 1)
        self.assertEqual(sample(fams, "tether_tunnel_protocol_info", tunnel="drone", protocol="http2"), 1)
        self.assertTrue(any(r.startswith("registered tcp ") for r in self.lab.registrations()),
                        self.lab.registrations())

    def test_boot_without_a_route(self):
        self.lab.route_del()
        cfg = config(tunnels="[tunnel web]\ntype = quick\nport = 8080\nautostart = true\n")
        a = self.agent_in_drone(cfg)
        w = Watcher(a)
        wait_until(lambda: a.json("list")["tunnels"], what="the autostart tunnel")
        a.ok("start 8081 nowait")
        time.sleep(1)
        for t in a.json("list")["tunnels"]:
            self.assertEqual((t["state"], t["pid"]), ("offline", None), t)
        self.assertEqual(a.children(), [])
        self.lab.route_add()
        back = time.monotonic()
        wait_until(lambda: self.connected(a, "8080") and self.connected(a, "8081"), timeout=10,
                   what="both tunnels connected")
        self.assertLess(time.monotonic() - back, 3.0 * SLOW)
        for t in a.json("list")["tunnels"]:
            self.assertEqual(t["restarts"], 0, t)

    def test_spinning_child_is_paused(self):
        # HTTP/2 to a port nobody listens on, one static edge: the child
        # re-dials with no pause at all, as the real one does.
        cfg = ("[cloudflared]\nprotocol = http2\nextra_args = --edge %s:7845\n"
               "[watchdog]\nbackoff_initial_ms = 1500\nbackoff_max_ms = 3000\nstop_grace_s = 2\n"
               "[network]\nrequire = default-route\nspin_lines_per_s = 200\nspin_after_s = 2\n") % netlab.EDGE_IPS[0]
        a = self.agent_in_drone(cfg)
        w = Watcher(a)
        agent_before = cpu_ticks(a.pid())
        started = time.monotonic()
        a.ok("start 8080 nowait")
        events = w.until(lambda e: e["event"] == "spinning", timeout=15)
        self.assertIn("error lines/s", events[-1]["detail"])
        pid = self.status(a, "8080")["pid"]
        wait_until(lambda: proc_state(pid) == "T", what="the spinning child paused")
        lines, _ = a.request("status 8080")
        self.assertTrue(any(l.startswith("spinning: paused for ") for l in lines), lines)
        self.assertEqual(sample(metrics(a), "tether_tunnel_spinning", tunnel="8080"), 1)
        # Resumed after the delay, it spins again and is paused again: one
        # episode, logged and announced once.
        wait_until(lambda: proc_state(pid) != "T", timeout=10, what="the child resumed")
        wait_until(lambda: proc_state(pid) == "T", timeout=10, what="paused again")
        self.assertEqual(a.log().count("is spinning"), 1)
        time.sleep(0.5)
        self.assertEqual(self.status(a, "8080")["restarts"], 0)
        elapsed = time.monotonic() - started
        used = (cpu_ticks(a.pid()) - agent_before) / os.sysconf("SC_CLK_TCK")
        if not (VALGRIND or SANITIZED):  # instrumented, reading costs what the instruments cost
            self.assertLess(used, 0.5 * elapsed, "the agent spent %.2fs of CPU in %.1fs" % (used, elapsed))


if __name__ == "__main__":
    reexec_unprivileged()
    main()
