"""Shared helpers for tether's integration tests.

Every test starts the real build/tetherd on a private socket and state
directory, talks to it over the socket, and at the end checks that no fake
cloudflared of that test is left on the machine. Waiting is always a bounded
poll on an observable condition, never a sleep that hopes.
"""

import json
import os
import re
import sys
import urllib.request
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import uuid

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("TETHER_BUILD_DIR") or os.path.join(SOURCE, "build")
TETHERD = os.path.join(BUILD, "tetherd")
TETHERCTL = os.path.join(BUILD, "tetherctl")
FAKEBIN = os.path.join(BUILD, "test", "fakebin")
FAKE_CLOUDFLARED = os.path.join(FAKEBIN, "cloudflared")
FAKES = os.path.join(SOURCE, "test", "fakes")
VALGRIND = os.environ.get("TETHER_VALGRIND") == "1"
# Under valgrind everything is an order of magnitude slower.
SLOW = 10 if VALGRIND else 1
# ASan keeps freed memory in quarantine: resident size says nothing there.
SANITIZED = os.environ.get("TETHER_SANITIZED") == "1"


PASS_ENV = "pass_env = FAKE_CF_*\n"


def wait_until(predicate, timeout=10.0, what="condition", interval=0.01):
    """Poll predicate until it returns something truthy; fail after timeout."""
    deadline = time.monotonic() + timeout * SLOW
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout * SLOW, what))
        time.sleep(interval)


def is_status(line):
    return line == "OK" or line.startswith("OK ") or line.startswith("ERR ")


class Client:
    """One control connection, with line-oriented reads and timeouts."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)  # blocking: waits in the listen queue
            self.sock.settimeout(timeout * SLOW)
        except OSError:
            self.sock.close()
            raise
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def half_close(self):
        self.sock.shutdown(socket.SHUT_WR)

    def read_line(self, timeout=10.0):
        """The next line without its newline, or None at end of stream."""
        self.sock.settimeout(timeout * SLOW)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace")

    def read_reply(self, timeout=10.0):
        """(data lines, status line) of the next reply."""
        lines = []
        while True:
            line = self.read_line(timeout)
            if line is None:
                raise AssertionError("connection closed before a status line; got %r" % lines)
            if is_status(line):
                return lines, line
            lines.append(line)

    def request(self, line, timeout=10.0):
        self.send(line + "\n")
        return self.read_reply(timeout)

    def json(self, line, timeout=10.0):
        self.send("json " + line + "\n")
        return json.loads(self.read_line(timeout))

    def read_eof(self, timeout=10.0):
        """True once the agent has closed the connection (nothing else sent)."""
        line = self.read_line(timeout)
        if line is not None:
            raise AssertionError("expected the connection to close, got %r" % line)
        return True

    def close(self):
        self.sock.close()


def rss_kb(pid):
    """Resident memory of a process, in KiB."""
    with open("/proc/%d/status" % pid) as f:
        return int([l for l in f if l.startswith("VmRSS")][0].split()[1])


def find_processes(marker):
    """Pids of processes whose environment holds FAKE_CF_TESTID=marker."""
    needle = ("FAKE_CF_TESTID=%s" % marker).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle in env.split(b"\0") and int(entry) != os.getpid():
            pids.append(int(entry))
    return sorted(pids)


def proc_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def alive(pid):
    """True while pid exists and is not a zombie (an unreaped child is dead for tests)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            # The state follows the command name, which may itself hold ")" or spaces.
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def fake_children(marker):
    """Fake cloudflared processes (and their grandchildren) of one test."""
    return [p for p in find_processes(marker)
            if proc_cmdline(p)[:1] and proc_cmdline(p)[0].endswith(b"cloudflared")]


class Agent:
    """A tetherd under test, with its own directory, socket and config."""

    def __init__(self, config="", env=None, args=(), start=True, directory=None, marker=None, prefix=()):
        self.dir = directory or tempfile.mkdtemp(prefix="tether-it-")
        self.socket = os.path.join(self.dir, "tether.sock")
        self.state_dir = os.path.join(self.dir, "state")
        self.knobs_dir = os.path.join(self.dir, "knobs")
        os.makedirs(self.knobs_dir, exist_ok=True)
        self.config_path = os.path.join(self.dir, "tether.ini")
        self.marker = marker or uuid.uuid4().hex
        self.log_path = os.path.join(self.dir, "agent.%d.log" % time.monotonic_ns())
        self.proc = None
        self.clients = []
        if config is not None:
            self.write_config(config)
        self.env = dict(os.environ)
        self.env.update({
            "PATH": FAKEBIN + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
            "FAKE_CF_TESTID": self.marker,
            "FAKE_CF_KNOBS_DIR": self.knobs_dir,
        })
        self.env.update(env or {})
        self.args = list(args)
        # Run under another command (test_network.py: `ip netns exec drone`).
        self.prefix = list(prefix)
        if start:
            self.start()

    def write_config(self, text):
        # Children get only an allow-list of the agent's environment: the
        # fake cloudflared's knobs and test marker must be passed on by name.
        if "pass_env" not in text:
            if "[cloudflared]\n" in text:
                text = text.replace("[cloudflared]\n", "[cloudflared]\n" + PASS_ENV, 1)
            else:
                text += "\n[cloudflared]\n" + PASS_ENV
        # The host's own routing table must not decide whether these tests'
        # tunnels are held back as offline: only the network lab
        # (test_network.py) watches routes, inside its own namespaces.
        if "[network]" not in text:
            text = text + ("" if not text or text.endswith("\n") else "\n") + "[network]\nrequire = none\n"
        with open(self.config_path, "w") as f:
            f.write(text)

    def command(self):
        cmd = [TETHERD, "-c", self.config_path, "--socket", self.socket,
               "--state-dir", self.state_dir, "--log-level", "debug"] + self.args
        if VALGRIND:
            cmd = ["valgrind", "--quiet", "--error-exitcode=99", "--leak-check=full",
                   "--errors-for-leak-kinds=definite", "--show-leak-kinds=definite"] + cmd
        return self.prefix + cmd

    def start(self, wait=True):
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), env=self.env, stdin=subprocess.DEVNULL,
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        if wait:
            wait_until(self.answers, what="tetherd to answer on %s" % self.socket)
        return self

    def answers(self):
        if self.proc.poll() is not None:
            raise AssertionError("tetherd exited with %s:\n%s" % (self.proc.returncode, self.log()))
        try:
            c = Client(self.socket, timeout=2)
        except OSError:
            return False
        try:
            return c.request("ping")[1] == "OK pong"
        finally:
            c.close()

    def client(self, timeout=10.0):
        """A connection that the test may leave open: closed at cleanup."""
        c = Client(self.socket, timeout)
        self.clients.append(c)
        return c

    def request(self, line, timeout=40.0):
        c = Client(self.socket, timeout)
        try:
            return c.request(line, timeout)
        finally:
            c.close()

    def json(self, line, timeout=40.0):
        c = Client(self.socket, timeout)
        try:
            return c.json(line, timeout)
        finally:
            c.close()

    def ok(self, line, timeout=40.0):
        """Request that must succeed; returns (data lines, status text after 'OK')."""
        lines, status = self.request(line, timeout)
        if not status.startswith("OK"):
            raise AssertionError("%r failed: %s\n%s" % (line, status, "\n".join(lines)))
        return lines, status[3:]

    def signal(self, signum):
        self.proc.send_signal(signum)

    def wait(self, timeout=30.0):
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            raise AssertionError("tetherd did not exit within %.0fs:\n%s" % (timeout * SLOW, self.log()))

    def stop(self, timeout=30.0):
        """SIGTERM and wait; returns the exit status."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait(timeout)

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log(self):
        out = []
        for name in sorted(os.listdir(self.dir)):
            if name.startswith("agent.") and name.endswith(".log"):
                with open(os.path.join(self.dir, name), "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
        return "".join(out)

    def put_state_file(self, name, text):
        """A file in the state directory, as a previous agent (or a dying
        disk) left it."""
        os.makedirs(self.state_dir, exist_ok=True)
        with open(os.path.join(self.state_dir, name), "w") as f:
            f.write(text)

    def knobs(self, key, **values):
        """Per-tunnel behaviour of the fake cloudflared, read at each spawn."""
        with open(os.path.join(self.knobs_dir, str(key)), "w") as f:
            for k, v in values.items():
                f.write("FAKE_CF_%s=%s\n" % (k.upper(), v))

    def children(self):
        return fake_children(self.marker)

    def pid(self):
        return self.proc.pid


class FakeServer:
    """One of the Python fakes in test/fakes (Cloudflare API, Telegram,
    webhook) on a free loopback port, with its /__fake/ admin interface."""

    def __init__(self, script, *args):
        self.dir = tempfile.mkdtemp(prefix="tether-fake-")
        port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "fake.log")
        self.log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([sys.executable, os.path.join(FAKES, script), "--port", "0",
                                      "--port-file", port_file] + list(args),
                                     stdin=subprocess.DEVNULL, stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_until(lambda: os.path.exists(port_file) or self.proc.poll() is not None, what=script + " to listen")
        if self.proc.poll() is not None:
            raise AssertionError("%s exited:\n%s" % (script, self.log()))
        with open(port_file) as f:
            self.port = int(f.read().strip())
        self.base = "http://127.0.0.1:%d" % self.port

    def admin(self, path, body=None, method=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + "/__fake/" + path, data=data, method=method or (
            "POST" if body is not None else "GET"), headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read() or b"null")

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class AgentTest(unittest.TestCase):
    """Starts agents through self.agent(); after each test, stops them and
    fails if any fake cloudflared of the test is still alive."""

    def setUp(self):
        self.agents = []
        self.markers = set()
        self.addCleanup(self._cleanup)

    def fake(self, script, *args):
        """A Python fake server, stopped after the test."""
        f = FakeServer(script, *args)
        self.addCleanup(f.stop)
        return f

    def agent(self, config="", **kwargs):
        a = Agent(config, **kwargs)
        self.agents.append(a)
        self.markers.add(a.marker)
        return a

    def assertSetAside(self, agent, what, name):
        """A state file the agent refused: reported naming it, and renamed."""
        self.assertRegex(agent.log(), r"%s .*/%s is unusable \(.+\); moved it to .*/%s\.corrupt-\d+"
                         % (what, re.escape(name), re.escape(name)))
        aside = [n for n in os.listdir(agent.state_dir) if n.startswith(name + ".corrupt-")]
        self.assertEqual(len(aside), 1, aside)
        self.assertFalse(os.path.exists(os.path.join(agent.state_dir, name)))

    def _cleanup(self):
        for a in self.agents:
            for c in a.clients:
                c.close()
            if a.proc and a.proc.poll() is None:
                a.proc.send_signal(signal.SIGTERM)
                try:
                    a.proc.wait(60 * SLOW)
                except subprocess.TimeoutExpired:
                    a.proc.kill()
                    a.proc.wait()
            if VALGRIND and a.proc and a.proc.returncode == 99:
                self.fail("valgrind reported errors:\n" + a.log())
        leftovers = []
        for marker in self.markers:
            leftovers += fake_children(marker)
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for a in self.agents:
            if a.proc:
                a.log_file.close()
        if leftovers:
            self.fail("fake cloudflared processes left behind: %s" % leftovers)
        if not self._outcome_failed():
            for a in self.agents:
                shutil.rmtree(a.dir, ignore_errors=True)

    def _outcome_failed(self):
        outcome = getattr(self, "_outcome", None)
        errors = getattr(outcome, "errors", None) or []
        result = getattr(outcome, "result", None)
        if result is not None:
            return bool(result.failures or result.errors)
        return any(exc for _, exc in errors)


def main():
    unittest.main(verbosity=2)
