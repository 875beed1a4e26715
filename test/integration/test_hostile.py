"""Hostile and careless clients: many connections, slow ones, garbage,
connect/close storms, and callers of the wrong uid."""

import os
import random
import socket
import subprocess
import sys
import threading
import time

from harness import AgentTest, Client, SANITIZED, SLOW, main, rss_kb, wait_until


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


class Connections(AgentTest):
    def test_500_concurrent_connections_within_the_limit(self):
        a = self.agent("[agent]\nmax_clients = 600\n")
        clients = [a.client() for _ in range(500)]
        for c in clients:
            c.send("ping\n")
        for c in clients:
            self.assertEqual(c.read_reply(), ([], "OK pong"))
        self.assertGreaterEqual(int([l for l in a.request("metrics")[0]
                                     if l.startswith("tether_control_connections ")][0].split()[1]), 500)

    def test_500_concurrent_connections_over_the_limit(self):
        a = self.agent()  # max_clients = 64
        socks = []
        for _ in range(500):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(a.socket)
            socks.append(s)
        busy = served = 0
        for s in socks:
            try:
                s.sendall(b"ping\n")
            except BrokenPipeError:
                pass  # refused and closed already; its ERR busy is waiting
        for s in socks:
            s.settimeout(10 * SLOW)
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data.startswith(b"ERR busy too many clients (limit 64"):
                busy += 1
            elif data == b"OK pong\n":
                served += 1
        for s in socks:
            s.close()
        self.assertEqual(served + busy, 500)
        self.assertLessEqual(served, 64)
        self.assertGreater(busy, 400)
        wait_until(lambda: self._pong(a), what="the agent to serve again")

    @staticmethod
    def _pong(a):
        try:
            return a.request("ping")[1] == "OK pong"
        except (AssertionError, OSError):
            return False

    def test_connect_and_close_storm(self):
        a = self.agent()
        before = open_fds(a.pid())
        for i in range(2000):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(a.socket)
            try:
                if i % 3 == 1:
                    s.send(b"pi")           # half a request
                elif i % 3 == 2:
                    s.send(b"list\nping\n")  # requests whose replies nobody reads
            except (BrokenPipeError, ConnectionResetError):
                # While the agent is behind, past max_clients it answers
                # ERR busy and closes at once: a send may find it gone.
                pass
            s.close()
        wait_until(lambda: self._pong(a), what="the agent to serve")
        wait_until(lambda: open_fds(a.pid()) <= before, what="every connection's fd to be closed")

    def test_one_byte_per_second_does_not_hold_anyone_up(self):
        a = self.agent()
        slow = a.client(timeout=30)
        done = threading.Event()

        def dribble():
            for byte in b"ping\n":
                slow.send(bytes([byte]))
                if done.wait(1.0):
                    return

        t = threading.Thread(target=dribble)
        t.start()
        try:
            for _ in range(50):
                started = time.monotonic()
                self.assertEqual(a.request("ping")[1], "OK pong")
                self.assertLess(time.monotonic() - started, 1.0 * SLOW)
            t.join()
            self.assertEqual(slow.read_reply(timeout=10), ([], "OK pong"))
        finally:
            done.set()
            t.join()


class Garbage(AgentTest):
    def test_binary_garbage(self):
        a = self.agent()
        rnd = random.Random(7)
        for _ in range(20):
            c = Client(a.socket)
            blob = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 20000)))
            try:
                c.send(blob + b"\nping\n")
                # Whatever the garbage was, the connection answers in order
                # and ends either at our ping or at a toolong.
                while True:
                    line = c.read_line()
                    if line is None or line == "OK pong" or line.startswith("ERR toolong"):
                        break
                    self.assertTrue(line.startswith("ERR usage") or line.startswith("OK") or
                                    not line.startswith(("OK", "ERR")), line)
            except (BrokenPipeError, ConnectionResetError):
                pass
            finally:
                c.close()
        self.assertEqual(a.request("ping")[1], "OK pong")

    def test_memory_stays_bounded_with_a_client_that_never_reads(self):
        a = self.agent("[agent]\nmax_clients = 100\n")
        before = rss_kb(a.pid())
        hogs = []
        for _ in range(20):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(a.socket)
            s.setblocking(False)
            payload = b"help\n" * 10000
            for _ in range(50):
                try:
                    s.send(payload)
                except BlockingIOError:
                    break
            hogs.append(s)
        self.assertEqual(a.request("ping")[1], "OK pong")
        if not SANITIZED:
            # 20 clients x 64 KiB of unsent replies (plus one reply each),
            # plus allocator slack.
            self.assertLess(rss_kb(a.pid()) - before, 8 * 1024 * SLOW)
        for s in hogs:
            s.close()


CLIENT = r"""
import os, socket, sys
os.setgid(65534); os.setuid(65534)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
try:
    s.sendall(b"ping\n")
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass  # a refused client may already be closed

out = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    out += chunk
sys.stdout.write(out.decode())
"""


class PeerCredentials(AgentTest):
    def as_nobody(self, path):
        if os.geteuid() != 0:
            self.skipTest("needs root to act as another uid")
        r = subprocess.run([sys.executable, "-c", CLIENT, path], capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_other_uid_is_denied(self):
        a = self.agent("[agent]\nsocket_mode = 0666\n")
        os.chmod(a.dir, 0o755)
        self.assertEqual(self.as_nobody(a.socket),
                         "ERR denied uid 65534 may not use this socket (add it to [agent] allow_uids)\n")
        self.assertIn("refused a client with uid 65534", a.log())

    def test_allowed_uid(self):
        a = self.agent("[agent]\nsocket_mode = 0666\nallow_uids = nobody\n")
        os.chmod(a.dir, 0o755)
        self.assertEqual(self.as_nobody(a.socket), "OK pong\n")


if __name__ == "__main__":
    main()
