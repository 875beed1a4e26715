"""Named tunnels and provisioning against the local fake Cloudflare API."""

import base64
import json
import os
import re
import signal
import stat
import threading
import urllib.request

from harness import AgentTest, main, proc_cmdline, wait_until

API_TOKEN = "cf-api-token-7c1e9a52f0d34b6e"
ZONE = "example.com"
HOST = "drone-7.example.com"


def tunnel_token(account, tunnel_id, secret):
    raw = json.dumps({"a": account, "t": tunnel_id, "s": secret}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


class ProvisionTest(AgentTest):
    def setUp(self):
        super().setUp()
        self.api = self.fake("fake_cfapi.py", "--token", API_TOKEN, "--zone", ZONE)

    def start_agent(self, extra="", env=None, token=API_TOKEN, stop_grace_s=2, args=(), requests_per_s=1000,
                    max_jobs=100, zone=ZONE):
        self.env_file = None
        a = self.agent(start=False, config=None, args=args)
        self.env_file = os.path.join(a.dir, "tunnels.env")
        a.write_config("""
[watchdog]
backoff_initial_ms = 100
backoff_max_ms = 400
stop_grace_s = %d
unhealthy_after_s = 120
[cloudflare]
api_base = %s/client/v4
zone = %s
env_file = %s
request_timeout_s = 1
requests_per_s = %d
max_jobs = %d
""" % (stop_grace_s, self.api.base, zone, self.env_file, requests_per_s, max_jobs) + extra)
        a.env["CLOUDFLARE_API_TOKEN"] = token
        a.env.update(env or {})
        return a.start()

    def state(self):
        s = self.api.admin("state")
        s["live"] = [t for t in s["tunnels"] if t["deleted_at"] is None]
        return s

    def cf(self, method, path, body=None):
        """A call to the fake API as another Cloudflare user would make it."""
        req = urllib.request.Request(
            "%s/client/v4%s" % (self.api.base, path), method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": "Bearer " + API_TOKEN, "Accept": "application/json", "User-Agent": "test",
                     **({} if body is None else {"Content-Type": "application/json"})})
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())["result"]

    def foreign_tunnel(self, name="drone-7", ingress=None):
        """A tunnel someone created in the dashboard, with their own routes."""
        account = self.state()["zones"][0]["account"]["id"]
        tid = self.cf("POST", "/accounts/%s/cfd_tunnel" % account, {"name": name, "config_src": "cloudflare"})["id"]
        if ingress:
            self.cf("PUT", "/accounts/%s/cfd_tunnel/%s/configurations" % (account, tid),
                    {"config": {"ingress": ingress + [{"service": "http_status:404"}]}})
        return tid

    def token_of(self, tunnel):
        return tunnel_token(tunnel["account_tag"], tunnel["id"], tunnel["secret"])

    def env_lines(self):
        with open(self.env_file) as f:
            return f.read().splitlines()

    def assert_provisioned(self, name="drone-7", service="http://localhost:80"):
        s = self.state()
        live = [t for t in s["live"] if t["name"] == name]
        self.assertEqual(len(live), 1, s["live"])
        t = live[0]
        self.assertEqual((t["config_src"], t["remote_config"]), ("cloudflare", True))
        host = name + "." + ZONE
        self.assertEqual(t["config"]["ingress"][0]["hostname"], host)
        self.assertEqual(t["config"]["ingress"][0]["service"], service)
        self.assertEqual(t["config"]["ingress"][-1], {"service": "http_status:404"})
        self.assertEqual(len(t["config"]["ingress"]), 2)
        records = [r for r in s["dns_records"] if r["name"] == host]
        self.assertEqual(len(records), 1, records)
        r = records[0]
        self.assertEqual((r["type"], r["content"], r["proxied"], r["ttl"]),
                         ("CNAME", t["id"] + ".cfargotunnel.com", True, 1))
        self.assertIn("tether", r["comment"])
        key = "CF_TUNNEL_TOKEN_" + name.upper().replace("-", "_")
        self.assertIn("%s=%s" % (key, self.token_of(t)), self.env_lines())
        self.assertEqual(stat.S_IMODE(os.stat(self.env_file).st_mode), 0o600)
        return t


class Provision(ProvisionTest):
    def test_fresh_provision(self):
        a = self.start_agent()
        _, status = a.request("provision drone-7")
        t = self.assert_provisioned()
        self.assertEqual(status, "OK provisioned drone-7 https://%s tunnel=%s" % (HOST, t["id"]))
        j = a.json("provision drone-7")
        self.assertEqual((j["url"], j["tunnel_id"]), ("https://" + HOST, t["id"]))

    def test_second_provision_changes_nothing(self):
        a = self.start_agent()
        with open(self.env_file, "w") as f:
            f.write("# operator's own lines stay\nOTHER=1\n")
        os.chmod(self.env_file, 0o600)
        first = a.request("provision drone-7")[1]
        before = self.state()
        st = os.stat(self.env_file)
        with open(self.env_file, "rb") as f:
            content = f.read()
        self.api.admin("requests/clear", {})
        self.assertEqual(a.request("provision drone-7")[1], first)
        after = self.state()
        self.assertEqual(len(after["live"]), 1)
        self.assertEqual(after["dns_records"], before["dns_records"])
        self.assertEqual([t["config_version"] for t in after["tunnels"]],
                         [t["config_version"] for t in before["tunnels"]])
        writes = [r for r in self.api.admin("requests")["requests"] if r["method"] != "GET"]
        self.assertEqual(writes, [])
        with open(self.env_file, "rb") as f:
            self.assertEqual(f.read(), content)
        self.assertEqual((os.stat(self.env_file).st_ino, os.stat(self.env_file).st_mtime_ns), (st.st_ino, st.st_mtime_ns))
        self.assertEqual(self.env_lines()[:2], ["# operator's own lines stay", "OTHER=1"])

    def test_service_argument(self):
        a = self.start_agent()
        self.assertTrue(a.request("provision drone-7 service=http://localhost:8080")[1].startswith("OK provisioned"))
        self.assert_provisioned(service="http://localhost:8080")
        # A different service is a change: the ingress is rewritten.
        self.assertTrue(a.request("provision drone-7 service=http://localhost:9090")[1].startswith("OK"))
        self.assert_provisioned(service="http://localhost:9090")

    def test_multi_level_host_name_is_warned_about(self):
        a = self.start_agent(zone="drones.example.com")
        lines, status = a.request("provision x")
        self.assertEqual(status.split(" tunnel=")[0], "OK provisioned x https://x.drones.example.com")
        self.assertEqual(lines, ["warning: x.drones.example.com is more than one level below the zone example.com: "
                                 "Cloudflare's universal certificate covers only example.com and *.example.com, so "
                                 "HTTPS to it fails until the zone has a certificate for *.drones.example.com "
                                 "(Advanced Certificate Manager), or use a zone of drones.example.com or a one-level "
                                 "name"])
        # One level below the zone is covered: no warning.
        b = self.start_agent()
        lines, status = b.request("provision drone-7")
        self.assertTrue(status.startswith("OK provisioned"), status)
        self.assertEqual(lines, [])

    def test_bad_requests(self):
        a = self.start_agent()
        self.assertIn("'ftp' is not a scheme cloudflared serves", a.request("provision drone-7 service=ftp://x")[1])
        self.assertIn("has a path", a.request("provision drone-7 service=http://localhost:80/app")[1])
        self.assertIn("is not a tunnel name", a.request("provision Drone")[1])
        self.assertIn("unknown argument 'servce=x'", a.request("provision drone-7 servce=x")[1])
        self.assertTrue(a.request("provision")[1].startswith("ERR usage provision <name>"))
        self.assertEqual(self.state()["live"], [])

    def test_deprovision_leaves_nothing(self):
        a = self.start_agent()
        a.request("provision drone-7 start")
        wait_until(lambda: a.json("status drone-7")["tunnel"]["state"] == "running", what="drone-7 running")
        self.assertEqual(a.request("deprovision drone-7")[1], "OK deprovisioned drone-7")
        s = self.state()
        self.assertEqual(s["live"], [])
        self.assertEqual(s["dns_records"], [])
        self.assertEqual([l for l in self.env_lines() if l.startswith("CF_TUNNEL_TOKEN_DRONE_7")], [])
        self.assertEqual(a.json("list")["tunnels"], [])
        self.assertEqual(a.children(), [])
        _, status = a.request("deprovision drone-7")
        self.assertTrue(status.startswith("ERR notfound nothing to deprovision"), status)

    def test_deprovision_retries_while_connections_linger(self):
        a = self.start_agent()
        a.request("provision drone-7")
        t = self.assert_provisioned()
        self.api.admin("tunnels/%s/connections" % t["id"], {"count": 1})
        self.api.admin("inject", {"method": "DELETE", "path": r"/accounts/[^/]+/cfd_tunnel/[^/]+/connections",
                                  "times": 1, "status": 404})
        self.assertEqual(a.request("deprovision drone-7")[1], "OK deprovisioned drone-7")
        self.assertEqual(self.state()["live"], [])

    def test_twenty_concurrent_provisions(self):
        a = self.start_agent()
        replies = {}

        def go(i):
            replies[i] = a.request("provision drone-%d" % i, timeout=60)[1]

        threads = [threading.Thread(target=go, args=(i,)) for i in range(1, 21)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, status in replies.items():
            self.assertTrue(status.startswith("OK provisioned drone-%d " % i), status)
        self.assertEqual(len(replies), 20)
        for i in range(1, 21):
            self.assert_provisioned("drone-%d" % i)
        self.assertEqual(len(self.state()["live"]), 20)

    def test_same_name_twice_at_once_makes_one_tunnel(self):
        a = self.start_agent()
        self.api.admin("latency", {"ms": 50})
        c1, c2 = a.client(timeout=60), a.client(timeout=60)
        c1.send("provision drone-7\n")
        c2.send("provision drone-7\n")
        s1, s2 = c1.read_reply(timeout=60)[1], c2.read_reply(timeout=60)[1]
        self.assertEqual(s1, s2)
        self.assertTrue(s1.startswith("OK provisioned"), s1)
        self.assertEqual(len(self.state()["live"]), 1)


class Faults(ProvisionTest):
    # (step name in the error, method, path regex) in workflow order.
    STEPS = [
        ("verify token", "GET", r"/user/tokens/verify"),
        ("find zone", "GET", r"/zones"),
        ("find tunnel", "GET", r"/accounts/[^/]+/cfd_tunnel"),
        ("create tunnel", "POST", r"/accounts/[^/]+/cfd_tunnel"),
        ("get ingress", "GET", r"/accounts/[^/]+/cfd_tunnel/[^/]+/configurations"),
        ("set ingress", "PUT", r"/accounts/[^/]+/cfd_tunnel/[^/]+/configurations"),
        ("find dns record " + HOST, "GET", r"/zones/[^/]+/dns_records"),
        ("create dns record " + HOST, "POST", r"/zones/[^/]+/dns_records"),
    ]

    def test_resume_after_a_failure_at_each_step(self):
        for step, method, path in self.STEPS:
            a = self.start_agent()  # a fresh agent has no zone answer cached
            self.api.admin("reset", {})
            with open(self.env_file, "w"):
                pass
            self.api.admin("inject", {"method": method, "path": path, "times": 1, "status": 403,
                                      "error": {"code": 10000, "message": "Authentication error"}})
            _, status = a.request("provision drone-7")
            self.assertEqual(status, "ERR api %s: 10000 Authentication error" % step)
            _, status = a.request("provision drone-7")
            self.assertTrue(status.startswith("OK provisioned"), (step, status))
            self.assert_provisioned()

    def test_get_token_step(self):
        # When the create reply holds no token, it is fetched separately.
        self.api.admin("options", {"create_returns_token": False})
        a = self.start_agent()
        self.api.admin("inject", {"method": "GET", "path": r"/accounts/[^/]+/cfd_tunnel/[^/]+/token", "times": 1,
                                  "status": 404, "error": {"code": 1002, "message": "tunnel not found"}})
        self.assertEqual(a.request("provision drone-7")[1], "ERR api get token: 1002 tunnel not found")
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"))
        self.assert_provisioned()

    def assert_recovers(self, fault, path=r"/zones", method="GET"):
        a = self.start_agent()
        fault.update({"method": method, "path": path, "times": 1})
        self.api.admin("inject", fault)
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"), fault)
        self.assert_provisioned()
        calls = [r for r in self.api.admin("requests")["requests"]
                 if r["method"] == method and re.fullmatch(path, r["api_path"])]
        self.assertGreaterEqual(len(calls), 2, "the call was retried")
        return a

    def test_429_waits_for_retry_after(self):
        a = self.assert_recovers({"status": 429, "headers": {"retry-after": "1"}})
        self.assertIn("retry 1/4 in 1.0s", a.log())

    def test_5xx_are_retried(self):
        for status in (500, 502, 503):
            self.assert_recovers({"status": status}, path=r"/accounts/[^/]+/cfd_tunnel", method="POST")
            self.api.admin("reset", {})

    def test_hang_past_the_timeout_is_retried(self):
        self.assert_recovers({"hang_s": 3}, path=r"/zones/[^/]+/dns_records", method="POST")

    def test_malformed_json_is_retried(self):
        self.assert_recovers({"malformed": True})

    def test_mistyped_success_is_retried(self):
        self.assert_recovers({"malformed": "success_string"}, path=r"/user/tokens/verify")

    def test_mistyped_replies_are_reported_and_the_agent_lives(self):
        a = self.start_agent()
        self.api.admin("inject", {"method": "GET", "path": r"/zones", "times": 5, "malformed": "success_string"})
        _, status = a.request("provision drone-7", timeout=60)
        self.assertEqual(status, "ERR api find zone: unreadable reply (HTTP 200, not a Cloudflare JSON envelope) "
                                 "(after 5 attempts)")
        self.api.admin("inject", {"method": "GET", "path": r"/zones", "times": 1, "status": 400,
                                  "malformed": "null_message"})
        _, status = a.request("provision drone-7")
        self.assertEqual(status, "ERR api find zone: 1400 (no message)")
        self.assertEqual(a.request("ping")[1], "OK pong")

    def test_requests_are_spaced_by_the_rate_limit(self):
        a = self.start_agent(requests_per_s=5)
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"))
        times = [r["t"] for r in self.api.admin("requests")["requests"]]
        self.assertGreaterEqual(len(times), 6)
        gaps = [b - t for t, b in zip(times, times[1:])]
        self.assertGreaterEqual(min(gaps), 0.18, gaps)

    def test_zone_and_token_answers_are_reused_for_a_minute(self):
        a = self.start_agent()
        for name in ("drone-1", "drone-2", "drone-3"):
            self.assertTrue(a.request("provision " + name)[1].startswith("OK provisioned"))
        paths = [r["api_path"] for r in self.api.admin("requests")["requests"]]
        self.assertEqual(paths.count("/user/tokens/verify"), 1, paths)
        self.assertEqual(paths.count("/zones"), 1, paths)

    def test_concurrent_jobs_are_capped(self):
        self.api.admin("latency", {"ms": 100})
        a = self.start_agent(max_jobs=2)
        replies = {}

        def go(i):
            replies[i] = a.request("provision drone-%d" % i, timeout=60)[1]
        threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertTrue(all(r.startswith("OK provisioned") for r in replies.values()), replies)
        self.assertIn("waiting for a free provisioning slot", a.log())
        # Each job has one request in flight at a time, each held 100 ms:
        # never more than two overlap.
        starts = sorted(r["t"] for r in self.api.admin("requests")["requests"])
        overlap = max(sum(1 for t in starts if s <= t < s + 0.095) for s in starts)
        self.assertEqual(overlap, 2)

    def test_persistent_5xx_gives_a_clear_error(self):
        a = self.start_agent()
        self.api.admin("inject", {"method": "GET", "path": r"/zones", "times": 10, "status": 503})
        _, status = a.request("provision drone-7", timeout=60)
        self.assertRegex(status, r"^ERR api find zone: \d+ .* \(after 5 attempts\)$")

    def test_tunnel_name_taken_reports_cloudflares_error(self):
        a = self.start_agent()
        self.api.admin("inject", {"method": "POST", "path": r"/accounts/[^/]+/cfd_tunnel", "times": 1, "status": 409,
                                  "error": {"code": 1013, "message": "You already have a tunnel with this name."}})
        _, status = a.request("provision drone-7")
        self.assertEqual(status, "ERR api create tunnel: 1013 You already have a tunnel with this name.")
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK"))

    def test_tunnel_created_meanwhile_is_adopted(self):
        a = self.start_agent()
        account = self.state()["zones"][0]["account"]["id"]
        # Another agent creates drone-7 right after our first look missed it.
        req = urllib.request.Request(
            "%s/client/v4/accounts/%s/cfd_tunnel" % (self.api.base, account),
            data=json.dumps({"name": "drone-7", "config_src": "cloudflare"}).encode(), method="POST",
            headers={"Authorization": "Bearer " + API_TOKEN, "Content-Type": "application/json",
                     "Accept": "application/json", "User-Agent": "test"})
        with urllib.request.urlopen(req) as r:
            theirs = json.loads(r.read())["result"]["id"]
        self.api.admin("inject", {"method": "GET", "path": r"/accounts/[^/]+/cfd_tunnel", "times": 1, "status": 200,
                                  "body": {"success": True, "errors": [], "messages": [], "result": [],
                                           "result_info": {"page": 1, "per_page": 20, "count": 0, "total_count": 0}}})
        _, status = a.request("provision drone-7")
        self.assertEqual(status, "OK provisioned drone-7 https://%s tunnel=%s" % (HOST, theirs))
        self.assertEqual(self.assert_provisioned()["id"], theirs)

    def test_foreign_tunnel_with_other_routes_is_not_taken_over(self):
        shop = {"hostname": "shop.example.com", "service": "http://localhost:9000"}
        theirs = self.foreign_tunnel(ingress=[shop])
        a = self.start_agent()
        _, status = a.request("provision drone-7")
        self.assertEqual(status, "ERR exists tunnel drone-7 (%s) already exists in the account, was not created by "
                                 "tether and routes shop.example.com; provisioning would replace those routes. Set "
                                 "adopt = true in [tunnel drone-7] to take it over, or provision another name" % theirs)
        t = [t for t in self.state()["live"] if t["id"] == theirs][0]
        self.assertEqual(t["config"]["ingress"][0]["hostname"], "shop.example.com")
        self.assertEqual(self.state()["dns_records"], [])
        # The operator decides to take it over.
        with open(a.config_path, "a") as f:
            f.write("[tunnel drone-7]\nadopt = true\n")
        self.assertTrue(a.request("reload")[1].startswith("OK reloaded"))
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"))
        self.assertEqual(self.assert_provisioned()["id"], theirs)
        # Adopted, so deprovision may now delete it.
        self.assertEqual(a.request("deprovision drone-7")[1], "OK deprovisioned drone-7")
        self.assertEqual(self.state()["live"], [])

    def test_foreign_tunnel_with_connectors_is_not_joined(self):
        theirs = self.foreign_tunnel()
        self.api.admin("tunnels/%s/connections" % theirs, {"count": 1})
        a = self.start_agent()
        _, status = a.request("provision drone-7")
        self.assertTrue(status.startswith("ERR exists tunnel drone-7 (%s) already exists in the account, was not "
                                          "created by tether and has running connectors" % theirs), status)

    def test_foreign_tunnel_is_never_deleted(self):
        theirs = self.foreign_tunnel(ingress=[{"hostname": "shop.example.com", "service": "http://localhost:9000"}])
        a = self.start_agent()
        _, status = a.request("deprovision drone-7")
        self.assertEqual(status, "ERR notfound nothing to deprovision: no tunnel 'drone-7' of tether's in the account, "
                                 "no CNAME %s of tether's and no CF_TUNNEL_TOKEN_DRONE_7 in %s; tunnel %s was not "
                                 "created or adopted by tether and is left in place" % (HOST, self.env_file, theirs))
        self.assertEqual([t["id"] for t in self.state()["live"]], [theirs])
        deletes = [r for r in self.api.admin("requests")["requests"] if r["method"] == "DELETE"]
        self.assertEqual(deletes, [])

    def test_record_exists_code(self):
        a = self.start_agent()
        self.api.admin("inject", {"method": "POST", "path": r"/zones/[^/]+/dns_records", "times": 1, "status": 400,
                                  "error": {"code": 81053,
                                            "message": "An A, AAAA, or CNAME record with that host already exists."}})
        self.assertEqual(a.request("provision drone-7")[1], "ERR api create dns record drone-7.example.com: 81053 An A, AAAA, or "
                                                              "CNAME record with that host already exists.")
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"))

    def test_bad_api_token(self):
        a = self.start_agent(token="not-the-right-token-0000")
        self.assertEqual(a.request("provision drone-7")[1], "ERR api verify token: 10000 Authentication error")

    def test_account_owned_token_without_account_id(self):
        self.api.admin("token", {"kind": "account"})
        a = self.start_agent()
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"))
        self.assert_provisioned()
        calls = [r["api_path"] for r in self.api.admin("requests")["requests"] if "verify" in r["api_path"]]
        account = self.state()["zones"][0]["account"]["id"]
        self.assertEqual(calls, ["/user/tokens/verify", "/accounts/%s/tokens/verify" % account])

    def test_expired_api_token(self):
        self.api.admin("token", {"status": "expired"})
        a = self.start_agent()
        self.assertEqual(a.request("provision drone-7")[1], "ERR api verify token: the API token is expired")

    def test_no_api_token(self):
        a = self.start_agent(token="")
        self.assertTrue(a.request("provision drone-7")[1].startswith(
            "ERR api verify token: no API token: set $CLOUDFLARE_API_TOKEN or [cloudflare] api_token_file"))

    def test_foreign_record_is_never_overwritten(self):
        a = self.start_agent()
        self.api.admin("dns_records", {"type": "A", "name": HOST, "content": "192.0.2.7"})
        _, status = a.request("provision drone-7")
        self.assertEqual(status, "ERR api find dns record: %s already has a A record (192.0.2.7) that tether did "
                                 "not create; remove it or provision another name" % HOST)
        self.assertEqual([r["type"] for r in self.state()["dns_records"]], ["A"])

    def test_our_old_record_is_repointed(self):
        a = self.start_agent()
        old = "0f0f0f0f-1111-4222-8333-444444444444"
        self.api.admin("dns_records", {"type": "CNAME", "name": HOST, "content": old + ".cfargotunnel.com",
                                       "proxied": True, "comment": "managed by tether tunnel " + old})
        self.assertTrue(a.request("provision drone-7")[1].startswith("OK provisioned"))
        self.assert_provisioned()

    def test_env_file_symlink_refused(self):
        a = self.start_agent()
        real = os.path.join(a.dir, "real.env")
        open(real, "w").close()
        os.symlink(real, self.env_file)
        _, status = a.request("provision drone-7")
        self.assertTrue(status.startswith("ERR envfile %s is a symlink" % self.env_file), status)


class NamedTunnels(ProvisionTest):
    def test_named_tunnel_runs_with_the_token_in_its_environment_only(self):
        a = self.start_agent()
        _, status = a.request("provision drone-7 start")
        t = self.assert_provisioned()
        token = self.token_of(t)
        st = wait_until(lambda: (lambda s: s if s["state"] == "running" else None)(a.json("status drone-7")["tunnel"]),
                        what="drone-7 running")
        self.assertEqual((st["kind"], st["url"], st["connections"]), ("named", "https://" + HOST, 4))
        cmd = proc_cmdline(st["pid"])
        self.assertEqual(cmd[1:3], [b"tunnel", b"--no-autoupdate"])
        self.assertEqual(cmd[-2], b"run")  # metrics before run, nothing after
        self.assertNotIn(token.encode(), b"\0".join(cmd))
        with open("/proc/%d/environ" % st["pid"], "rb") as f:
            self.assertIn(b"TUNNEL_TOKEN=" + token.encode(), f.read().split(b"\0"))
        lines, _ = a.request("list")
        self.assertIn("https://" + HOST, lines[1])
        # The token appears nowhere the operator or a log reader can see.
        seen = a.log() + self.api.log() + "\n".join(a.request("logs drone-7 200")[0])
        seen += json.dumps(a.json("status drone-7")) + "\n".join(a.request("status drone-7")[0])
        self.assertNotIn(token, seen)
        self.assertNotIn(API_TOKEN, seen)

    def test_children_get_an_allow_list_of_the_environment(self):
        other = tunnel_token("0123456789abcdef0123456789abcdef", "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
                             base64.b64encode(b"o" * 32).decode())
        a = self.start_agent(env={"TETHER_BOT_TOKEN": "123456:bot-secret-abcdefghij", "CF_TUNNEL_TOKEN_OTHER": other,
                                  "LC_ALL": "C.UTF-8", "HTTPS_PROXY": "http://127.0.0.1:3128",
                                  "no_proxy": "localhost", "TUNNEL_LOGLEVEL": "debug", "SOME_SETTING": "x",
                                  "TUNNEL_TOKEN": other})
        self.assertTrue(a.request("provision drone-7 start")[1].startswith("OK provisioned"))
        named = wait_until(lambda: a.json("status drone-7")["tunnel"]["pid"], what="drone-7 running")
        self.assertTrue(a.request("start 8080")[1].startswith("OK 8080"))
        quick = a.json("status 8080")["tunnel"]["pid"]
        allowed = {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "SSL_CERT_FILE", "SSL_CERT_DIR",
                   "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
                   "all_proxy"}
        inherited = {k for k in a.env if k in allowed or k.startswith("LC_") or k.startswith("FAKE_CF_")}
        self.assertTrue({"LC_ALL", "HTTPS_PROXY", "no_proxy", "PATH"} <= inherited)

        def environ(pid):
            with open("/proc/%d/environ" % pid, "rb") as f:
                return dict(e.decode().split("=", 1) for e in f.read().split(b"\0") if e)
        env = environ(named)
        self.assertEqual(set(env), inherited | {"TUNNEL_TOKEN"})
        self.assertEqual(env["TUNNEL_TOKEN"], self.token_of(self.assert_provisioned()))
        self.assertEqual(set(environ(quick)), inherited)

    def test_start_by_name_from_a_section_with_its_own_token_variable(self):
        token = tunnel_token("0123456789abcdef0123456789abcdef", "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
                             base64.b64encode(b"s" * 32).decode())
        a = self.start_agent("[tunnel cam-7]\ntoken_env = CAM_TOKEN\nhostname = cam.example.com\n",
                             env={"CAM_TOKEN": token})
        _, status = a.request("start cam-7")
        self.assertEqual(status, "OK cam-7 https://cam.example.com")
        self.assertNotIn(token, a.log())

    def test_named_tunnel_without_a_host_name_says_connected(self):
        token = tunnel_token("0123456789abcdef0123456789abcdef", "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
                             base64.b64encode(b"s" * 32).decode())
        a = self.agent("[tunnel cam-7]\ntoken_env = CAM_TOKEN\n", env={"CAM_TOKEN": token})
        self.assertEqual(a.request("start cam-7")[1], "OK cam-7 connected")
        self.assertIsNone(a.json("restart cam-7")["url"])

    def test_invalid_token_is_a_credentials_failure_not_a_restart_loop(self):
        a = self.start_agent("[tunnel cam-7]\ntoken_env = CAM_TOKEN\n", env={"CAM_TOKEN": "not-a-tunnel-token"})
        c = a.client()
        c.send("watch\n")
        c.read_reply()
        _, status = a.request("start cam-7")
        self.assertEqual(status, "ERR failed tunnel cam-7 bad credentials (Provided Tunnel token is not valid.); "
                                 "fix the token, then 'restart cam-7'")
        seen = []
        while not any(" failed " in l for l in seen):
            seen.append(c.read_line(timeout=20))
        text = "\n".join(seen)
        self.assertIn(" cam-7 credentials bad credentials: Provided Tunnel token is not valid.", text)
        self.assertNotIn(" restarted ", text)
        self.assertNotIn(" backoff ", text)
        st = a.json("status cam-7")["tunnel"]
        self.assertEqual((st["state"], st["last_error"], st["credentials_error"]),
                         ("failed", "Provided Tunnel token is not valid.", "Provided Tunnel token is not valid."))

    def test_stale_token_in_the_environment_is_warned_about(self):
        old = tunnel_token("0123456789abcdef0123456789abcdef", "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
                           base64.b64encode(b"s" * 32).decode())
        a = self.start_agent(env={"CF_TUNNEL_TOKEN_DRONE_7": old})
        lines, status = a.request("provision drone-7 start")
        self.assertTrue(status.startswith("OK provisioned"), status)
        warning = ("warning: $CF_TUNNEL_TOKEN_DRONE_7 in the agent's environment differs from CF_TUNNEL_TOKEN_DRONE_7 "
                   "in %s and wins over it" % self.env_file)
        self.assertTrue(lines and lines[0].startswith(warning), lines)
        wait_until(lambda: "tunnel drone-7: $CF_TUNNEL_TOKEN_DRONE_7 in the agent's environment differs" in a.log(),
                   what="the warning at start")
        self.assertNotIn(old, a.log())

    def test_token_file_that_is_a_fifo_never_freezes_the_agent(self):
        a = self.start_agent()
        os.mkfifo(self.env_file)
        _, status = a.request("start drone-7", timeout=10)
        self.assertIn("%s is not a regular file (a FIFO)" % self.env_file, status)
        self.assertEqual(a.request("ping", timeout=5)[1], "OK pong")

    def test_start_by_name_without_a_token(self):
        a = self.start_agent()
        _, status = a.request("start drone-9")
        self.assertEqual(status, "ERR notfound no tunnel 'drone-9': no [tunnel drone-9] section and no token: "
                                 "CF_TUNNEL_TOKEN_DRONE_9 is neither in the environment nor in %s (run "
                                 "'provision drone-9' first)" % self.env_file)

    def test_unauthorized_is_reported_and_not_retried_forever(self):
        tunnel_id = "6f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
        token = tunnel_token("0123456789abcdef0123456789abcdef", tunnel_id, base64.b64encode(b"s" * 32).decode())
        a = self.start_agent("[tunnel cam-7]\ntoken_env = CAM_TOKEN\n", env={"CAM_TOKEN": token})
        a.write_config(open(a.config_path).read().replace("unhealthy_after_s = 120", "unhealthy_after_s = 2"))
        a.request("reload")
        a.knobs(tunnel_id, unauthorized=1, retry_ms=200)
        c = a.client()
        c.send("watch\n")
        c.read_reply()
        a.request("start cam-7 nowait")
        seen = []
        while not any(" failed " in l for l in seen):
            seen.append(c.read_line(timeout=20))
        text = "\n".join(seen)
        credentials = [l for l in seen if " cam-7 credentials " in l]
        self.assertEqual(len(credentials), 1, text)
        self.assertIn("bad credentials: ", credentials[0])
        self.assertIn('error="Unauthorized: Invalid tunnel secret"', credentials[0])
        self.assertIn("bad credentials", [l for l in seen if " failed " in l][0])
        self.assertNotIn(" restarted ", text)
        st = a.json("status cam-7")["tunnel"]
        self.assertEqual(st["state"], "failed")
        self.assertIn("Unauthorized", st["credentials_error"])
        wait_until(lambda: a.json("status cam-7")["tunnel"]["pid"] is None, what="the child to stop")


class Shutdown(ProvisionTest):
    def test_sigterm_while_deprovision_waits_for_the_stop(self):
        # The child ignores SIGTERM, so the deprovision's stop is still in
        # its grace when the agent is told to exit.
        pidfile = os.path.join(self.api.dir, "tetherd.pid")
        a = self.start_agent(env={"FAKE_CF_IGNORE_TERM": "1"}, stop_grace_s=5, args=["--pidfile", pidfile])
        self.assertTrue(a.request("provision drone-7 start")[1].startswith("OK provisioned"))
        wait_until(lambda: a.json("status drone-7")["tunnel"]["state"] == "running", what="drone-7 running")
        c = a.client()
        c.send("deprovision drone-7\n")
        wait_until(lambda: a.json("status drone-7")["tunnel"]["state"] == "stopping", what="drone-7 stopping")
        state_file = os.path.join(a.state_dir, "state.json")
        before = os.stat(state_file).st_mtime_ns
        a.signal(signal.SIGTERM)
        self.assertEqual(a.wait(), 0, a.log())
        self.assertFalse(os.path.exists(pidfile))
        self.assertGreater(os.stat(state_file).st_mtime_ns, before)
        with open(state_file) as f:
            records = json.load(f)["tunnels"]
        self.assertEqual([r["pid"] for r in records], [0] * len(records), records)
        self.assertEqual(a.children(), [])


if __name__ == "__main__":
    main()
