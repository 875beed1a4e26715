"""Many routes behind one tunnel, a locally managed tunnel run from its own
config.yml, and the Go runtime knobs each child gets: what list, json list,
status and start show, the child's argv and environment, and that tether
never writes the config.yml it runs.
"""

import base64
import json
import os
import signal
import uuid

from harness import AgentTest, main, proc_cmdline, wait_until

URL_COLUMN = " " * 26
ZONE = "[cloudflare]\nzone = example.com\n"
HOSTS = ["video.example.com", "ui.example.com", "ssh.example.com"]


def token():
    body = {"a": "0123456789abcdef0123456789abcdef", "t": str(uuid.uuid4()),
            "s": base64.b64encode(os.urandom(32)).decode()}
    return base64.b64encode(json.dumps(body, separators=(",", ":")).encode()).decode()


def environ(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return [e.decode() for e in f.read().split(b"\0") if e]


class Routes(AgentTest):
    def test_three_routes_in_list_status_and_start(self):
        a = self.agent(ZONE + "[tunnel drone]\n"
                       "route = video.example.com -> http://localhost:8080\n"
                       "route = ui.example.com -> https://localhost:8443 noTLSVerify=true\n"
                       "route = ssh.example.com -> ssh://localhost:22 connectTimeout=10s\n"
                       "[tunnel one]\n",
                       env={"CF_TUNNEL_TOKEN_DRONE": token(), "CF_TUNNEL_TOKEN_ONE": token()})
        self.assertEqual(a.request("start drone")[1], "OK drone https://video.example.com (3 routes)")
        # One route: the reply is as it always was.
        self.assertEqual(a.request("start one")[1], "OK one https://one.example.com")
        a.ok("stop one")
        lines, _ = a.request("list")
        self.assertRegex(lines[1], r"^drone\s+named\s+running\s+https://video\.example\.com\s+\d+\s")
        self.assertEqual(lines[2:], [URL_COLUMN + "https://ui.example.com", URL_COLUMN + "https://ssh.example.com"])
        t = a.json("list")["tunnels"][0]
        self.assertEqual((t["url"], t["hostnames"], t["kind"]), ("https://video.example.com", HOSTS, "named"))
        lines, status = a.request("status drone")
        self.assertEqual(status, "OK drone running")
        self.assertIn("url: https://video.example.com", lines)
        self.assertIn("hostnames: video.example.com, ui.example.com, ssh.example.com", lines)
        self.assertEqual(a.json("status drone")["tunnel"]["hostnames"], HOSTS)
        a.ok("stop drone")
        j = a.json("start drone")
        self.assertEqual((j["ok"], j["url"], j["routes"]), (True, "https://video.example.com", 3))

    def test_single_route_list_is_one_line(self):
        a = self.agent(ZONE + "[tunnel one]\n", env={"CF_TUNNEL_TOKEN_ONE": token()})
        a.ok("start one")
        lines, _ = a.request("list")
        self.assertEqual(len(lines), 2, lines)
        self.assertEqual(a.json("list")["tunnels"][0]["hostnames"], ["one.example.com"])
        self.assertFalse(any(l.startswith("hostnames:") for l in a.request("status one")[0]))


class GoKnobs(AgentTest):
    def test_knobs_per_tunnel_in_the_childs_environment(self):
        a = self.agent("[cloudflared]\npass_env = FAKE_CF_* GOMAXPROCS\nmemory_limit = 20MiB\nmax_procs = 1\n"
                       "gc_percent = 50\n"
                       "[tunnel big]\ntype = quick\nport = 8080\nmemory_limit = 64MiB\ngc_percent = off\n"
                       "[tunnel small]\ntype = quick\nport = 8081\n",
                       env={"GOMAXPROCS": "8"})
        env_log = os.path.join(a.dir, "env.log")
        for key in ("8080", "8081"):
            a.knobs(key, env_log=env_log)
        a.ok("start big")
        a.ok("start small")

        def reported():
            if not os.path.exists(env_log):
                return None
            with open(env_log) as f:
                by_key = {l.split()[1]: l.split()[2:] for l in f.read().splitlines()}
            return len(by_key) == 2 and by_key
        by_key = wait_until(reported, what="both children's environment reports")
        self.assertEqual(by_key["8080"], ["GOMEMLIMIT=64MiB", "GOMAXPROCS=1", "GOGC=off"])
        self.assertEqual(by_key["8081"], ["GOMEMLIMIT=20MiB", "GOMAXPROCS=1", "GOGC=50"])
        # The agent's own GOMAXPROCS, passed on by pass_env, gives way to the knob.
        pid = a.json("status big")["tunnel"]["pid"]
        self.assertEqual([e for e in environ(pid) if e.startswith("GOMAXPROCS=")], ["GOMAXPROCS=1"])

    def test_no_knobs_no_variables(self):
        a = self.agent("[tunnel web]\ntype = quick\nport = 8082\n")
        env_log = os.path.join(a.dir, "env.log")
        a.knobs("8082", env_log=env_log)
        a.ok("start web")
        wait_until(lambda: os.path.exists(env_log), what="the environment report")
        with open(env_log) as f:
            self.assertEqual(f.read().split()[1:], ["8082", "-"])


class LocalTunnel(AgentTest):
    TUNNEL = "6ff42ae2-765d-4adf-8112-31c55c1551ef"

    def yml(self, directory, hosts):
        path = os.path.join(directory, "config.yml")
        creds = os.path.join(directory, self.TUNNEL + ".json")
        with open(creds, "w") as f:
            f.write('{"AccountTag":"0123456789abcdef0123456789abcdef","TunnelSecret":"c2VjcmV0",'
                    '"TunnelID":"%s"}' % self.TUNNEL)
        rules = "".join("  - hostname: %s\n    service: http://localhost:8080\n" % h for h in hosts)
        with open(path, "w") as f:
            f.write("tunnel: %s\ncredentials-file: %s\n\ningress:\n%s  - service: http_status:404\n"
                    % (self.TUNNEL, creds, rules))
        return path

    def fingerprint(self, path):
        st = os.stat(path)
        with open(path, "rb") as f:
            return f.read(), st.st_mtime_ns, st.st_ino

    def test_runs_from_its_config_and_never_writes_it(self):
        a = self.agent(None, start=False)
        path = self.yml(a.dir, ["cam.example.com", "ssh.example.com"])
        a.write_config(ZONE + "[tunnel home]\ntype = local\nconfig = %s\nmax_procs = 1\n" % path)
        a.start()
        before = self.fingerprint(path)
        self.assertEqual(a.request("start home")[1], "OK home https://cam.example.com (2 routes)")
        pid = a.json("status home")["tunnel"]["pid"]
        argv = [x.decode() for x in proc_cmdline(pid) if x]
        self.assertEqual(argv[-3:], ["--config", path, "run"])
        self.assertIn("--metrics", argv)
        self.assertIn("--no-autoupdate", argv)
        env = environ(pid)
        self.assertFalse([e for e in env if e.startswith("TUNNEL_TOKEN=")])
        self.assertIn("GOMAXPROCS=1", env)

        lines, _ = a.request("list")
        self.assertRegex(lines[1], r"^home\s+local\s+running\s+https://cam\.example\.com\s")
        self.assertEqual(lines[2:], [URL_COLUMN + "https://ssh.example.com",
                                     URL_COLUMN + "tunnel %s from %s" % (self.TUNNEL, path)])
        t = a.json("list")["tunnels"][0]
        self.assertEqual((t["kind"], t["tunnel_id"], t["config"], t["hostnames"]),
                         ("local", self.TUNNEL, path, ["cam.example.com", "ssh.example.com"]))
        lines, _ = a.request("status home")
        self.assertIn("config: " + path, lines)
        self.assertIn("tunnel: " + self.TUNNEL, lines)

        _, status = a.request("provision home")
        self.assertTrue(status.startswith("ERR usage provision <name> [service=<url>] [start]: [tunnel home] is "
                                          "locally managed (type = local)"), status)
        _, status = a.request("deprovision home")
        self.assertTrue(status.startswith("ERR usage deprovision <name>: [tunnel home] is locally managed"), status)

        self.assertEqual(a.request("reload")[1], "OK reloaded " + a.config_path)
        a.ok("restart home")
        a.ok("stop home")
        a.signal(signal.SIGHUP)
        wait_until(lambda: a.log().count("configuration %s reloaded" % a.config_path) == 2,
                   what="the SIGHUP reload")
        self.assertEqual(self.fingerprint(path), before)

    def test_a_changed_config_yml_is_read_again(self):
        a = self.agent(None, start=False)
        path = self.yml(a.dir, ["cam.example.com"])
        a.write_config("[watchdog]\nstart_wait_s = 2\n[tunnel home]\ntype = local\nconfig = %s\nautostart = yes\n"
                       % path)
        a.start()
        wait_until(lambda: a.json("status home")["tunnel"]["state"] == "running", what="home running")
        pid = a.json("status home")["tunnel"]["pid"]
        self.yml(a.dir, ["cam.example.com", "web.example.com"])
        self.assertEqual(a.request("reload")[1], "OK reloaded " + a.config_path)
        wait_until(lambda: a.json("status home")["tunnel"]["hostnames"] == ["cam.example.com", "web.example.com"]
                   and a.json("status home")["tunnel"]["pid"] not in (None, pid), what="home restarted with 2 hosts")
        # Broken between two starts: the spawn fails with the file's own line.
        with open(path, "a") as f:
            f.write("ingress: [oops]\n")
        a.request("restart home")
        wait_until(lambda: a.json("status home")["tunnel"].get("last_exit", "").startswith(
            "not started: %s:10: 'ingress:' must be followed by its rules" % path), what="the config.yml error")

    def test_a_broken_config_yml_is_a_config_error(self):
        a = self.agent(None, start=False)
        path = os.path.join(a.dir, "config.yml")
        with open(path, "w") as f:
            f.write("tunnel: x\ningress:\n  - hostname: a.example.com\n    service: http://localhost:1\n")
        a.write_config("[tunnel home]\ntype = local\nconfig = %s\n" % path)
        a.start(wait=False)
        a.proc.wait(timeout=30)
        self.assertNotEqual(a.proc.returncode, 0)
        self.assertIn("%s:3: [tunnel home] config: %s:3: the last ingress rule must match everything"
                      % (a.config_path, path), a.log())


if __name__ == "__main__":
    main()
