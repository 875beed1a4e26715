"""The control socket: framing, pipelining, limits, socket lifecycle, tetherctl."""

import os
import shutil
import signal
import socket
import stat
import subprocess
import time

from harness import AgentTest, SANITIZED, SLOW, TETHERCTL, TETHERD, main, rss_kb, wait_until


class Framing(AgentTest):
    def test_ping(self):
        a = self.agent()
        self.assertEqual(a.request("ping"), ([], "OK pong"))

    def test_crlf_case_and_spaces(self):
        a = self.agent()
        c = a.client()
        c.send("  PiNg \r\n")
        self.assertEqual(c.read_reply(), ([], "OK pong"))

    def test_blank_lines_get_no_reply(self):
        a = self.agent()
        c = a.client()
        c.send("\n\r\n   \nping\n")
        self.assertEqual(c.read_reply(), ([], "OK pong"))

    def test_unknown_verb_and_garbage(self):
        a = self.agent()
        c = a.client()
        self.assertEqual(c.request("frobnicate now"),
                         ([], "ERR usage unknown command 'frobnicate' (try 'help')"))
        c.send(b"\x00\x01\xff\xfe\n")
        lines, status = c.read_reply()
        self.assertTrue(status.startswith("ERR usage request contains control characters"), status)
        c.send(b"\xc3\xa9\xff\n")
        self.assertEqual(c.read_reply()[1], "ERR usage unknown command '\\xc3\\xa9\\xff' (try 'help')")
        self.assertEqual(c.request("ping"), ([], "OK pong"))

    def test_wrong_argument_count(self):
        a = self.agent()
        self.assertEqual(a.request("ping extra"), ([], "ERR usage ping"))

    def test_json_prefix(self):
        a = self.agent()
        c = a.client()
        self.assertEqual(c.json("ping"), {"ok": True, "message": "pong"})
        c.send("json ping\n")
        self.assertEqual(c.read_line(), '{"ok":true,"message":"pong"}')
        self.assertEqual(c.json("nope"), {"ok": False, "error": {
            "code": "usage", "message": "unknown command 'nope' (try 'help')"}})
        c.send("JSON version\n")
        import json
        reply = json.loads(c.read_line())
        self.assertTrue(reply["ok"])
        self.assertIn("libuv", reply["message"])

    def test_help_lists_every_verb(self):
        a = self.agent()
        lines, status = a.request("help")
        self.assertTrue(status.startswith("OK"))
        verbs = {l.split()[0] for l in lines if l and not l.startswith("prefix")}
        self.assertTrue({"help", "ping", "version", "quit"} <= verbs, verbs)
        j = a.json("help")
        self.assertEqual({c["command"] for c in j["commands"]}, verbs)

    def test_version(self):
        a = self.agent()
        _, status = a.request("version")
        self.assertRegex(status, r"^OK tether \d+\.\d+\.\d+ \(libuv [\d.]+, libcurl [\d.]+, PCRE2 [\d.]+\)$")

    def test_quit_closes(self):
        a = self.agent()
        c = a.client()
        c.send("quit\nping\n")
        self.assertEqual(c.read_reply(), ([], "OK bye"))
        self.assertTrue(c.read_eof())


class Pipelining(AgentTest):
    def test_1000_pipelined_requests_answered_in_order(self):
        a = self.agent()
        c = a.client()
        c.send("ping\n" * 1000)
        for i in range(1000):
            self.assertEqual(c.read_reply(), ([], "OK pong"), "reply %d" % i)
        self.assertEqual(c.request("version")[1][:9], "OK tether")

    def test_mixed_requests_keep_their_order(self):
        a = self.agent()
        c = a.client()
        c.send("ping\nbogus\njson ping\nversion\n")
        self.assertEqual(c.read_reply()[1], "OK pong")
        self.assertTrue(c.read_reply()[1].startswith("ERR usage unknown command 'bogus'"))
        self.assertEqual(c.read_line(), '{"ok":true,"message":"pong"}')
        self.assertTrue(c.read_reply()[1].startswith("OK tether"))

    def test_requests_split_across_writes(self):
        a = self.agent()
        c = a.client()
        for byte in b"ping\n":
            c.send(bytes([byte]))
        self.assertEqual(c.read_reply(), ([], "OK pong"))


class HalfClose(AgentTest):
    def test_answered_then_closed(self):
        a = self.agent()
        c = a.client()
        c.send("ping\nping\n")
        c.half_close()
        self.assertEqual(c.read_reply(), ([], "OK pong"))
        self.assertEqual(c.read_reply(), ([], "OK pong"))
        self.assertTrue(c.read_eof())

    def test_unterminated_last_line_is_a_request(self):
        a = self.agent()
        c = a.client()
        c.send("ping")
        c.half_close()
        self.assertEqual(c.read_reply(), ([], "OK pong"))
        self.assertTrue(c.read_eof())

    def test_1000_pipelined_then_half_close(self):
        a = self.agent()
        c = a.client()
        c.send("ping\n" * 1000)
        c.half_close()
        for _ in range(1000):
            self.assertEqual(c.read_reply()[1], "OK pong")
        self.assertTrue(c.read_eof())


class TooLong(AgentTest):
    def test_overlong_line_gets_toolong_then_close(self):
        a = self.agent()
        c = a.client()
        c.send("ping\n" + "x" * 5000 + "\nping\n")
        self.assertEqual(c.read_reply(), ([], "OK pong"))
        self.assertEqual(c.read_reply()[1],
                         "ERR toolong request line longer than 4096 bytes; closing the connection")
        self.assertTrue(c.read_eof())
        self.assertEqual(a.request("ping")[1], "OK pong")

    def test_overlong_line_without_newline(self):
        a = self.agent()
        c = a.client()
        c.send("y" * 10000)
        self.assertTrue(c.read_reply()[1].startswith("ERR toolong"))
        self.assertTrue(c.read_eof())

    def test_ten_megabyte_line(self):
        a = self.agent()
        c = a.client()
        try:
            c.send("z" * (10 * 1024 * 1024))
        except (BrokenPipeError, ConnectionResetError):
            pass  # the agent closed while we were still sending: fine
        self.assertTrue(c.read_reply()[1].startswith("ERR toolong"))
        self.assertEqual(a.request("ping")[1], "OK pong")

    def test_exactly_4096_bytes_is_accepted(self):
        a = self.agent()
        c = a.client()
        c.send("a" * 4096 + "\r\nping\n")
        self.assertTrue(c.read_reply()[1].startswith("ERR usage unknown command"))
        self.assertEqual(c.read_reply()[1], "OK pong")


class Limits(AgentTest):
    def test_client_limit(self):
        a = self.agent("[agent]\nmax_clients = 2\n")
        # The agent may still be closing the start-up probe's connection.
        c1 = wait_until(lambda: self._answering_client(a), what="a first client slot")
        c2 = wait_until(lambda: self._answering_client(a), what="a second client slot")
        c3 = a.client()
        self.assertEqual(c3.read_line(),
                         "ERR busy too many clients (limit 2, [agent] max_clients); try again later")
        self.assertTrue(c3.read_eof())
        c1.close()
        wait_until(lambda: self._answering_client(a), what="a free client slot").close()
        c2.close()

    def test_refused_clients_never_pile_up(self):
        a = self.agent("[agent]\nmax_clients = 2\n")
        held = [wait_until(lambda: self._answering_client(a), what="a client slot") for _ in range(2)]
        refused = []
        for _ in range(50):
            c = a.client()
            try:
                c.send("ping\n")  # a request the agent never reads must not cost the client its line
            except OSError:
                pass  # already closed: the line still waits to be read
            refused.append(c)
        for c in refused:
            self.assertEqual(c.read_line(), "ERR busy too many clients (limit 2, [agent] max_clients); try again later")
            self.assertTrue(c.read_eof(timeout=2))
        self.assertEqual(held[0].request("ping")[1], "OK pong")
        # Closed at once, not after a linger: once the other held client
        # leaves, this one is the agent's only client, while the refused
        # ones are still open here (a linger would keep them for 30 s).
        held[1].close()
        wait_until(lambda: self._control_clients(held[0]) == 1, timeout=10, what="refused clients gone")

    def _control_clients(self, client):
        lines, _ = client.request("metrics")
        return int(float([l for l in lines if l.startswith("tether_control_connections ")][0].split()[1]))

    def test_idle_clients_are_closed_but_watchers_are_not(self):
        a = self.agent("[agent]\nclient_idle_s = 1\n")
        idle = a.client()
        watcher = a.client()
        self.assertEqual(watcher.request("watch")[1], "OK watching")
        self.assertEqual(idle.read_line(timeout=5),
                         "ERR idle no request for 1s ([agent] client_idle_s); connect again when needed")
        self.assertTrue(idle.read_eof())
        busy = a.client()
        # A client that keeps asking is never idle.
        for _ in range(3):
            self.assertEqual(busy.request("ping")[1], "OK pong")
            time.sleep(0.6)
        self.assertEqual(busy.request("ping")[1], "OK pong")
        a.ok("start 8080 nowait")
        line = watcher.read_line(timeout=5)
        self.assertIn(" 8080 starting", line)

    def test_descriptor_reserve_refuses_clients_first(self):
        a = self.agent(start=False)
        command = a.command
        # With 64 descriptors, 32 are kept for tunnels: clients are refused
        # well before max_clients (64) and before the agent runs out.
        a.command = lambda: ["prlimit", "--nofile=64:64"] + command()
        a.start()
        clients, status = [], None
        for _ in range(64):
            c = a.client()
            try:
                c.send("ping\n")
            except OSError:
                pass  # refused and closed at once: its ERR line still waits to be read
            line = c.read_line()
            if line != "OK pong":
                status = line
                break
            clients.append(c)
        self.assertEqual(status, "ERR busy the agent is short of file descriptors; try again later (raise LimitNOFILE)")
        self.assertLess(len(clients), 60)
        # Tunnels still start: their descriptors were kept.
        _, status = clients[0].request("start 8080")
        self.assertTrue(status.startswith("OK 8080 https://"), status)

    def _answering_client(self, a):
        c = a.client()
        try:
            if c.request("ping")[1] == "OK pong":
                return c
        except (AssertionError, OSError):
            pass
        c.close()
        return None

    def test_client_that_never_reads_does_not_stall_others(self):
        a = self.agent()
        before = rss_kb(a.pid())
        hog = a.client()
        hog.sock.setblocking(False)
        sent = 0
        payload = b"help\n" * 20000
        # Fill both socket buffers and the agent's bounded output queue.
        for _ in range(400):
            try:
                sent += hog.sock.send(payload)
            except BlockingIOError:
                break
        self.assertGreater(sent, 0)
        for _ in range(20):
            self.assertEqual(a.request("ping")[1], "OK pong")
        if not SANITIZED:
            grown = rss_kb(a.pid()) - before
            # Output is capped at 256 KiB per client; allow for allocator
            # slack (and valgrind's shadow memory).
            self.assertLess(grown, 8 * 1024 * SLOW, "agent memory grew by %d KiB with an unread client" % grown)
        hog.close()
        self.assertEqual(a.request("ping")[1], "OK pong")


class SocketLifecycle(AgentTest):
    def test_socket_mode(self):
        a = self.agent()
        self.assertEqual(stat.S_IMODE(os.stat(a.socket).st_mode), 0o660)
        b = self.agent("[agent]\nsocket_mode = 0600\n")
        self.assertEqual(stat.S_IMODE(os.stat(b.socket).st_mode), 0o600)

    def test_second_agent_refuses_live_socket(self):
        a = self.agent()
        b = self.agent(directory=a.dir, start=False)
        b.state_dir = os.path.join(a.dir, "state-b")  # the same one would be refused for its lock first
        b.start(wait=False)
        self.assertNotEqual(b.wait(), 0)
        self.assertIn("another tetherd is already answering on %s" % a.socket, b.log())
        self.assertEqual(a.request("ping")[1], "OK pong")

    def test_stale_socket_replaced(self):
        a = self.agent(start=False)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(a.socket)
        s.close()  # the file stays, nobody listens: stale
        self.assertTrue(stat.S_ISSOCK(os.stat(a.socket).st_mode))
        a.start()
        self.assertEqual(a.request("ping")[1], "OK pong")
        self.assertIn("removing stale socket", a.log())

    def test_regular_file_in_the_way_is_not_removed(self):
        a = self.agent(start=False)
        with open(a.socket, "w") as f:
            f.write("precious")
        a.start(wait=False)
        self.assertNotEqual(a.wait(), 0)
        self.assertIn("exists and is not a socket", a.log())
        with open(a.socket) as f:
            self.assertEqual(f.read(), "precious")

    def test_sigterm_removes_socket_and_exits_0(self):
        a = self.agent()
        c = a.client()  # an open client does not hold up shutdown
        self.assertEqual(a.stop(), 0)
        self.assertFalse(os.path.exists(a.socket))
        c.close()

    def test_sigint_too(self):
        a = self.agent()
        a.signal(signal.SIGINT)
        self.assertEqual(a.wait(), 0)
        self.assertFalse(os.path.exists(a.socket))

    def test_socket_directory_is_created(self):
        a = self.agent(start=False)
        a.socket = os.path.join(a.dir, "sub", "dir", "t.sock")
        a.start()
        self.assertEqual(a.request("ping")[1], "OK pong")


class Config(AgentTest):
    def test_bad_config_stops_before_touching_anything(self):
        a = self.agent("[agent]\nlog_level = loud\n[watchdog]\nstop_grace_s = x\n", start=False)
        a.start(wait=False)
        self.assertEqual(a.wait(), 2)
        log = a.log()
        self.assertIn("%s:2: [agent] log_level: 'loud' is not one of" % a.config_path, log)
        self.assertIn("%s:4: [watchdog] stop_grace_s: 'x' is not a number" % a.config_path, log)
        self.assertFalse(os.path.exists(a.socket))

    def test_check_config(self):
        a = self.agent("[tunnel cam]\ntype = quick\nport = 8080\n", start=False)
        r = subprocess.run([TETHERD, "--check-config", "-c", a.config_path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("configuration is valid (1 tunnel)", r.stdout)
        a.write_config("[tunnel cam]\ntype = quick\n")
        r = subprocess.run([TETHERD, "--check-config", "-c", a.config_path], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("%s:1: [tunnel cam]: missing required key 'port'" % a.config_path, r.stderr)

    def test_config_that_is_not_a_file(self):
        a = self.agent(start=False)
        fifo = os.path.join(a.dir, "fifo.ini")
        os.mkfifo(fifo)
        for path, kind in ((fifo, "a FIFO"), (a.dir, "a directory")):
            r = subprocess.run([TETHERD, "--check-config", "-c", path], capture_output=True, text=True, timeout=10)
            self.assertEqual(r.returncode, 2)
            self.assertIn("%s: cannot read: %s is not a regular file (%s)" % (path, path, kind), r.stderr)

    def test_missing_explicit_config(self):
        r = subprocess.run([TETHERD, "-c", "/nonexistent/t.ini"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("/nonexistent/t.ini: cannot open: No such file or directory", r.stderr)

    def test_flags(self):
        r = subprocess.run([TETHERD, "--help"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0)
        for flag in ("--config", "--socket", "--state-dir", "--cloudflared", "--log-level",
                     "--check-config", "--version"):
            self.assertIn(flag, r.stdout)
        r = subprocess.run([TETHERD, "--version"], capture_output=True, text=True)
        self.assertRegex(r.stdout, r"^tether \d+\.\d+\.\d+ \(libuv")
        r = subprocess.run([TETHERD, "--bogus"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown option '--bogus'", r.stderr)

    def test_sighup_reload_validates_and_keeps_running(self):
        a = self.agent("[agent]\nlog_level = info\n")
        a.write_config("[agent]\nlog_level = nope\n")
        a.signal(signal.SIGHUP)
        wait_until(lambda: "reload failed" in a.log(), what="the reload error in the log")
        self.assertIn("%s:2: [agent] log_level: 'nope'" % a.config_path, a.log())
        self.assertEqual(a.request("ping")[1], "OK pong")


class Tetherctl(AgentTest):
    def run_ctl(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([TETHERCTL] + list(args), capture_output=True, text=True, env=e, timeout=30)

    def test_ok_err_and_unreachable(self):
        a = self.agent()
        r = self.run_ctl("-s", a.socket, "ping")
        self.assertEqual((r.returncode, r.stdout), (0, "OK pong\n"))
        r = self.run_ctl("-s", a.socket, "bogus")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ERR usage unknown command 'bogus'", r.stderr)
        r = self.run_ctl("-s", a.socket, "help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("ping", r.stdout)
        r = self.run_ctl("-s", a.socket, "json", "ping")
        self.assertEqual((r.returncode, r.stdout), (0, '{"ok":true,"message":"pong"}\n'))
        r = self.run_ctl("-s", os.path.join(a.dir, "nothing.sock"), "ping")
        self.assertEqual(r.returncode, 3)
        self.assertIn("cannot connect to %s" % os.path.join(a.dir, "nothing.sock"), r.stderr)

    def test_usage_errors_and_pending_have_their_own_codes(self):
        a = self.agent("[watchdog]\nstart_wait_s = 1\n")
        for args in ((), ("-x", "ping"), ("ping\nquit",)):
            r = self.run_ctl("-s", a.socket, *args)
            self.assertEqual(r.returncode, 2, args)
        a.knobs(8080, no_url=1)
        r = self.run_ctl("-s", a.socket, "start", "8080")
        self.assertEqual((r.returncode, r.stdout.splitlines()[-1]), (4, "OK 8080 pending"))
        r = self.run_ctl("-s", a.socket, "json", "restart", "8080")
        self.assertEqual(r.returncode, 4, r.stdout)
        a.knobs(8080)
        r = self.run_ctl("-s", a.socket, "restart", "8080")
        self.assertEqual(r.returncode, 0, r.stdout)
        self.assertRegex(r.stdout, r"^OK 8080 https://")

    def test_socket_from_environment(self):
        a = self.agent()
        r = self.run_ctl("ping", env={"TETHER_SOCKET": a.socket})
        self.assertEqual((r.returncode, r.stdout), (0, "OK pong\n"))


class OtherClients(AgentTest):
    def test_socat_and_nc(self):
        a = self.agent()
        socat = shutil.which("socat")
        nc = shutil.which("nc")
        self.assertTrue(socat and nc, "socat and nc are installed by scripts/deps.sh test")
        r = subprocess.run([socat, "-", "UNIX-CONNECT:" + a.socket], input="ping\n",
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "OK pong\n")
        r = subprocess.run([nc, "-N", "-U", a.socket], input="ping\n",
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.stdout, "OK pong\n")


if __name__ == "__main__":
    main()
