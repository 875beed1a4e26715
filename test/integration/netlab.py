"""The network lab of test_network.py and `make bench --only network`: two
network namespaces, drone and edge, joined by a veth pair on TEST-NET-1
(192.0.2.0/24). The edge namespace holds the fake edge's addresses
198.51.100.1-4 (TEST-NET-2) on its loopback, so the drone reaches them only
through its default route (via 192.0.2.1): removing that route, or the link,
takes the edge away. Each namespace gets /etc/netns/NAME/resolv.conf naming
127.0.0.1, so no lookup can leave it. Nothing else is ever dialled.

Needs root (CI runs as root). Everything made here is removed by
teardown(), also after a failure: the test registers it as a cleanup.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EDGE_IPS = ["198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4"]
DRONE_IP = "192.0.2.2"
GATEWAY = "192.0.2.1"
FAKES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fakes")


def run(*cmd, check=True):
    r = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if check and r.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), r.returncode, r.stdout.decode(errors="replace")))
    return r.stdout.decode(errors="replace")


def usable():
    """'' when the lab can be built here, else why not."""
    if os.geteuid() != 0:
        return "the network lab needs root (ip netns); CI runs as root"
    if not shutil.which("ip"):
        return "iproute2 is missing (scripts/deps.sh test)"
    return ""


def sweep():
    """Removes the namespaces of labs whose process is gone (a test run
    killed before its cleanup): their names carry the creator's pid."""
    for line in run("ip", "netns", "list", check=False).splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.match(r"^tether-[de](\d+)n\d+$", name)
        if m and not os.path.exists("/proc/%s" % m.group(1)):
            remove_namespace(name)


def remove_namespace(name):
    """Kills whatever still runs in it (that would keep it alive), deletes it
    and its /etc/netns directory."""
    for pid in run("ip", "netns", "pids", name, check=False).split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (OSError, ValueError):
            pass
    run("ip", "netns", "del", name, check=False)
    shutil.rmtree(os.path.join("/etc/netns", name), ignore_errors=True)


class Lab:
    count = 0

    def __init__(self):
        Lab.count += 1
        tag = "%dn%d" % (os.getpid(), Lab.count)
        self.drone = "tether-d" + tag
        self.edge = "tether-e" + tag
        self.veth_d = "td" + tag  # at most 15 characters: pid (7 digits) and count
        self.veth_e = "te" + tag
        self.edge_proc = None
        self.edge_log = None
        self.made = []
        self.dir = tempfile.mkdtemp(prefix="tether-lab-")

    # -- building -------------------------------------------------------
    def setup(self, edge=True):
        sweep()
        for ns in (self.drone, self.edge):
            run("ip", "netns", "add", ns)
            self.made.append(ns)
            d = os.path.join("/etc/netns", ns)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "resolv.conf"), "w") as f:
                f.write("nameserver 127.0.0.1\n")
            run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "link", "add", self.veth_d, "netns", self.drone, "type", "veth", "peer", "name", self.veth_e,
            "netns", self.edge)
        run("ip", "-n", self.drone, "addr", "add", DRONE_IP + "/24", "dev", self.veth_d)
        run("ip", "-n", self.edge, "addr", "add", GATEWAY + "/24", "dev", self.veth_e)
        for ip in EDGE_IPS:
            run("ip", "-n", self.edge, "addr", "add", ip + "/32", "dev", "lo")
        run("ip", "-n", self.edge, "link", "set", self.veth_e, "up")
        self.link_up()
        if edge:
            self.start_edge()
        return self

    def start_edge(self):
        directory = self.dir
        ready = os.path.join(directory, "edge-%s.ready" % self.edge)
        if os.path.exists(ready):
            os.unlink(ready)
        self.edge_log = open(os.path.join(directory, "edge-%s.log" % self.edge), "wb")
        self.edge_proc = subprocess.Popen(
            self.exec_in(self.edge, [sys.executable, os.path.join(FAKES, "fake_edge.py"), "--listen", ",".join(ip + ":7844" for ip in EDGE_IPS),
                                     "--ready-file", ready]),
            stdin=subprocess.DEVNULL, stdout=self.edge_log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            if self.edge_proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("fake edge did not start")
            time.sleep(0.01)
        os.unlink(ready)

    def exec_in(self, ns, cmd):
        return ["ip", "netns", "exec", ns] + list(cmd)

    # -- what the tests do to the drone's network -------------------------
    def link_up(self):
        run("ip", "-n", self.drone, "link", "set", self.veth_d, "up")
        self.route_add()
        # The carrier comes a moment later (the kernel's link watch).
        deadline = time.monotonic() + 5
        while "LOWER_UP" not in run("ip", "-n", self.drone, "link", "show", self.veth_d):
            if time.monotonic() > deadline:
                raise AssertionError("%s has no carrier" % self.veth_d)
            time.sleep(0.01)

    def link_down(self):
        run("ip", "-n", self.drone, "link", "set", self.veth_d, "down")

    def route_add(self):
        run("ip", "-n", self.drone, "route", "replace", "default", "via", GATEWAY)

    def route_del(self):
        run("ip", "-n", self.drone, "route", "del", "default", check=False)

    def drop_udp(self):
        """UDP to the edge's port silently lost on the way (nftables, on the
        edge's input: a drop in the drone's own output would make its
        sendmsg fail with EPERM, which no middlebox does)."""
        run("ip", "netns", "exec", self.edge, "nft", "add table inet tetherlab")
        run("ip", "netns", "exec", self.edge, "nft",
            "add chain inet tetherlab in { type filter hook input priority 0 ; }")
        run("ip", "netns", "exec", self.edge, "nft", "add rule inet tetherlab in udp dport 7844 drop")

    def allow_udp(self):
        run("ip", "netns", "exec", self.edge, "nft", "delete table inet tetherlab", check=False)

    # -- removal ------------------------------------------------------------
    def teardown(self):
        if self.edge_proc and self.edge_proc.poll() is None:
            self.edge_proc.terminate()
            try:
                self.edge_proc.wait(5)
            except subprocess.TimeoutExpired:
                self.edge_proc.kill()
                self.edge_proc.wait()
        if self.edge_log:
            self.edge_log.close()
        for ns in self.made:
            remove_namespace(ns)
        self.made = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def registrations(self):
        if not self.edge_log:
            return []
        with open(self.edge_log.name, "rb") as f:
            return [l for l in f.read().decode(errors="replace").splitlines() if l.startswith("registered ")]
