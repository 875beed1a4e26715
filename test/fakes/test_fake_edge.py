#!/usr/bin/python3
"""Self-test of fake_edge.py on loopback: a registration and a keepalive over
UDP (QUIC's stand-in) and over TCP (HTTP/2's), answered from the address
that was dialled, and a line on stdout for each registration."""

import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(HERE, "fake_edge.py")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeEdge(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tether-fake-edge-")
        self.port = free_port()
        ready = os.path.join(self.dir, "ready")
        self.out = open(os.path.join(self.dir, "out"), "w+b")
        self.proc = subprocess.Popen([sys.executable, FAKE, "--listen", "127.0.0.1:%d" % self.port,
                                      "--ready-file", ready], stdout=self.out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not os.path.exists(ready):
            self.assertIsNone(self.proc.poll(), "fake_edge.py exited")
            self.assertLess(time.monotonic(), deadline, "fake_edge.py did not start")
            time.sleep(0.01)

    def tearDown(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.out.close()
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def output(self):
        self.out.flush()
        with open(self.out.name) as f:
            return f.read()

    def test_udp(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.connect(("127.0.0.1", self.port))  # only answers from that address arrive
            s.send(b"REG 0 connector")
            self.assertEqual(s.recv(64), b"OK")
            s.send(b"PING")
            self.assertEqual(s.recv(64), b"PONG")
        deadline = time.monotonic() + 5
        while "registered udp 127.0.0.1:" not in self.output():
            self.assertLess(time.monotonic(), deadline, self.output())
            time.sleep(0.01)
        self.assertIn("REG 0 connector", self.output())

    def test_tcp(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"REG 1 connector\nPING\n")
            got = b""
            while got.count(b"\n") < 2:
                chunk = s.recv(64)
                self.assertTrue(chunk, "closed early")
                got += chunk
            self.assertEqual(got, b"OK\nPONG\n")
        deadline = time.monotonic() + 5
        while "registered tcp 127.0.0.1:" not in self.output():
            self.assertLess(time.monotonic(), deadline, self.output())
            time.sleep(0.01)


if __name__ == "__main__":
    unittest.main(verbosity=2)
