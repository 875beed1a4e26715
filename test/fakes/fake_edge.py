"""fake_edge.py: the smallest edge the fake cloudflared can really dial
(FAKE_CF_DIAL=1, test/fakes/fake_cloudflared.c). Python standard library
only; run inside the network lab's edge namespace (test_network.py).

  UDP (stands for QUIC):   "REG <connIndex> <connector>" -> "OK", "PING" -> "PONG"
  TCP (stands for HTTP/2): the same, one message per line

It answers everything at once; a test drops or refuses traffic with the
kernel (nftables, routes, links), never here. Each registration is one
line on stdout: "registered udp|tcp <peer> <message>".

Each address gets its own sockets, so a UDP answer leaves from the address
the drone dialled (a connected UDP socket takes nothing else).

usage: fake_edge.py [--listen ADDR:PORT[,ADDR:PORT...]] [--ready-file PATH]
"""

import argparse
import os
import selectors
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", default="198.51.100.1:7844")
    ap.add_argument("--ready-file")
    args = ap.parse_args()
    sel = selectors.DefaultSelector()
    for item in args.listen.split(","):
        host, port = item.rsplit(":", 1)
        addr = (host, int(port))
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        udp.bind(addr)
        udp.setblocking(False)
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(addr)
        tcp.listen(128)
        tcp.setblocking(False)
        sel.register(udp, selectors.EVENT_READ, "udp")
        sel.register(tcp, selectors.EVENT_READ, "listen")
    buffers = {}

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write("ready\n")
        os.rename(args.ready_file + ".tmp", args.ready_file)

    def answer(msg):
        if msg.startswith(b"REG"):
            return b"OK"
        if msg.startswith(b"PING"):
            return b"PONG"
        return None

    while True:
        for key, _ in sel.select():
            if key.data == "udp":
                udp = key.fileobj
                while True:
                    try:
                        msg, peer = udp.recvfrom(2048)
                    except BlockingIOError:
                        break
                    reply = answer(msg)
                    if msg.startswith(b"REG"):
                        print("registered udp %s:%d %s" % (peer[0], peer[1], msg.decode(errors="replace")), flush=True)
                    if reply:
                        try:
                            udp.sendto(reply, peer)
                        except OSError:
                            pass
            elif key.data == "listen":
                tcp = key.fileobj
                try:
                    conn, _ = tcp.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(False)
                buffers[conn] = b""
                sel.register(conn, selectors.EVENT_READ, "conn")
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(conn)
                    buffers.pop(conn, None)
                    conn.close()
                    continue
                buffers[conn] += data
                while b"\n" in buffers[conn]:
                    line, buffers[conn] = buffers[conn].split(b"\n", 1)
                    reply = answer(line)
                    if line.startswith(b"REG"):
                        peer = conn.getpeername()
                        print("registered tcp %s:%d %s" % (peer[0], peer[1], line.decode(errors="replace")),
                              flush=True)
                    if reply:
                        try:
                            conn.sendall(reply + b"\n")
                        except OSError:
                            pass


if __name__ == "__main__":
    main()
