"""`make bench --only network` (bench/run.py): network-aware healing in the
network lab of the tests (test/integration/netlab.py), each figure next to
the bare fake cloudflared, unsupervised, in the same run and the same lab:

- route back -> Registered, 10 named tunnels: the default route is removed
  for 8 s (longer than the child's 5 s idle timeout, so every connection is
  dead) and added again; the time until each tunnel registers again. The
  bare process re-dials on its own random schedule (0-20 s after a lost
  connection, and backs off while it cannot dial), as the real one does.
  Four edge addresses, as after normal edge discovery.
- CPU while offline, 10 tunnels, one static edge each (the case where the
  real cloudflared re-dials with no pause): agent and children together, in
  % of one core, over 10 s without a default route.
- UDP blocked -> connected over HTTP/2: one named tunnel with protocol auto
  while the edge drops UDP; the bare process falls back by itself after 9
  QUIC failures (four edge addresses), as the real one does.

Needs root (network namespaces); otherwise the group says so and is skipped.
"""

import base64
import json
import os
import subprocess
import time
import uuid

import netlab
from harness import Client, fake_children, wait_until

TUNNELS = 10
EDGES4 = " ".join("--edge %s:7844" % ip for ip in netlab.EDGE_IPS)
EDGE1 = "--edge %s:7844" % netlab.EDGE_IPS[0]


def token():
    body = {"a": "0123456789abcdef0123456789abcdef", "t": str(uuid.uuid4()),
            "s": base64.b64encode(os.urandom(32)).decode()}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total


def core_percent(pids_fn, seconds):
    before, t0 = ticks(pids_fn()), time.monotonic()
    time.sleep(seconds)
    used = ticks(pids_fn()) - before
    return 100.0 * used / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)


class Bare:
    """n fake cloudflared processes in the drone namespace, no supervisor."""

    def __init__(self, build, lab, n, edges, env=None):
        self.dir = os.path.join(lab.dir, "bare-%d" % time.monotonic_ns())
        os.makedirs(self.dir)
        self.procs, self.logs = [], []
        fake = os.path.join(build, "test", "fakebin", "cloudflared")
        for i in range(n):
            log = os.path.join(self.dir, "%d.log" % i)
            e = dict(os.environ, FAKE_CF_DIAL="1", TUNNEL_TOKEN=token())
            e.update(env or {})
            with open(log, "wb") as out:
                self.procs.append(subprocess.Popen(
                    lab.exec_in(lab.drone, [fake, "tunnel", "--no-autoupdate"] + edges.split() + ["run"]),
                    env=e, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=out))
            self.logs.append(log)

    def registrations(self, i):
        with open(self.logs[i], "rb") as f:
            return f.read().count(b"Registered tunnel connection")

    def pids(self):
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


def agent_in(lab, run, config, env):
    class LabAgent(run.Agent):
        def command(self):
            return lab.exec_in(lab.drone, super().command())
    a = LabAgent(run.ARGS.build, config, env)
    return a.start()


def start_named(agent, names):
    c = Client(agent.socket, 60)
    c.send("".join("start %s nowait\n" % n for n in names))
    for _ in names:
        c.read_reply(60)
    c.close()


def connect_all(agent, names):
    start_named(agent, names)
    wait_until(lambda: all_connected(agent, names), 60, "%d tunnels connected" % len(names))


def lose_route(lab, agent):
    lab.route_del()
    wait_until(lambda: all(t["state"] == "offline" for t in states(agent).values()), 10, "every tunnel offline")


def states(agent):
    c = Client(agent.socket, 60)
    try:
        return {t["id"]: t for t in c.json("list")["tunnels"]}
    finally:
        c.close()


def all_connected(agent, names):
    s = states(agent)
    return all(n in s and s[n]["state"] == "running" and s[n]["connections"] > 0 for n in names)


def bench_network(args, report, run):
    why = netlab.usable()
    if why:
        print("network: skipped (%s)" % why)
        return
    run.ARGS = args
    names = ["drone%d" % i for i in range(TUNNELS)]
    tokens = {"CF_TUNNEL_TOKEN_DRONE%d" % i: token() for i in range(TUNNELS)}
    base = ("[cloudflared]\nmetrics = false\nextra_args = %s\n"
            "[watchdog]\nstop_grace_s = 2\n[network]\nrequire = default-route\n")

    # 1. route back -> Registered
    lab = netlab.Lab().setup()
    try:
        agent = agent_in(lab, run, base % EDGES4, dict(tokens, FAKE_CF_DIAL="1"))
        bare = Bare(args.build, lab, TUNNELS, EDGES4)
        try:
            connect_all(agent, names)
            wait_until(lambda: all(bare.registrations(i) for i in range(TUNNELS)), 30, "bare processes registered")
            lose_route(lab, agent)
            time.sleep(8)
            before = [bare.registrations(i) for i in range(TUNNELS)]
            watch = Client(agent.socket, 60)
            watch.send("json watch\n")
            watch.read_line()
            lab.route_add()
            t0 = time.monotonic()
            mine, theirs = {}, {}
            deadline = t0 + 120
            watch.sock.settimeout(0.02)
            while (len(mine) < TUNNELS or len(theirs) < TUNNELS) and time.monotonic() < deadline:
                try:
                    line = watch.read_line(0.02)
                    ev = json.loads(line) if line else {}
                    if ev.get("event") == "connected" and ev["id"] not in mine:
                        mine[ev["id"]] = time.monotonic() - t0
                except OSError:
                    pass
                for i in range(TUNNELS):
                    if i not in theirs and bare.registrations(i) > before[i]:
                        theirs[i] = time.monotonic() - t0
            watch.close()
        finally:
            bare.stop()
            agent.stop()
            agent.cleanup()
        worst = max(mine.values()) if len(mine) == TUNNELS else float("inf")
        bare_worst = max(theirs.values()) if len(theirs) == TUNNELS else 120.0
        report.add(run.Figure(
            "network.route_back_to_registered", worst, "s", "lower",
            peers=[("bare fake", bare_worst)], target=("<=", 2.0),
            samples={"tether": sorted(mine.values()), "bare": sorted(theirs.values())},
            note="10 named tunnels, 4 edge addresses, default route removed for 8 s then added; the slowest "
                 "tunnel's time to `Registered` (tether median %.2f s; bare median %.1f s, %d of 10 within "
                 "120 s)" % (sorted(mine.values())[len(mine) // 2] if mine else float("nan"),
                             sorted(theirs.values())[len(theirs) // 2] if theirs else float("nan"), len(theirs))))
    finally:
        lab.teardown()

    # 2. CPU while offline, one static edge
    lab = netlab.Lab().setup()
    try:
        agent = agent_in(lab, run, base % EDGE1, dict(tokens, FAKE_CF_DIAL="1"))
        try:
            connect_all(agent, names)
            lose_route(lab, agent)
            mine = core_percent(lambda: [agent.pid] + fake_children(agent.marker), 10)
        finally:
            agent.stop()
            agent.cleanup()
        lab.route_add()
        bare = Bare(args.build, lab, TUNNELS, EDGE1)
        try:
            wait_until(lambda: all(bare.registrations(i) for i in range(TUNNELS)), 30, "bare processes registered")
            lab.route_del()
            time.sleep(8)  # past the idle timeout and into the re-dials
            theirs = core_percent(bare.pids, 10)
        finally:
            bare.stop()
        report.add(run.Figure(
            "network.offline_cpu", mine, "%core", "lower", peers=[("bare fake", theirs)], target=("<=", 1.0),
            note="10 named tunnels with one static --edge each, no default route: CPU of the agent and its "
                 "children (paused) over 10 s, in % of one core; the bare processes re-dial with no pause "
                 "once their connection times out, as the real one does (it used 105% of a core alone)"))
    finally:
        lab.teardown()

    # 3. UDP blocked -> connected over HTTP/2
    lab = netlab.Lab().setup()
    try:
        lab.drop_udp()
        agent = agent_in(lab, run, base % EDGE1, dict(tokens, FAKE_CF_DIAL="1"))
        bare = None
        try:
            t0 = time.monotonic()
            bare = Bare(args.build, lab, 1, EDGES4)
            connect_all(agent, names[:1])
            mine = time.monotonic() - t0
            wait_until(lambda: bare.registrations(0), 240, "the bare process's own fallback")
            theirs = time.monotonic() - t0
        finally:
            if bare:
                bare.stop()
            agent.stop()
            agent.cleanup()
        report.add(run.Figure(
            "network.udp_blocked_to_http2", mine, "s", "lower", peers=[("bare fake", theirs)], target=("<=", 30.0),
            note="protocol auto while the edge drops UDP: start to `Registered` over HTTP/2 (QUIC dials time "
                 "out after 5 s; tether switches after 3, the bare process after 9 with four edge addresses; "
                 "the real one took 138-143 s)"))
    finally:
        lab.teardown()
