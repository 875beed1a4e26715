#!/usr/bin/python3
"""tether benchmarks: every figure of the performance section, each next to
what an operator would run instead (supervisord on the same fake cloudflared,
or a shell loop `while true; do cloudflared ...; sleep 1; done`).

    bench/run.py [--build DIR] [--json FILE] [--seq-sample N] [--only GROUP,...]

Run by `make bench` after a Release build in DIR (default build-release). It
prints one line per figure:

    name  value unit  [peer: value unit  xN]  [target: ... met|MISSED]

where xN says how many times better tether is than the peer (above 1:
tether is better; lower is better for times, memory and syscalls, higher
for rates). The same figures, with the raw samples, go to FILE as JSON
(default DIR/bench.json). Every figure comes from a measurement made in
this run; nothing is remembered from earlier runs.

--only runs some of the groups: scan, startup, supervision (memory, idle
system calls, control plane, and the peers' respawn times), respawn,
provision, routes (children and their memory, one tunnel per service
against one tunnel with many routes), flash (what the agent writes to its state directory), network
(bench/network.py; needs root).

Standard library only. Needs supervisord and strace (scripts/deps.sh bench).
"""

import argparse
import base64
import concurrent.futures
import contextlib
import json
import math
import multiprocessing
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xmlrpc.client

SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SOURCE, "test", "integration"))
from harness import Client, FakeServer, fake_children, wait_until  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import network  # noqa: E402

MIB = 1024 * 1024
TMPFS = "/dev/shm" if os.path.isdir("/dev/shm") else None
API_TOKEN = "bench-api-token-5d2f8e1a"
URL_LINE = re.compile(rb"https://[a-z0-9-]+\.trycloudflare\.com")


# ---------------------------------------------------------------------------
# Figures and their report

class Figure:
    """One measured number, its peers and its target.

    better is "lower" or "higher"; target is (op, value) with op "<=" or ">=",
    or None. Peers are (label, value) in the figure's unit."""

    def __init__(self, name, value, unit, better, peers=(), target=None, note="", samples=None):
        self.name, self.value, self.unit, self.better = name, value, unit, better
        self.peers, self.target, self.note = list(peers), target, note
        self.samples = samples

    def ratio(self, peer):
        """How many times better tether is than peer (inf when tether is 0)."""
        mine, theirs = (self.value, peer) if self.better == "higher" else (peer, self.value)
        if theirs == 0:
            return float("inf") if mine > 0 else 1.0
        return mine / theirs

    def met(self):
        if self.target is None:
            return None
        op, want = self.target
        return self.value <= want if op == "<=" else self.value >= want

    def line(self):
        out = "%-34s %12s %-8s" % (self.name, fmt(self.value), self.unit)
        if self.peers:
            out += "  peer: " + ", ".join("%s %s %s x%s" % (label, fmt(v), self.unit, fmt(self.ratio(v)))
                                          for label, v in self.peers)
        if self.target is not None:
            out += "  target: %s %s %s %s" % (self.target[0], fmt(self.target[1]), self.unit,
                                              "met" if self.met() else "MISSED")
        return out

    def as_json(self):
        j = {"name": self.name, "value": self.value, "unit": self.unit, "better": self.better,
             "peers": [{"label": l, "value": v, "ratio": self.ratio(v)} for l, v in self.peers],
             "note": self.note}
        if self.target is not None:
            j["target"] = {"op": self.target[0], "value": self.target[1], "met": self.met()}
        if self.samples is not None:
            j["samples"] = self.samples
        return j


def fmt(x):
    if x == float("inf"):
        return "inf"
    if isinstance(x, int) or x == int(x) and abs(x) >= 100:
        return "%d" % x
    return "%.3g" % x if abs(x) < 100 else "%.0f" % x


class Report:
    """Prints each figure's line as soon as it is measured; the notes on how
    they were measured come after the table, so that it stays one line each."""

    def __init__(self):
        self.figures = []

    def add(self, figure):
        self.figures.append(figure)
        print(figure.line(), flush=True)

    def print_notes(self):
        print("\nHow the figures were measured:")
        for f in self.figures:
            if f.note:
                print("  %s: %s" % (f.name, f.note))


def percentile(samples, p):
    """Nearest-rank percentile."""
    s = sorted(samples)
    return s[max(1, math.ceil(p / 100.0 * len(s))) - 1]


# ---------------------------------------------------------------------------
# Processes and what the kernel says about them

def smaps(pid):
    """Private_Dirty, Rss and Pss of one process in bytes (children not included)."""
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Private_Dirty", "Rss", "Pss"):
                out[key] = int(rest.split()[0]) * 1024
    return out


def listen_overflows():
    """SYNs dropped machine-wide because a listen queue was full."""
    with open("/proc/net/netstat") as f:
        head, values = [l.split() for l in f.readlines()[:2]]
    return int(values[head.index("ListenOverflows")])


def cpu_seconds(pid):
    """User and system CPU time used so far by one process."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_syscalls(pids, seconds, out_path):
    """System calls made by pids (and their threads) in `seconds`, counted by
    `strace -c -f`. Returns (total, {syscall: calls}).

    restart_syscall is left out: it is strace's own doing (attaching
    interrupts a sleeping poll with a timeout, which the kernel then resumes),
    not a wake-up of the process."""
    cmd = ["strace", "-c", "-f", "-o", out_path]
    for p in pids:
        cmd += ["-p", str(p)]
    tracer = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # strace says "Process N attached" once it is in place; count from then.
    attached = 0
    while attached < len(pids):
        line = tracer.stderr.readline()
        if not line:
            raise RuntimeError("strace exited before attaching: %s" % tracer.wait())
        attached += b"attached" in line
    time.sleep(seconds)
    tracer.send_signal(signal.SIGINT)  # strace detaches from every tracee, then prints the summary
    tracer.communicate(timeout=30)
    for p in pids:  # a tracee left stopped would be a bench bug
        with open("/proc/%d/status" % p) as f:
            if "TracerPid:\t0\n" not in f.read():
                raise RuntimeError("strace did not detach from %d" % p)
    calls = {}
    with open(out_path) as f:
        for line in f:
            cols = line.split()
            # "% time  seconds  usecs/call  calls  [errors]  syscall"
            if len(cols) >= 5 and cols[-1] not in ("total", "syscall") and cols[3].isdigit():
                calls[cols[-1]] = int(cols[3])
    calls.pop("restart_syscall", None)
    return sum(calls.values()), calls


def spawn_log(path):
    """[(pid, realtime_ns, port)] of every fake cloudflared spawn so far."""
    out = []
    with contextlib.suppress(FileNotFoundError), open(path) as f:
        for line in f:
            cols = line.split()
            if len(cols) >= 4 and cols[-1].startswith("http://localhost:"):
                out.append((int(cols[0]), int(cols[1]), int(cols[-1].rsplit(":", 1)[1])))
    return out


def wait_spawn(path, port, not_pid, timeout=10.0):
    """The first spawn for port by a process other than not_pid."""
    def find():
        for pid, ts, p in spawn_log(path):
            if p == port and pid != not_pid:
                return pid, ts
        return None
    return wait_until(find, timeout, "a new cloudflared for port %d" % port, interval=0.0005)


def latest_pid(path, port):
    return [pid for pid, _, p in spawn_log(path) if p == port][-1]


def host_has_default_route():
    """An IPv4 or IPv6 default route in this namespace's main table."""
    with contextlib.suppress(OSError), open("/proc/net/route") as f:
        if any(l.split()[1] == "00000000" for l in list(f)[1:] if len(l.split()) > 1):
            return True
    with contextlib.suppress(OSError), open("/proc/net/ipv6_route") as f:
        for l in f:
            w = l.split()
            if len(w) >= 10 and w[0] == "0" * 32 and w[1] == "00" and not int(w[8], 16) & 0x0200:
                return True
    return False


def kill_leftovers(marker):
    """Fake cloudflared processes of one subject still alive after its stop."""
    left = fake_children(marker)
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return left


class Subject:
    """Common part of the three supervisors under test: a private directory,
    the fake cloudflared's spawn log, and a marker to find its children."""

    def __init__(self, build, prefix):
        self.build = build
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.spawn_log = os.path.join(self.dir, "spawn.log")
        self.marker = os.path.basename(self.dir)
        self.fake = os.path.join(build, "test", "fakebin", "cloudflared")
        self.env = dict(os.environ, FAKE_CF_SPAWN_LOG=self.spawn_log, FAKE_CF_TESTID=self.marker,
                        PATH=os.path.dirname(self.fake) + ":" + os.environ.get("PATH", "/usr/bin:/bin"))

    def cleanup(self):
        left = kill_leftovers(self.marker)
        if left:
            print("bench: warning: %s left fake cloudflared processes %s" % (self.marker, left), file=sys.stderr)
        shutil.rmtree(self.dir, ignore_errors=True)


class Agent(Subject):
    """tetherd from the Release build on a private socket and state directory."""

    def __init__(self, build, config="", env=None):
        """config: INI text added to the file; @DIR@ stands for the agent's directory."""
        super().__init__(build, "tether-bench-")
        self.socket = os.path.join(self.dir, "tether.sock")
        self.config = os.path.join(self.dir, "tether.ini")
        # The state file is fsync'ed at every change. Its default directory,
        # /run/tether, is a tmpfs on every init system, where fsync costs
        # nothing; on this machine's disk it would add a millisecond or more
        # to each respawn and URL event. So the state goes to a tmpfs too.
        self.state_dir = os.path.join(tempfile.mkdtemp(prefix="tether-bench-state-", dir=TMPFS), "state")
        # max_clients: the provisioning benchmark holds 100 connections at once.
        with open(self.config, "w") as f:
            # pass_env: children get only an allow-list of the environment.
            # Measured as shipped (watching the routing table: the idle
            # figures include the netlink socket), unless this machine has
            # no default route, which would hold every tunnel back. The
            # network group brings its own lab and [network].
            network = "" if "[network]" in config or host_has_default_route() else "[network]\nrequire = none\n"
            f.write("[agent]\nmax_clients = 200\n[cloudflared]\npass_env = FAKE_CF_*\n" +
                    config.replace("@DIR@", self.dir) + network)
        self.knobs_dir = os.path.join(self.dir, "knobs")
        os.mkdir(self.knobs_dir)
        self.env.update(env or {}, FAKE_CF_KNOBS_DIR=self.knobs_dir)
        self.log = open(os.path.join(self.dir, "agent.log"), "ab")
        self.proc = None

    def command(self):
        return [os.path.join(self.build, "tetherd"), "-c", self.config, "--socket", self.socket,
                "--state-dir", self.state_dir]

    def launch(self):
        self.proc = subprocess.Popen(self.command(), env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def start(self):
        self.launch()
        wait_until(self.answers, what="tetherd to answer")
        return self

    def answers(self):
        """True once a ping is answered on a fresh connection."""
        if self.proc.poll() is not None:
            raise RuntimeError("tetherd exited with %s; see %s" % (self.proc.returncode, self.log.name))
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.socket)
                s.sendall(b"ping\n")
                return s.recv(64).startswith(b"OK pong")
            finally:
                s.close()
        except OSError:
            return False

    def request(self, line, timeout=60.0):
        c = Client(self.socket, timeout)
        try:
            return c.request(line, timeout)
        finally:
            c.close()

    def knobs(self, port, **values):
        """Behaviour of the fake cloudflared for one tunnel, read at its next spawn."""
        with open(os.path.join(self.knobs_dir, str(port)), "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in values.items()))

    def start_tunnels(self, ids):
        """Starts tunnels (ports or names) and waits until every tunnel of the
        agent is running."""
        c = Client(self.socket, 60)
        c.send("".join("start %s nowait\n" % i for i in ids))
        for i in ids:
            _, status = c.read_reply(60)
            if not status.startswith("OK"):
                raise RuntimeError("start %s: %s" % (i, status))
        c.close()

        def tunnel_lines():
            # A tunnel's further host names are indented lines under it.
            return [l for l in self.request("list")[0][1:] if not l.startswith(" ")]
        want = len(tunnel_lines())

        def all_running():
            lines = tunnel_lines()
            return len(lines) == want and all(l.split()[2] == "running" for l in lines)
        wait_until(all_running, 60, "%d tunnels running" % want)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.log.close()
        shutil.rmtree(os.path.dirname(self.state_dir), ignore_errors=True)
        self.cleanup()


class Supervisord(Subject):
    """supervisord in the foreground running one fake quick tunnel per port
    with autorestart, its own control socket, pid file and log directory."""

    def __init__(self, build, ports, start=True):
        super().__init__(build, "tether-bench-supervisord-")
        self.socket = os.path.join(self.dir, "supervisor.sock")
        self.config = os.path.join(self.dir, "supervisord.conf")
        lines = ["[unix_http_server]", "file=" + self.socket,
                 "[supervisord]", "pidfile=" + os.path.join(self.dir, "supervisord.pid"),
                 "logfile=" + os.path.join(self.dir, "supervisord.log"), "childlogdir=" + self.dir,
                 "user=root" if os.getuid() == 0 else "",
                 "[rpcinterface:supervisor]",
                 "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface"]
        # The program's output goes to supervisord's default AUTO log files,
        # as an operator would leave it. (With /dev/null there is no pipe to
        # wake supervisord up when a child dies, and its respawn takes longer.)
        for p in ports:
            lines += ["[program:t%d]" % p,
                      "command=%s tunnel --no-autoupdate --url http://localhost:%d" % (self.fake, p),
                      "autorestart=true", "startsecs=0"]
        with open(self.config, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.ports = list(ports)
        self.out = open(os.path.join(self.dir, "supervisord.out"), "ab")
        self.proc = None
        if start:
            self.launch()
            wait_until(self.all_running, 60, "supervisord to run %d programs" % len(self.ports))

    def launch(self):
        self.proc = subprocess.Popen(["supervisord", "-n", "-c", self.config], env=self.env,
                                     stdin=subprocess.DEVNULL, stdout=self.out, stderr=subprocess.STDOUT)

    def rpc(self):
        return xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(self.socket))

    def answers(self):
        """True once supervisord answers getState over XML-RPC."""
        if self.proc.poll() is not None:
            raise RuntimeError("supervisord exited with %s" % self.proc.returncode)
        try:
            return self.rpc().supervisor.getState()["statename"] == "RUNNING"
        except OSError:
            return False

    def all_running(self):
        if not self.answers():
            return False
        infos = self.rpc().supervisor.getAllProcessInfo()
        return len(infos) == len(self.ports) and all(i["statename"] == "RUNNING" for i in infos)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.out.close()
        self.cleanup()


class UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over supervisord's Unix socket (what supervisorctl does)."""

    def __init__(self, path):
        super().__init__()
        self.path = path

    def make_connection(self, host):
        conn = super().make_connection(host)
        path = self.path

        def connect():
            conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.sock.connect(path)
        conn.connect = connect
        return conn


class ShellLoops(Subject):
    """One `/bin/sh` per tunnel: while true; do cloudflared ...; sleep 1; done."""

    def __init__(self, build, ports):
        super().__init__(build, "tether-bench-sh-")
        self.ports = list(ports)
        self.procs = [subprocess.Popen(
            ["/bin/sh", "-c", "while true; do cloudflared tunnel --no-autoupdate --url http://localhost:%d; "
             "sleep 1; done" % p], env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True) for p in self.ports]
        wait_until(lambda: len(spawn_log(self.spawn_log)) >= len(self.ports), 30, "shell loops to start")

    @property
    def pids(self):
        return [p.pid for p in self.procs]

    def stop(self):
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
            p.wait(10)
        self.cleanup()


def settle():
    """Lets the last start-up work (state file writes, child output) finish
    before a measurement of the idle state."""
    time.sleep(1.0)


# ---------------------------------------------------------------------------
# Benchmarks

def bench_scan(args, report):
    captures = sorted(os.path.join(SOURCE, "test", "data", f) for f in os.listdir(os.path.join(SOURCE, "test", "data"))
                      if f.startswith("cloudflared-") and f.endswith(".log"))
    out = subprocess.run([os.path.join(args.build, "bench", "scan_bench"), "--mb", "200", "--rounds", "3"] + captures,
                         check=True, capture_output=True, text=True).stdout.split()
    report.add(Figure("scan.throughput", float(out[0]), "MB/s", "higher", target=(">=", 200),
                      note="LineSplitter + scan_line over %s lines of the real captures, 200 MB, best of 3"
                           % out[2]))


def time_to_answer(subject):
    """Milliseconds from launching subject to its first answer, then stops it.
    Polled every 0.2 ms: finer than the figure needs, and on two cores a busy
    loop here would take the CPU the starting process needs."""
    t0 = time.perf_counter()
    subject.launch()
    while not subject.answers():
        time.sleep(0.0002)
    elapsed = (time.perf_counter() - t0) * 1000
    subject.stop()
    return elapsed


def bench_startup(args, report):
    samples = [time_to_answer(Agent(args.build)) for _ in range(20)]
    peer = [time_to_answer(Supervisord(args.build, [], start=False)) for _ in range(5)]
    report.add(Figure("startup.exec_to_ping", statistics.median(samples), "ms", "lower",
                      peers=[("supervisord", statistics.median(peer))], target=("<=", 20), samples=samples,
                      note="exec to the first answered ping, no tunnels, median of 20, fastest %.1f ms "
                           "(supervisord: to getState over XML-RPC, median of 5)" % min(samples)))


def bench_supervision(args, report):
    """One agent for memory, idle cost and the control plane, as its tunnels
    go from 0 to 10 to 100."""
    agent = Agent(args.build).start()
    try:
        sup = bench_memory_and_idle(args, report, agent)
        try:
            bench_control(args, report, agent, sup)
        finally:
            sup.stop()
    finally:
        agent.stop()


def bench_memory_and_idle(args, report, agent):
    """Memory with 0, 10 and 100 tunnels, and idle system calls with 10,
    each next to supervisord and the shell loops with as many programs."""
    sup1 = Supervisord(args.build, [20001])
    settle()
    m0, p1 = smaps(agent.pid), smaps(sup1.pid)
    sup1.stop()
    report.add(Figure("memory.idle.private_dirty", m0["Private_Dirty"] / MIB, "MiB", "lower",
                      peers=[("supervisord(1 program)", p1["Private_Dirty"] / MIB)], target=("<=", 2),
                      note="no tunnel, 1 s after start; /proc/PID/smaps_rollup of the supervising process "
                           "only, children excluded (for every memory figure)"))
    report.add(Figure("memory.idle.rss", m0["Rss"] / MIB, "MiB", "lower",
                      peers=[("supervisord(1 program)", p1["Rss"] / MIB)]))

    ports10 = list(range(10001, 10011))
    agent.start_tunnels(ports10)
    sup, sh = Supervisord(args.build, [p + 10000 for p in ports10]), ShellLoops(args.build, [p + 20000 for p in ports10])
    settle()
    add_memory(report, "memory.10_tunnels", agent, sup, sh, 10, None)

    # All three at once: a count does not depend on sharing the CPU.
    with concurrent.futures.ThreadPoolExecutor() as pool:
        counts = {k: pool.submit(count_syscalls, pids, 10, os.path.join(agent.dir, "strace-%s.txt" % k))
                  for k, pids in (("agent", [agent.pid]), ("supervisord", [sup.pid]), ("sh", sh.pids))}
    results = {k: f.result() for k, f in counts.items()}
    total, calls = results["agent"]
    report.add(Figure("idle.syscalls_10s", total, "calls", "lower",
                      peers=[("supervisord", results["supervisord"][0]), ("sh loops", results["sh"][0])],
                      target=("<=", 0),
                      note="10 running tunnels, no client, strace -c -f for 10 s (restart_syscall, which "
                           "strace's attaching causes, not counted); agent: %s; supervisord: %s"
                           % (calls or "none", results["supervisord"][1])))

    respawn_peer(sup, sh)
    sup.stop()
    sh.stop()

    ports100 = list(range(10011, 10101))
    agent.start_tunnels(ports100)
    sup = Supervisord(args.build, [p + 10000 for p in ports10 + ports100])
    sh = ShellLoops(args.build, [p + 20000 for p in ports10 + ports100])
    settle()
    add_memory(report, "memory.100_tunnels", agent, sup, sh, 100, 4)
    sh.stop()

    # A week later: every tunnel's log ring is full. Each child is restarted
    # once with the fake printing 300 error lines, more than a ring keeps.
    for p in ports10 + ports100:
        agent.knobs(p, FAKE_CF_FLOOD_LINES=300)
    c = Client(agent.socket, 120)
    c.send("".join("restart %d\n" % p for p in ports10 + ports100))
    for _ in ports10 + ports100:
        c.read_reply(120)
    c.close()
    # Full: the flood lines take more than 7/8 of the ring's 8 KiB.
    wait_until(lambda: sum(len(l) + 1 for l in agent.request("logs %d 1000" % ports100[-1])[0]) > 7 * 1024, 30,
               "the last log ring to fill")
    settle()
    mine, theirs = smaps(agent.pid), smaps(sup.pid)
    ring = agent.request("logs %d 1000" % ports100[-1])[0]
    report.add(Figure("memory.100_full_logs.private_dirty", mine["Private_Dirty"] / MIB, "MiB", "lower",
                      peers=[("supervisord", theirs["Private_Dirty"] / MIB)], target=("<=", 4),
                      note="100 tunnels whose log rings are full (%d lines, %d bytes each), as after days of "
                           "output; supervisord writes its logs to files" % (len(ring), sum(map(len, ring)))))
    return sup


def add_memory(report, name, agent, sup, sh, n, target_mib):
    mine, theirs = smaps(agent.pid), smaps(sup.pid)
    loops = [smaps(p) for p in sh.pids]
    for key, label in (("Private_Dirty", "private_dirty"), ("Rss", "rss")):
        report.add(Figure(
            "%s.%s" % (name, label), mine[key] / MIB, "MiB", "lower",
            peers=[("supervisord", theirs[key] / MIB), ("%d sh loops" % n, sum(l[key] for l in loops) / MIB)],
            target=("<=", target_mib) if target_mib and key == "Private_Dirty" else None,
            note="%d quick tunnels all running, 1 s later; sh loops: the sum over the %d shells (their Rss "
                 "counts the pages they share once per shell)" % (n, n) if key == "Private_Dirty" else ""))


# Filled by respawn_peer, reported by bench_respawn next to the agent's figure.
PEER_RESPAWN = {}


def respawn_peer(sup, sh):
    """Kill -> replacement spawned, for supervisord (autorestart) and the shell
    loop. supervisord reaps a dead child once its pipes close but starts the
    replacement on a later pass of its loop, which polls with a 1 s timeout;
    kills in quick succession find it awake for the previous replacement's
    output and look faster than a crash would. Hence a random pause first."""
    for label, subject, ports in (("supervisord", sup, sup.ports), ("sh loop", sh, sh.ports[:3])):
        samples = []
        for port in ports:
            time.sleep(random.random())
            old = latest_pid(subject.spawn_log, port)
            t_kill = time.time_ns()
            os.kill(old, signal.SIGKILL)
            _, ts = wait_spawn(subject.spawn_log, port, old)
            samples.append((ts - t_kill) / 1e6)
        PEER_RESPAWN[label] = samples


def fake_url_offsets(agent, argv, runs=7):
    """For the fake cloudflared started by hand with the agent's argv: time
    from its spawn-log timestamp until its URL line can be read from its
    stderr. The agent's URL event latency is measured against the same
    timestamp, so this is the part that belongs to the fake and the pipe."""
    argv = [a for i, a in enumerate(argv) if a != "--metrics" and (i == 0 or argv[i - 1] != "--metrics")]
    offsets = []
    for _ in range(runs):
        log = os.path.join(agent.dir, "direct-spawn.log")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(log)
        p = subprocess.Popen(argv, env=dict(agent.env, FAKE_CF_SPAWN_LOG=log), stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        buf = b""
        while not URL_LINE.search(buf):
            chunk = os.read(p.stderr.fileno(), 65536)
            arrived = time.time_ns()
            if not chunk:
                raise RuntimeError("the fake cloudflared exited before its URL")
            buf += chunk
        p.kill()
        p.wait()
        p.stderr.close()
        offsets.append((arrived - spawn_log(log)[0][1]) / 1e6)
    return offsets


def bench_respawn(args, report):
    agent = Agent(args.build, "[watchdog]\nbackoff_initial_ms = 1\n").start()
    try:
        ports = list(range(30001, 30008))
        agent.start_tunnels(ports)
        watch = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        watch.connect(agent.socket)
        watch.sendall(b"watch\n")
        pending = b""
        while b"OK watching\n" not in pending:
            pending += watch.recv(65536)
        pending = pending.split(b"OK watching\n", 1)[1]
        spawned, url_event, url_after_spawn = [], [], []
        for port in ports:  # each tunnel's first restart, so the backoff is the initial one
            old = latest_pid(agent.spawn_log, port)
            t_kill = time.time_ns()
            os.kill(old, signal.SIGKILL)
            want = b" %d url https://" % port
            arrived = None
            while arrived is None:
                chunk = watch.recv(65536)
                now = time.time_ns()
                if not chunk:
                    raise RuntimeError("the watch stream ended")
                pending += chunk
                *lines, pending = pending.split(b"\n")
                if any(want in l for l in lines):
                    arrived = now
            _, ts = wait_spawn(agent.spawn_log, port, old)
            spawned.append((ts - t_kill) / 1e6)
            url_event.append((arrived - t_kill) / 1e6)
            url_after_spawn.append((arrived - ts) / 1e6)
        watch.close()
        with open(agent.spawn_log) as f:
            argv = f.readline().split()[3:]
        offsets = fake_url_offsets(agent, argv)
    finally:
        agent.stop()
    peers = sorted((label, statistics.median(s)) for label, s in PEER_RESPAWN.items())
    spread = "".join("; %s: %d kills, %.0f to %.0f ms" % (label, len(s), min(s), max(s))
                     for label, s in sorted(PEER_RESPAWN.items()))
    report.add(Figure("respawn.kill_to_spawn", statistics.median(spawned), "ms", "lower", peers=peers,
                      target=("<=", 50), samples={"tether": spawned, **PEER_RESPAWN},
                      note="SIGKILL of a child to its replacement's first line of main() (spawn log), first "
                           "restart, backoff_initial_ms = 1, median of %d, %.1f to %.1f ms%s"
                           % (len(spawned), min(spawned), max(spawned), spread)))
    report.add(Figure("respawn.kill_to_url_event", statistics.median(url_event), "ms", "lower", samples=url_event,
                      note="SIGKILL to the new URL's event read on a `watch` connection; no peer reports URLs"))
    latency = statistics.median(url_after_spawn) - statistics.median(offsets)
    report.add(Figure("respawn.url_write_to_event", latency, "ms", "lower", target=("<=", 5),
                      samples={"spawn_to_event": url_after_spawn, "spawn_to_url_read_direct": offsets},
                      note="median(spawn -> watch event) %.3g ms minus median(spawn -> URL line read straight "
                           "from the fake's stderr) %.3g ms" % (statistics.median(url_after_spawn),
                                                               statistics.median(offsets))))


def bench_control(args, report, agent, sup):
    """Pipelined pings on one connection, and `list` latency from 10
    concurrent clients with 100 tunnels; supervisord's XML-RPC alongside."""
    n = 200000
    rate, size = pipelined(agent.socket, b"ping\n" * n, n, b"\n")
    if size != n * len(b"OK pong\n"):
        raise RuntimeError("%d pings got %d bytes of replies, not %d x 'OK pong'" % (n, size, n))
    body = xmlrpc.client.dumps((), "supervisor.getState").encode()
    rpc = (b"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n"
           % len(body)) + body
    peer = pipelined(sup.socket, rpc * 2000, 2000, b"</methodResponse>")[0]
    report.add(Figure("control.ping_pipelined", rate, "req/s", "higher", peers=[("supervisord getState", peer)],
                      target=(">=", 50000), note="%d pings in big writes on one connection, replies read "
                                                  "concurrently (supervisord: 2000 pipelined XML-RPC calls)" % n))

    # Clients and agent share two cores, so one round's tail is mostly who
    # the scheduler ran: the figure is the median of 5 rounds' p99s.
    alone = statistics.median(list_load(args.build, agent.socket, 1, 200))
    cpu, t0 = cpu_seconds(agent.pid), time.perf_counter()
    rounds = [list_load(args.build, agent.socket, 10, 200) for _ in range(5)]
    busy = (cpu_seconds(agent.pid) - cpu) / (time.perf_counter() - t0)
    p99s = sorted(percentile(r, 99) for r in rounds)
    mine = [ms for r in rounds for ms in r]
    theirs = concurrent_latencies(supervisord_list, sup.socket, clients=10, each=20)
    report.add(Figure("control.list_p50", percentile(mine, 50), "ms", "lower",
                      peers=[("supervisord getAllProcessInfo", percentile(theirs, 50))]))
    report.add(Figure("control.list_p99", statistics.median(p99s), "ms", "lower",
                      peers=[("supervisord getAllProcessInfo", percentile(theirs, 99))],
                      target=("<=", 2), samples=rounds,
                      note="100 tunnels, 10 concurrent clients (bench/list_load.cpp, threads) x 200 sequential "
                           "`list`, median of 5 rounds' p99 (%s ms); supervisord: 10 Python processes x 20; one "
                           "client alone: median %.2f ms; the agent was on the CPU %.0f%% of the time"
                           % (", ".join("%.2f" % x for x in p99s), alone, busy * 100)))


def pipelined(path, payload, replies, marker):
    """(requests per second, bytes received): payload written in big chunks
    by a thread while this one reads until `replies` markers have come back."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    writer = threading.Thread(target=s.sendall, args=(payload,))
    got, size, tail = 0, 0, b""
    t0 = time.perf_counter()
    writer.start()
    while got < replies:
        chunk = s.recv(1 << 20)
        if not chunk:
            raise RuntimeError("connection closed after %d of %d replies" % (got, replies))
        size += len(chunk)
        data = tail + chunk
        got += data.count(marker)
        tail = data[-(len(marker) - 1):] if len(marker) > 1 else b""
    elapsed = time.perf_counter() - t0
    writer.join()
    s.close()
    return replies / elapsed, size


def list_load(build, path, clients, each):
    """Latencies in ms of `list` from bench/list_load (C++ client threads)."""
    out = subprocess.run([os.path.join(build, "bench", "list_load"), path, str(clients), str(each)],
                         check=True, capture_output=True, text=True).stdout
    return [float(x) for x in out.split()]


def supervisord_list(path, each, start):
    proxy = xmlrpc.client.ServerProxy("http://localhost", transport=UnixTransport(path))
    proxy.supervisor.getState()  # connect before the clock starts, like the agent's clients
    start.wait()
    out = []
    for _ in range(each):
        t0 = time.perf_counter()
        proxy.supervisor.getAllProcessInfo()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def concurrent_latencies(fn, path, clients, each):
    """Latencies in ms from `clients` processes (not threads: no GIL in the
    figure) calling fn at the same time."""
    ctx = multiprocessing.get_context("fork")
    start, results = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=lambda: results.put(fn(path, each, start))) for _ in range(clients)]
    for p in procs:
        p.start()
    time.sleep(0.5)  # every client connected
    start.set()
    out = []
    for _ in procs:
        out += results.get(timeout=300)
    for p in procs:
        p.join()
    return out


def provision_agent(args, api, limits=""):
    """An agent provisioning against the fake API; `limits` overrides the
    shipped client-side API limits."""
    return Agent(args.build, "[cloudflare]\napi_base = %s/client/v4\nzone = example.com\n"
                 "env_file = @DIR@/tunnels.env\n%s" % (api.base, limits),
                 env={"CLOUDFLARE_API_TOKEN": API_TOKEN}).start()


def send_provisions(conns, prefix, timeout):
    """One provision per connection, all sent at once: (replies, seconds)."""
    t0 = time.perf_counter()
    for i, c in enumerate(conns):
        c.send("provision %s%d\n" % (prefix, i))
    replies = [c.read_reply(timeout)[1] for c in conns]
    elapsed = time.perf_counter() - t0
    for c in conns:
        c.close()
    return replies, elapsed


def check_provisioned(replies, what):
    failed = [r for r in replies if not r.startswith("OK provisioned")]
    if failed:
        raise RuntimeError("%d %s failed, e.g. %s" % (len(failed), what, failed[0]))


def bench_provision(args, report):
    """100 provisions of new names against the fake API with 50 ms per
    request: all at once (one connection each), then one after the other."""
    api = FakeServer("fake_cfapi.py", "--token", API_TOKEN, "--zone", "example.com")
    agent = None
    try:
        api.admin("latency", {"ms": 50})
        # The client-side limits (4 requests/s, 4 jobs) would measure
        # themselves; the figure is the agent's concurrency.
        agent = provision_agent(args, api, "requests_per_s = 1000\nmax_jobs = 1000\n")
        n = 100
        conns = [Client(agent.socket, 120) for _ in range(n)]
        overflows, fake_cpu = listen_overflows(), cpu_seconds(api.proc.pid)
        replies, concurrent = send_provisions(conns, "drone-c", 120)
        fake_cpu, overflows = cpu_seconds(api.proc.pid) - fake_cpu, listen_overflows() - overflows
        per_provision = len(api.admin("requests")["requests"]) / n
        seq_n = min(args.seq_sample, n)
        c = Client(agent.socket, 120)
        t0 = time.perf_counter()
        for i in range(seq_n):
            replies.append(c.request("provision drone-s%d" % i, 120)[1])
        sequential = (time.perf_counter() - t0) * n / seq_n
        c.close()
    finally:
        if agent:
            agent.stop()
        api.stop()
    check_provisioned(replies, "provisions")
    label = "sequential" if seq_n == n else "sequential (%d made, x%g)" % (seq_n, n / seq_n)
    report.add(Figure("provision.100_concurrent", concurrent, "s", "lower", peers=[(label, sequential)],
                      samples={"api_requests_per_provision": per_provision, "fake_api_cpu_s": fake_cpu,
                               "listen_overflows": overflows},
                      note="%.0f API requests per provision, 50 ms each: %.2f s for one alone; the fake API "
                           "used %.2f s of CPU (a Python thread per request) and %d connects overflowed a "
                           "listen queue" % (per_provision, per_provision * 0.050, fake_cpu, overflows)))
    report.add(Figure("provision.speedup", sequential / concurrent, "x", "higher", target=(">=", 20),
                      note="100 sequential / 100 concurrent wall time"))
    bench_provision_limited(args, report)
    bench_provision_routes(args, report)


def bench_provision_limited(args, report):
    """The same 100 provisions under the shipped client-side limits (4
    requests/s, 4 jobs at once): what a fleet script meets, and proof that
    the agent stays under Cloudflare's 1200 requests per 5 minutes."""
    api = FakeServer("fake_cfapi.py", "--token", API_TOKEN, "--zone", "example.com")
    agent = None
    n = 100
    try:
        api.admin("latency", {"ms": 50})
        agent = provision_agent(args, api)
        replies, elapsed = send_provisions([Client(agent.socket, 900) for _ in range(n)], "drone-l", 900)
        requests = len(api.admin("requests")["requests"])
    finally:
        if agent:
            agent.stop()
        api.stop()
    check_provisioned(replies, "limited provisions")
    rate = requests / elapsed
    report.add(Figure("provision.100_limited", elapsed, "s", "lower",
                      samples={"api_requests": requests, "requests_per_s": rate},
                      note="default limits: %d API requests in %.0f s, %.2f requests/s (Cloudflare allows 4/s per "
                           "token, 1200 per 5 minutes)" % (requests, elapsed, rate)))
    report.add(Figure("provision.limited_rate", rate, "requests/s", "lower", target=("<=", 4),
                      note="API requests per second under the default requests_per_s = 4"))


def bench_provision_routes(args, report):
    """One tunnel with 10 routes provisioned against the fake API with 50 ms
    per request: its ingress and a CNAME per host name, then again with
    everything in place (reads only)."""
    api = FakeServer("fake_cfapi.py", "--token", API_TOKEN, "--zone", "example.com")
    agent = None
    n = 10
    routes = "".join("route = r%d.example.com -> http://localhost:%d\n" % (i, 8000 + i) for i in range(n))
    try:
        api.admin("latency", {"ms": 50})
        agent = provision_agent(args, api, "requests_per_s = 1000\n[tunnel multi]\n" + routes)
        c = Client(agent.socket, 120)
        t0 = time.perf_counter()
        first = c.request("provision multi", 120)[1]
        elapsed = time.perf_counter() - t0
        requests = len(api.admin("requests")["requests"])
        t0 = time.perf_counter()
        again = c.request("provision multi", 120)[1]
        repeat = time.perf_counter() - t0
        c.close()
        cnames = [r for r in api.admin("state")["dns_records"] if r["type"] == "CNAME"]
    finally:
        if agent:
            agent.stop()
        api.stop()
    check_provisioned([first, again], "10-route provisions")
    if len(cnames) != n:
        raise RuntimeError("10-route provision made %d CNAMEs" % len(cnames))
    report.add(Figure("provision.10_routes", elapsed, "s", "lower",
                      samples={"api_requests": requests, "again_all_in_place_s": repeat},
                      note="one tunnel, 10 routes, 50 ms per API request: %d requests (the host names one after "
                           "the other); %.2f s again with everything in place" % (requests, repeat)))


# ---------------------------------------------------------------------------

FLASH_IDLE_S = 30
FLASH_EVENTS = 1000
FLASH_WRITE = re.compile(r"^(?:write|pwrite64|writev)\((\d+)<([^>]*)>.*\)\s+=\s+(\d+)$")
FLASH_SYNC = re.compile(r"^(?:fsync|fdatasync)\((\d+)<([^>]*)>\)\s+=\s+0$")
FLASH_RENAME = re.compile(r'^rename(?:at2?)?\(.*"([^"]+)"(?:, \w+)?\)\s+=\s+0$')


class FileIoTrace:
    """What one process writes under a directory: write bytes, fsyncs and
    renames into it, from `strace -y` (which names each descriptor's file)."""

    def __init__(self, pid, directory, out_path):
        self.directory, self.out_path = directory, out_path
        self.tracer = subprocess.Popen(["strace", "-y", "-qq", "-e", "trace=write,pwrite64,writev,fsync,fdatasync,"
                                        "rename,renameat,renameat2", "-e", "signal=none", "-s", "0",
                                        "-o", out_path, "-p", str(pid)],
                                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = pid
        wait_until(lambda: self.attached(), what="strace to attach")

    def attached(self):
        if self.tracer.poll() is not None:
            raise RuntimeError("strace exited: %s" % self.tracer.stderr.read())
        with open("/proc/%d/status" % self.pid) as f:
            return "TracerPid:\t0\n" not in f.read()

    def finish(self):
        """-> (bytes written, fsyncs, {file name: renames into it})."""
        self.tracer.send_signal(signal.SIGINT)
        self.tracer.communicate(timeout=30)
        written = syncs = 0
        renames = {}
        inside = self.directory.rstrip("/")
        with open(self.out_path) as f:
            for line in f:
                line = line.strip()
                m = FLASH_WRITE.match(line)
                if m and m.group(2).startswith(inside + "/"):
                    written += int(m.group(3))
                    continue
                m = FLASH_SYNC.match(line)
                if m and (m.group(2) == inside or m.group(2).startswith(inside + "/")):
                    syncs += 1
                    continue
                m = FLASH_RENAME.match(line)
                if m and m.group(1).startswith(inside + "/"):
                    name = os.path.basename(m.group(1))
                    renames[name] = renames.get(name, 0) + 1
        return written, syncs, renames


def bench_flash(args, report):
    """Bytes written and fsyncs made by the agent in its state directory:
    an idle fleet of 10 tunnels, then 1,000 tunnel events (children killed
    and replaced, each replacement a new URL and so a webhook notice)."""
    hook = FakeServer("fake_webhook.py")
    agent = Agent(args.build, "[watchdog]\nbackoff_initial_ms = 1\nbackoff_max_ms = 5\n"
                              "[notify]\nwebhook = %s/hook\n" % hook.base)
    try:
        agent.start()
        ports = list(range(31001, 31011))
        agent.start_tunnels(ports)
        wait_until(lambda: len(hook.admin("received")["received"]) >= len(ports), 30, "the first URL notices")
        settle()
        trace = FileIoTrace(agent.pid, agent.state_dir, os.path.join(agent.dir, "idle.strace"))
        time.sleep(FLASH_IDLE_S)
        idle_bytes, idle_syncs, _ = trace.finish()
        scale = 3600.0 / FLASH_IDLE_S

        watch = Client(agent.socket, 60)
        watch.send("watch\n")
        while watch.read_line() != "OK watching":
            pass
        trace = FileIoTrace(agent.pid, agent.state_dir, os.path.join(agent.dir, "events.strace"))
        events = kills = 0
        while events < FLASH_EVENTS:
            # A burst: every child killed at once, as when a network drop
            # takes every connection down, then each one's new URL awaited.
            for port in ports:
                os.kill(latest_pid(agent.spawn_log, port), signal.SIGKILL)
            kills += len(ports)
            waiting = set(ports)
            while waiting:
                line = watch.read_line(30)
                if line is None:
                    raise RuntimeError("the watch stream ended")
                events += 1
                cols = line.split()
                if len(cols) >= 4 and cols[3] == "url":
                    waiting.discard(int(cols[2]))
        notices = len(hook.admin("received")["received"])
        wait_until(lambda: agent.request("list")[1].startswith("OK"), what="the agent to settle")
        settle()
        ev_bytes, ev_syncs, renames = trace.finish()
        watch.close()
    finally:
        agent.stop()
        hook.stop()
    per = 1000.0 / events
    report.add(Figure("flash.idle_bytes_per_hour", idle_bytes * scale, "B/h", "lower", target=("<=", 0),
                      note="write() bytes into state_dir by tetherd with 10 running tunnels and a webhook, "
                           "traced for %d s (strace -y) and scaled to an hour" % FLASH_IDLE_S))
    report.add(Figure("flash.idle_fsyncs_per_hour", idle_syncs * scale, "/h", "lower", target=("<=", 0),
                      note="fsync()/fdatasync() of files or the directory in state_dir, same trace"))
    report.add(Figure("flash.bytes_per_1000_events", ev_bytes * per / 1024.0, "KiB", "lower",
                      samples={"events": events, "kills": kills, "bytes": ev_bytes, "renames": renames},
                      note="%d events on `watch` from %d children killed in bursts of 10 (each: exited, "
                           "backoff, restarted, url, connected...), %d webhook notices; state.json written %d "
                           "times, outbox-webhook.json %d times"
                           % (events, kills, notices, renames.get("state.json", 0),
                              renames.get("outbox-webhook.json", 0))))
    report.add(Figure("flash.fsyncs_per_1000_events", ev_syncs * per, "", "lower", samples={"fsyncs": ev_syncs},
                      note="fsyncs in the same run: two per file replaced (the file, then its directory)"))
    report.add(Figure("flash.state_writes_per_respawn", renames.get("state.json", 0) / float(kills), "", "lower",
                      target=("<=", 1),
                      note="state.json replacements per child killed and replaced: the exit itself writes "
                           "nothing, the new pid once"))


# The stand-in child's private memory: what cloudflared 2023.7.3 held,
# connected with its 4 HA connections and idle (README, Children sized for
# the board).
CHILD_FOOTPRINT_KB = 14600


def tunnel_token():
    body = {"a": "0123456789abcdef0123456789abcdef", "t": str(uuid.uuid4()),
            "s": base64.b64encode(os.urandom(32)).decode()}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def children_memory(names, routes_of):
    """Starts named tunnels (routes_of(name): their route lines) on one agent
    and returns (children, sum of their Pss in bytes) once all are running."""
    config = "[cloudflare]\nzone = example.com\n" + "".join(
        "[tunnel %s]\n%s" % (n, "".join("route = %s\n" % r for r in routes_of(n))) for n in names)
    env = {"CF_TUNNEL_TOKEN_" + n.upper(): tunnel_token() for n in names}
    env["FAKE_CF_FOOTPRINT_KB"] = str(CHILD_FOOTPRINT_KB)
    agent = Agent(ARGS_BUILD[0], config, env).start()
    try:
        agent.start_tunnels(names)
        settle()
        pids = fake_children(agent.marker)
        return len(pids), sum(smaps(p)["Pss"] for p in pids)
    finally:
        agent.stop()


ARGS_BUILD = []


def bench_routes(args, report):
    """For 1, 3 and 10 services: one tunnel per service against one tunnel
    with a route per service, counted in children and their memory."""
    ARGS_BUILD[:] = [args.build]
    for n in (1, 3, 10):
        services = ["s%d" % i for i in range(n)]
        route = lambda s: "%s.example.com -> http://localhost:%d" % (s, 8000 + int(s[1:]))  # noqa: E731
        apart, apart_bytes = children_memory(services, lambda s: [route(s)])
        together, together_bytes = children_memory(["all"], lambda _: [route(s) for s in services])
        report.add(Figure("routes.%d_services.children" % n, together, "procs", "lower",
                          peers=[("one tunnel per service", apart)],
                          note="named tunnels on the fake cloudflared, all connected; one tunnel with %d routes "
                               "against %d tunnels of one route" % (n, n)))
        report.add(Figure("routes.%d_services.children_pss" % n, together_bytes / MIB, "MiB", "lower",
                          peers=[("one tunnel per service", apart_bytes / MIB)],
                          note="sum of the children's Pss (smaps_rollup), each child a stand-in: the fake "
                               "cloudflared holding FAKE_CF_FOOTPRINT_KB=%d KiB of private memory, the private "
                               "memory of a connected cloudflared 2023.7.3" % CHILD_FOOTPRINT_KB))


def machine():
    cpu = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
    return "%s, %d cpu, %s, kernel %s" % (cpu or platform.machine(), os.cpu_count(), platform.machine(),
                                         platform.release())


# In this order: the supervision group measures the peers' respawn times
# that the respawn group prints next to the agent's.
GROUPS = {"scan": bench_scan, "startup": bench_startup, "supervision": bench_supervision,
          "respawn": bench_respawn, "provision": bench_provision, "routes": bench_routes, "flash": bench_flash,
          "network": lambda args, report: network.bench_network(args, report, sys.modules[__name__])}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--build", default=os.path.join(SOURCE, "build-release"),
                   help="the Release build directory (tetherd, the fake cloudflared, bench/scan_bench)")
    p.add_argument("--json", help="where to write the figures as JSON (default: BUILD/bench.json)")
    p.add_argument("--seq-sample", type=int, default=100,
                   help="sequential provisions actually made (the 100 figure is extrapolated from them)")
    p.add_argument("--only", default=",".join(GROUPS),
                   help="comma-separated groups to run, of: %s (default: all)" % ", ".join(GROUPS))
    args = p.parse_args()
    only = args.only.split(",")
    unknown = set(only) - set(GROUPS)
    if unknown:
        p.error("unknown group(s): %s" % ", ".join(sorted(unknown)))
    args.build = os.path.abspath(args.build)
    json_path = args.json or os.path.join(args.build, "bench.json")
    for tool in ("supervisord", "strace"):
        if not shutil.which(tool):
            sys.exit("bench: %s is missing; run scripts/deps.sh bench" % tool)

    # A binary the build has just written is dirty in the page cache until it
    # is written back, and smaps counts those pages in the Private_Dirty of
    # the process mapping it (about 0.7 MiB for tetherd): write them back first.
    os.sync()
    started = time.time()
    print("tether benchmarks, %s, %s" % (time.strftime("%Y-%m-%d %H:%M %Z"), machine()))
    # Other work on the machine moves the timing figures; say how busy it was.
    load_before = os.getloadavg()[0]
    print("load average %.2f at start" % load_before)
    print("xN: how many times better tether is than that peer\n")
    report = Report()
    for group in GROUPS:
        if group in only:
            GROUPS[group](args, report)
    report.print_notes()
    elapsed = time.time() - started
    missed = [f.name for f in report.figures if f.met() is False]
    print("\n%d figures in %.0f s, load average %.2f at the end; targets missed: %s"
          % (len(report.figures), elapsed, os.getloadavg()[0], ", ".join(missed) or "none"))
    with open(json_path, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": machine(), "seconds": elapsed,
                   "load_average": [load_before, os.getloadavg()[0]],
                   "figures": [x.as_json() for x in report.figures]}, f, indent=1)
    print("JSON: %s" % json_path)


if __name__ == "__main__":
    main()
