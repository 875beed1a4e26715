"""Named tunnels with several routes (`route = HOST -> SERVICE` lines) provisioned
against the local fake Cloudflare API: ingress, one CNAME per host name,
removal of what a dropped route leaves, and a reload that changes only routes."""

import re

from harness import main, wait_until
from test_provision import ProvisionTest

ROUTES = """[tunnel cam]
route = cam.example.com -> http://localhost:8081
route = api.example.com -> https://localhost:8443 noTLSVerify=true httpHostHeader=api.local connectTimeout=10s
route = ssh.example.com -> ssh://localhost:22
"""
HOSTS = ["cam.example.com", "api.example.com", "ssh.example.com"]


class Routes(ProvisionTest):
    def tunnel(self, name="cam"):
        live = [t for t in self.state()["live"] if t["name"] == name]
        self.assertEqual(len(live), 1, live)
        return live[0]

    def cnames(self, tunnel_id):
        return sorted(r["name"] for r in self.state()["dns_records"]
                      if r["type"] == "CNAME" and r["content"] == tunnel_id + ".cfargotunnel.com")

    def writes(self):
        return [(r["method"], r["path"]) for r in self.api.admin("requests")["requests"] if r["method"] != "GET"]

    def reconfigure(self, agent, old, new):
        with open(agent.config_path) as f:
            text = f.read()
        self.assertIn(old, text)
        with open(agent.config_path, "w") as f:
            f.write(text.replace(old, new))
        self.assertTrue(agent.request("reload")[1].startswith("OK reloaded"))

    def test_three_routes_are_provisioned_and_reported(self):
        a = self.start_agent(ROUTES)
        lines, status = a.request("provision cam")
        t = self.tunnel()
        self.assertEqual(status, "OK provisioned cam https://cam.example.com tunnel=%s" % t["id"])
        self.assertEqual(lines, ["route https://cam.example.com -> http://localhost:8081",
                                 "route https://api.example.com -> https://localhost:8443",
                                 "route https://ssh.example.com -> ssh://localhost:22"])
        self.assertEqual(t["config"]["ingress"], [
            {"hostname": "cam.example.com", "service": "http://localhost:8081"},
            {"hostname": "api.example.com", "service": "https://localhost:8443",
             "originRequest": {"noTLSVerify": True, "httpHostHeader": "api.local", "connectTimeout": 10}},
            {"hostname": "ssh.example.com", "service": "ssh://localhost:22"},
            {"service": "http_status:404"}])
        self.assertEqual(self.cnames(t["id"]), sorted(HOSTS))
        j = a.json("provision cam")
        self.assertEqual([r["url"] for r in j["routes"]], ["https://" + h for h in HOSTS])

    def test_second_provision_writes_nothing(self):
        a = self.start_agent(ROUTES)
        first = a.request("provision cam")
        self.api.admin("requests/clear", {})
        self.assertEqual(a.request("provision cam"), first)
        self.assertEqual(self.writes(), [])

    def test_a_removed_route_loses_its_cname(self):
        a = self.start_agent(ROUTES)
        self.assertTrue(a.request("provision cam")[1].startswith("OK provisioned"))
        tid = self.tunnel()["id"]
        # A record someone made by hand for the same tunnel is not tether's to remove.
        self.api.admin("dns_records", {"type": "CNAME", "name": "hand.example.com", "content": tid + ".cfargotunnel.com",
                                       "proxied": True})
        self.reconfigure(a, "route = ssh.example.com -> ssh://localhost:22\n", "")
        # The reload provisions the new routes on its own.
        wait_until(lambda: self.cnames(tid) == ["api.example.com", "cam.example.com", "hand.example.com"],
                   what="the ssh CNAME removed")
        wait_until(lambda: len(self.tunnel()["config"]["ingress"]) == 3, what="the ingress without ssh")
        self.assertEqual(a.request("provision cam")[1], "OK provisioned cam https://cam.example.com tunnel=" + tid)

    def test_deprovision_removes_every_record(self):
        a = self.start_agent(ROUTES)
        self.assertTrue(a.request("provision cam")[1].startswith("OK provisioned"))
        tid = self.tunnel()["id"]
        self.assertEqual(a.request("deprovision cam")[1], "OK deprovisioned cam")
        self.assertEqual(self.cnames(tid), [])
        self.assertEqual([t for t in self.state()["live"] if t["name"] == "cam"], [])
        self.assertEqual([l for l in self.env_lines() if "CAM" in l], [])

    def test_reload_of_routes_only_keeps_the_child(self):
        a = self.start_agent(ROUTES)
        self.assertTrue(a.request("provision cam start")[1].startswith("OK provisioned"))
        before = wait_until(lambda: (lambda t: t if t["state"] == "running" else None)(a.json("status cam")["tunnel"]),
                            what="cam running")
        tid = self.tunnel()["id"]
        self.reconfigure(a, "route = cam.example.com -> http://localhost:8081\n",
                         "route = video.example.com -> http://localhost:8090\n")
        wait_until(lambda: self.tunnel()["config"]["ingress"][0].get("hostname") == "video.example.com",
                   what="the new ingress")
        wait_until(lambda: "video.example.com" in self.cnames(tid) and "cam.example.com" not in self.cnames(tid),
                   what="the CNAMEs follow the routes")
        st = a.json("status cam")["tunnel"]
        self.assertEqual((st["pid"], st["restarts"], st["state"], st["url"]),
                         (before["pid"], before["restarts"], "running", "https://video.example.com"))
        self.assertIn("routes changed; updating its ingress and DNS names", a.log())

    def test_cname_pointing_elsewhere_names_the_host(self):
        a = self.start_agent(ROUTES)
        self.api.admin("dns_records", {"type": "CNAME", "name": "api.example.com", "content": "shop.example.net",
                                       "proxied": True})
        _, status = a.request("provision cam")
        self.assertEqual(status, "ERR api find dns record: api.example.com already has a CNAME record "
                                 "(shop.example.net) that tether did not create; remove it or provision another name")
        # The record that was there stays as it was.
        self.assertEqual([r["content"] for r in self.state()["dns_records"] if r["name"] == "api.example.com"],
                         ["shop.example.net"])

    def test_cloudflares_refusal_names_the_route(self):
        a = self.start_agent(ROUTES)
        self.api.admin("inject", {"method": "POST", "path": r"/zones/[^/]+/dns_records", "times": 1, "status": 400,
                                  "error": {"code": 81053,
                                            "message": "An A, AAAA, or CNAME record with that host already exists."}})
        _, status = a.request("provision cam")
        self.assertEqual(status, "ERR api create dns record cam.example.com: 81053 An A, AAAA, or CNAME record with "
                                 "that host already exists.")

    def test_service_argument_needs_a_one_route_tunnel(self):
        a = self.start_agent(ROUTES)
        _, status = a.request("provision cam service=http://localhost:9000")
        self.assertTrue(re.match(r"ERR usage provision <name> \[service=<url>\] \[start\]: service= applies only to "
                                 r"a one-route tunnel; \[tunnel cam\] has 3 routes", status), status)
        self.assertEqual(self.state()["live"], [])


if __name__ == "__main__":
    main()
