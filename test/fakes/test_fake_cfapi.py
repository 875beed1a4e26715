#!/usr/bin/python3
"""Self-test of fake_cfapi.py: starts it as a subprocess on port 0 and talks to it
with urllib, the way tether's tests will (through its HTTP interface only).

    /usr/bin/python3 -m unittest test/fakes/test_fake_cfapi.py
    /usr/bin/python3 test/fakes/test_fake_cfapi.py
"""

import base64
import http.client
import importlib.util
import json
import os
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
from urllib.parse import urlencode

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import fakeclient  # noqa: E402
from fakeclient import stop_fake  # noqa: E402

FAKE = os.path.join(HERE, "fake_cfapi.py")
TOKEN = "tEsT-api-token_0123456789abcdefghijklmn"
ZONE = "example.com"
HOST = "drone-7.example.com"
MARKER = "managed by tether tunnel "
EXAMPLE_TOKEN = ("eyJhIjoiNjk5ZDk4NjQyYzU2NGQyZTg1NWU5NjYxODk5YjcyNTIiLCJ0IjoiZjcwZmY5ODUtYTRlZi00NjQzLWJiYmMtNG"
                 "EwZWQ0ZmM4NDE1IiwicyI6IkFRSURCQVVHQndnQkFnTUVCUVlIQ0FFQ0F3UUZCZ2NJQVFJREJBVUdCd2c9In0=")
SECRET_64 = base64.b64encode(bytes(range(40))).decode()
CODE_INVALID = 1001  # the fake's code for a failed validation ("Invalid request: ...")


def start_fake(tmpdir, *extra):
    return fakeclient.start_fake(FAKE, tmpdir, "--token", TOKEN, "--zone", ZONE, *extra)


class Client(fakeclient.Client):
    """No default headers: each test says exactly what it sends."""

    def __init__(self, port):
        super().__init__(port)
        self.opener.addheaders = []  # no implicit User-Agent

    def api(self, method, path, body=None, query=None, headers=None, raw=None, **kw):
        """A well-formed API request; `headers` overrides (None removes a header)."""
        h = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json",
             "User-Agent": "tether-selftest/1"}
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        url = "/client/v4" + path + ("?" + urlencode(query) if query else "")
        return self.request(method, url, data, h, **kw)


class FakeTestCase(fakeclient.FakeTestCase):
    start = staticmethod(start_fake)
    client = Client

    def setUp(self):
        super().setUp()
        zone = self.state()["zones"][0]
        self.zone_id, self.account = zone["id"], zone["account"]["id"]

    # -- helpers

    def state(self):
        return self.c.admin("GET", "/state")[1]

    def requests(self):
        return self.c.admin("GET", "/requests")[1]["requests"]

    def last_request(self):
        return self.requests()[-1]

    def inject(self, **fault):
        status, reply = self.c.admin("POST", "/inject", fault)
        self.assertEqual(status, 200, reply)
        return reply["fault"]

    def ok(self, method, path, body=None, **kw):
        status, payload, _ = self.c.api(method, path, body, **kw)
        self.assertEqual(status, 200, payload)
        self.assertIs(payload["success"], True, payload)
        self.assertEqual(payload["errors"], [])
        return payload

    def fails(self, http_status, code, method, path, body=None, **kw):
        status, payload, _ = self.c.api(method, path, body, **kw)
        self.assertEqual((status, payload["success"]), (http_status, False), payload)
        self.assertIsNone(payload["result"])
        self.assertEqual(payload["errors"][0]["code"], code, payload)
        return payload

    def rejected(self, http_status, code, method, path, body=None, **kw):
        """A strict check must refuse the request and record it as rejected."""
        payload = self.fails(http_status, code, method, path, body, **kw)
        entry = self.last_request()
        self.assertTrue(entry["rejected"], entry)
        self.assertTrue(entry["reject_reason"])
        return payload

    def create_tunnel(self, name="drone-7", **extra):
        return self.ok("POST", f"/accounts/{self.account}/cfd_tunnel",
                       {"name": name, "config_src": "cloudflare", **extra})["result"]

    def cname(self, tunnel_id, name=HOST, **extra):
        return {"type": "CNAME", "name": name, "content": f"{tunnel_id}.cfargotunnel.com",
                "proxied": True, "ttl": 1, "comment": MARKER + tunnel_id, **extra}

    def ingress(self, hostname=HOST, service="http://localhost:8080"):
        return {"config": {"ingress": [{"hostname": hostname, "service": service},
                                       {"service": "http_status:404"}]}}


class ProvisionTest(FakeTestCase):
    def test_full_provision_sequence(self):
        # 1. verify
        v = self.ok("GET", "/user/tokens/verify")
        self.assertEqual(v["result"]["status"], "active")
        self.assertEqual(v["messages"][0]["code"], 10000)
        # 2. zone: walk the suffixes of the host
        self.assertEqual(self.ok("GET", "/zones", query={"name": HOST})["result"], [])
        zones = self.ok("GET", "/zones", query={"name": ZONE, "status": "active"})
        self.assertEqual(zones["result_info"]["count"], 1)
        zone = zones["result"][0]
        self.assertEqual((zone["id"], zone["account"]["id"]), (self.zone_id, self.account))
        acc = f"/accounts/{zone['account']['id']}"
        # 3. tunnel: list by name, then create
        listing = self.ok("GET", acc + "/cfd_tunnel", query={"name": "drone-7", "is_deleted": "false"})
        self.assertEqual(listing["result"], [])
        self.assertIn("result_info", listing)
        t = self.ok("POST", acc + "/cfd_tunnel", {"name": "drone-7", "config_src": "cloudflare"})["result"]
        self.assertEqual((t["name"], t["deleted_at"], t["remote_config"]), ("drone-7", None, True))
        decoded = json.loads(base64.b64decode(t["token"], validate=True))
        self.assertEqual(list(decoded), ["a", "t", "s"])
        self.assertEqual((decoded["a"], decoded["t"]), (self.account, t["id"]))
        self.assertEqual(decoded["s"], t["credentials_file"]["TunnelSecret"])
        self.assertGreaterEqual(len(base64.b64decode(decoded["s"])), 32)
        # 6. token endpoint returns the same bare string
        token = self.ok("GET", f"{acc}/cfd_tunnel/{t['id']}/token")["result"]
        self.assertEqual(token, t["token"])
        # 4. ingress
        cfg = self.ok("PUT", f"{acc}/cfd_tunnel/{t['id']}/configurations", self.ingress())["result"]
        self.assertEqual((cfg["tunnel_id"], cfg["version"]), (t["id"], 1))
        self.assertEqual(cfg["config"]["ingress"][0]["hostname"], HOST)
        got = self.ok("GET", f"{acc}/cfd_tunnel/{t['id']}/configurations")["result"]
        self.assertEqual(got, cfg)
        # 5. DNS: list (no type), then create the CNAME
        dns = f"/zones/{self.zone_id}/dns_records"
        self.assertEqual(self.ok("GET", dns, query={"name.exact": HOST})["result"], [])
        rec = self.ok("POST", dns, self.cname(t["id"]))["result"]
        self.assertEqual((rec["type"], rec["name"], rec["proxied"], rec["ttl"]), ("CNAME", HOST, True, 1))
        self.assertEqual(rec["content"], f"{t['id']}.cfargotunnel.com")
        self.assertEqual(self.ok("GET", dns, query={"name.exact": HOST})["result"], [rec])
        self.assertEqual(self.ok("GET", dns, query={"name": HOST, "type": "CNAME"})["result"], [rec])
        # state and log agree
        st = self.state()
        self.assertEqual(st["tunnels"][0]["config"]["ingress"][0]["service"], "http://localhost:8080")
        self.assertEqual(st["dns_records"][0]["id"], rec["id"])
        log = self.requests()
        self.assertEqual(len(log), 12)
        self.assertFalse(any(e["rejected"] for e in log))
        self.assertEqual(log[0]["headers"]["Authorization"], "<redacted>")
        self.assertEqual(log[1]["query"], {"name": HOST})
        self.assertEqual(log[4]["body"], {"name": "drone-7", "config_src": "cloudflare"})

    def test_token_format_matches_reference_example(self):
        sys.dont_write_bytecode = True  # leave no __pycache__ next to the fake
        spec = importlib.util.spec_from_file_location("fake_cfapi", FAKE)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        self.assertEqual(mod.tunnel_token("699d98642c564d2e855e9661899b7252",
                                          "f70ff985-a4ef-4643-bbbc-4a0ed4fc8415",
                                          "AQIDBAUGBwgBAgMEBQYHCAECAwQFBgcIAQIDBAUGBwg="), EXAMPLE_TOKEN)

    def test_supplied_secret_is_used(self):
        t = self.create_tunnel(tunnel_secret=SECRET_64)
        token = self.ok("GET", f"/accounts/{self.account}/cfd_tunnel/{t['id']}/token")["result"]
        self.assertEqual(json.loads(base64.b64decode(token))["s"], SECRET_64)
        self.assertEqual(self.state()["tunnels"][0]["secret"], SECRET_64)

    def test_config_src_defaults_to_local(self):
        t = self.ok("POST", f"/accounts/{self.account}/cfd_tunnel", {"name": "plain"})["result"]
        self.assertEqual((t["config_src"], t["remote_config"]), ("local", False))

    def test_create_without_token_knob(self):
        self.c.admin("POST", "/options", {"create_returns_token": False, "create_returns_credentials": False})
        t = self.create_tunnel()
        self.assertNotIn("token", t)
        self.assertNotIn("credentials_file", t)
        self.ok("GET", f"/accounts/{self.account}/cfd_tunnel/{t['id']}/token")

    def test_tunnel_pagination(self):
        for i in range(3):
            self.create_tunnel(f"t{i}")
        path = f"/accounts/{self.account}/cfd_tunnel"
        p1 = self.ok("GET", path, query={"per_page": 2, "page": 1})
        p2 = self.ok("GET", path, query={"per_page": 2, "page": 2})
        self.assertEqual((len(p1["result"]), len(p2["result"])), (2, 1))
        self.assertEqual(p2["result_info"], {"page": 2, "per_page": 2, "count": 1, "total_count": 3})

    def test_account_verify_for_account_owned_token(self):
        self.c.admin("POST", "/token", {"kind": "account"})
        self.fails(403, 1000, "GET", "/user/tokens/verify")
        self.assertFalse(self.last_request()["rejected"])  # a legitimate answer, not an agent bug
        v = self.ok("GET", f"/accounts/{self.account}/tokens/verify")
        self.assertEqual(v["result"]["status"], "active")

    def test_disabled_token(self):
        self.c.admin("POST", "/token", {"status": "disabled"})
        self.assertEqual(self.ok("GET", "/user/tokens/verify")["result"]["status"], "disabled")
        self.rejected(403, 10000, "GET", "/zones")

    def test_subzone_lookup(self):
        _, reply = self.c.admin("POST", "/zones", {"name": "sub.example.com"})
        found = self.ok("GET", "/zones", query={"name": "sub.example.com"})["result"]
        self.assertEqual([z["id"] for z in found], [reply["zone"]["id"]])
        self.assertEqual(found[0]["account"]["id"], self.account)


class IdempotencyTest(FakeTestCase):
    def test_duplicate_tunnel_is_409_1013(self):
        self.create_tunnel()
        p = self.fails(409, 1013, "POST", f"/accounts/{self.account}/cfd_tunnel",
                       {"name": "drone-7", "config_src": "cloudflare"})
        self.assertEqual(p["errors"][0]["message"],
                         "You already have a tunnel with this name. Delete the existing tunnel, "
                         "or choose a different name for your new tunnel")
        self.assertFalse(self.last_request()["rejected"])
        self.assertEqual(len(self.state()["tunnels"]), 1)

    def test_identical_record_is_81058(self):
        t = self.create_tunnel()
        dns = f"/zones/{self.zone_id}/dns_records"
        self.ok("POST", dns, self.cname(t["id"]))
        p = self.fails(400, 81058, "POST", dns, self.cname(t["id"]))
        self.assertEqual(p["errors"][0]["message"], "An identical record already exists.")
        self.c.admin("POST", "/options", {"dns_identical_code": 81057})
        self.fails(400, 81057, "POST", dns, self.cname(t["id"]))
        self.assertEqual(len(self.state()["dns_records"]), 1)

    def test_foreign_records_are_81053(self):
        t = self.create_tunnel()
        dns = f"/zones/{self.zone_id}/dns_records"
        status, reply = self.c.admin("POST", "/dns_records",
                                     {"type": "A", "name": HOST, "content": "192.0.2.7", "proxied": False, "ttl": 300})
        self.assertEqual(status, 200, reply)
        p = self.fails(400, 81053, "POST", dns, self.cname(t["id"]))
        self.assertEqual(p["errors"][0]["message"], "An A, AAAA, or CNAME record with that host already exists.")
        listed = self.ok("GET", dns, query={"name.exact": HOST})["result"]
        self.assertEqual([(r["type"], r["content"]) for r in listed], [("A", "192.0.2.7")])

    def test_foreign_cname_and_a_record_after_cname(self):
        t = self.create_tunnel()
        dns = f"/zones/{self.zone_id}/dns_records"
        self.c.admin("POST", "/dns_records", {"type": "CNAME", "name": HOST, "content": "elsewhere.example.net"})
        self.fails(400, 81053, "POST", dns, self.cname(t["id"]))
        self.fails(400, 81054, "POST", dns, {"type": "A", "name": HOST, "content": "192.0.2.1",
                                             "ttl": 1, "proxied": False})

    def test_put_and_patch_record(self):
        t = self.create_tunnel()
        dns = f"/zones/{self.zone_id}/dns_records"
        rec = self.ok("POST", dns, self.cname(t["id"], proxied=False))["result"]
        put = self.ok("PUT", f"{dns}/{rec['id']}", self.cname(t["id"]))["result"]
        self.assertEqual((put["id"], put["proxied"], put["created_on"]), (rec["id"], True, rec["created_on"]))
        patched = self.ok("PATCH", f"{dns}/{rec['id']}", self.cname(t["id"], ttl=300))["result"]
        self.assertEqual(patched["ttl"], 300)
        self.assertEqual(self.ok("GET", f"{dns}/{rec['id']}")["result"], patched)

    def test_records_of_a_tunnel_by_content(self):
        # provision finds the CNAMEs a removed route left by their target.
        t, other = self.create_tunnel(), self.create_tunnel("drone-8")
        dns = f"/zones/{self.zone_id}/dns_records"
        for name in ("a.example.com", "b.example.com"):
            self.ok("POST", dns, self.cname(t["id"], name=name))
        self.ok("POST", dns, self.cname(other["id"], name="c.example.com"))
        found = self.ok("GET", dns + "?content=%s.cfargotunnel.com&per_page=1000" % t["id"])["result"]
        self.assertEqual(sorted(r["name"] for r in found), ["a.example.com", "b.example.com"])

    def test_put_configuration_twice(self):
        t = self.create_tunnel()
        path = f"/accounts/{self.account}/cfd_tunnel/{t['id']}/configurations"
        first = self.ok("PUT", path, self.ingress())["result"]
        second = self.ok("PUT", path, self.ingress())["result"]
        self.assertEqual(first["config"], second["config"])
        self.assertEqual(second["version"], 2)


class DeletionTest(FakeTestCase):
    def test_removal_flow(self):
        t = self.create_tunnel()
        acc, tid = f"/accounts/{self.account}", t["id"]
        dns = f"/zones/{self.zone_id}/dns_records"
        rec = self.ok("POST", dns, self.cname(tid))["result"]
        status, _ = self.c.admin("POST", f"/tunnels/{tid}/connections", {"count": 1})
        self.assertEqual(status, 200)
        conns = self.ok("GET", f"{acc}/cfd_tunnel/{tid}/connections")["result"]
        self.assertEqual(len(conns), 1)
        self.assertTrue(conns[0]["conns"][0]["colo_name"])
        self.assertEqual(self.ok("GET", f"{acc}/cfd_tunnel/{tid}")["result"]["status"], "healthy")
        # live connector: 1022
        p = self.fails(400, 1022, "DELETE", f"{acc}/cfd_tunnel/{tid}")
        self.assertEqual(p["errors"][0]["message"], "Cannot delete tunnel because it has active connections")
        # step 3: DNS
        listed = self.ok("GET", dns, query={"name.exact": HOST})["result"]
        self.assertEqual(listed[0]["comment"], MARKER + tid)
        self.assertEqual(self.ok("DELETE", f"{dns}/{rec['id']}")["result"], {"id": rec["id"]})
        p = self.fails(404, 81044, "DELETE", f"{dns}/{rec['id']}")
        self.assertEqual(p["errors"][0]["message"], "Record does not exist.")
        self.fails(404, 81044, "GET", f"{dns}/{rec['id']}")
        # step 4: connections; step 5: tunnel
        self.ok("DELETE", f"{acc}/cfd_tunnel/{tid}/connections")
        self.assertEqual(self.ok("GET", f"{acc}/cfd_tunnel/{tid}/connections")["result"], [])
        gone = self.ok("DELETE", f"{acc}/cfd_tunnel/{tid}")["result"]
        self.assertIsNotNone(gone["deleted_at"])
        again = self.ok("GET", f"{acc}/cfd_tunnel/{tid}")["result"]
        self.assertEqual(again["deleted_at"], gone["deleted_at"])
        self.fails(404, 1002, "DELETE", f"{acc}/cfd_tunnel/{tid}")
        self.fails(404, 1002, "GET", f"{acc}/cfd_tunnel/{tid}/token")
        self.fails(404, 1002, "DELETE", f"{acc}/cfd_tunnel/{tid}/connections")
        self.assertEqual(self.ok("GET", acc + "/cfd_tunnel", query={"name": "drone-7", "is_deleted": "false"})["result"], [])
        self.assertEqual(len(self.ok("GET", acc + "/cfd_tunnel", query={"is_deleted": "true"})["result"]), 1)
        # 404s and 1022 are answers, not rejections
        self.assertFalse(any(e["rejected"] for e in self.requests()))
        # the name is free again
        self.assertNotEqual(self.create_tunnel()["id"], tid)

    def test_cascade_delete(self):
        t = self.create_tunnel()
        self.c.admin("POST", f"/tunnels/{t['id']}/connections", {"count": 2})
        gone = self.ok("DELETE", f"/accounts/{self.account}/cfd_tunnel/{t['id']}", query={"cascade": "true"})
        self.assertIsNotNone(gone["result"]["deleted_at"])

    def test_delete_one_connector(self):
        t = self.create_tunnel()
        _, reply = self.c.admin("POST", f"/tunnels/{t['id']}/connections", {"count": 2})
        keep, drop = reply["connections"][0]["id"], reply["connections"][1]["id"]
        path = f"/accounts/{self.account}/cfd_tunnel/{t['id']}/connections"
        self.ok("DELETE", path, query={"client_id": drop})
        self.assertEqual([c["id"] for c in self.ok("GET", path)["result"]], [keep])


class OptionsTest(FakeTestCase):
    def test_unverified_behaviours_are_switchable(self):
        self.c.admin("POST", "/options", {"delete_active_status": 409, "dns_bare_name_filter": False,
                                          "tunnel_name_reuse": False})
        t = self.create_tunnel()
        path = f"/accounts/{self.account}/cfd_tunnel/{t['id']}"
        self.c.admin("POST", f"/tunnels/{t['id']}/connections", {"count": 1})
        self.fails(409, 1022, "DELETE", path)
        self.c.admin("POST", f"/tunnels/{t['id']}/connections", {"count": 0})
        self.ok("DELETE", path)
        self.fails(409, 1013, "POST", f"/accounts/{self.account}/cfd_tunnel", {"name": "drone-7"})
        self.c.admin("POST", "/dns_records", {"type": "A", "name": "other.example.com", "content": "192.0.2.1"})
        dns = f"/zones/{self.zone_id}/dns_records"
        self.assertEqual(len(self.ok("GET", dns, query={"name": HOST})["result"]), 1)  # ignored
        self.assertEqual(self.ok("GET", dns, query={"name.exact": HOST})["result"], [])


class StrictChecksTest(FakeTestCase):
    def setUp(self):
        super().setUp()
        self.t = self.create_tunnel()
        self.tun = f"/accounts/{self.account}/cfd_tunnel/{self.t['id']}"
        self.dns = f"/zones/{self.zone_id}/dns_records"

    def test_authorization(self):
        self.rejected(403, 10000, "GET", "/zones", headers={"Authorization": None})
        self.rejected(403, 10000, "GET", "/zones", headers={"Authorization": "Bearer wrong-token"})
        self.assertEqual(self.last_request()["headers"]["Authorization"], "<wrong>")
        for bad in ("Token " + TOKEN, "Bearer", "Bearer  " + TOKEN, "bearer " + TOKEN, "Bearer a b"):
            with self.subTest(header=bad):
                p = self.rejected(400, 6003, "GET", "/zones", headers={"Authorization": bad})
                self.assertEqual(p["errors"][0]["message"], "Invalid request headers")
                self.assertEqual(p["errors"][0]["error_chain"],
                                 [{"code": 6111, "message": "Invalid format for Authorization header"}])

    def test_user_agent_and_accept(self):
        self.rejected(400, 6003, "GET", "/zones", headers={"User-Agent": None})
        self.rejected(400, 6003, "GET", "/zones", headers={"Accept": None})
        self.rejected(400, 6003, "GET", "/zones", headers={"Accept": "*/*"})
        self.ok("GET", "/zones", headers={"Accept": "application/json;version=1"})  # what cloudflared sends

    def test_body_rules(self):
        create = f"/accounts/{self.account}/cfd_tunnel"
        self.rejected(400, 6003, "GET", "/zones", raw=b"{}")
        self.rejected(400, 6003, "DELETE", self.tun, raw=b"{}")
        self.rejected(400, 6003, "GET", "/zones", headers={"Content-Type": "application/json"})
        self.rejected(400, 6003, "POST", create, {"name": "x"}, headers={"Content-Type": None})
        self.rejected(400, 6003, "POST", create, {"name": "x"}, headers={"Content-Type": "text/plain"})
        self.rejected(400, CODE_INVALID, "POST", create)
        p = self.rejected(400, 6007, "POST", create, raw=b'{"name": "x",')
        self.assertEqual(p["errors"][0]["message"], "Malformed JSON in request body")
        self.rejected(400, CODE_INVALID, "POST", create, raw=b'["x"]')
        self.ok("POST", create, {"name": "charset"}, headers={"Content-Type": "application/json; charset=utf-8"})

    def test_tunnel_body_fields(self):
        create = f"/accounts/{self.account}/cfd_tunnel"
        cases = [
            ({"name": "x", "colour": "red"}, "unknown field body.colour"),
            ({"config_src": "cloudflare"}, "missing required field body.name"),
            ({"name": 5}, "body.name must be a string"),
            ({"name": "x", "config_src": "remote"}, "config_src"),
            ({"name": "x", "tunnel_secret": base64.b64encode(b"short").decode()}, "at least 32 bytes"),
            ({"name": "x", "tunnel_secret": "not base64!"}, "base64"),
            ({"name": ""}, "name"),
        ]
        for body, why in cases:
            with self.subTest(body=body):
                p = self.rejected(400, CODE_INVALID, "POST", create, body)
                self.assertIn(why, p["errors"][0]["message"])
        self.rejected(400, CODE_INVALID, "PATCH", self.tun, {"name": "x", "config_src": "local"})

    def test_query_parameters(self):
        acc = f"/accounts/{self.account}"
        cases = [
            ("/zones", {"per_page": "4"}), ("/zones", {"per_page": "51"}), ("/zones", {"page": "0"}),
            ("/zones", {"status": "live"}), ("/zones", {"nam": "example.com"}), ("/zones", {"name": ""}),
            (acc + "/cfd_tunnel", {"per_page": "0"}), (acc + "/cfd_tunnel", {"per_page": "1001"}),
            (acc + "/cfd_tunnel", {"is_deleted": "no"}), (acc + "/cfd_tunnel", {"name_prefix": "d"}),
            (acc + "/cfd_tunnel", {"uuid": "x"}), (acc + "/cfd_tunnel", {"existed_at": "2024-01-01T00:00:00"}),
            (self.dns, {"type": "cname"}),
            (self.dns, {"per_page": "x"}), (self.tun + "/token", {"a": "b"}),
        ]
        for path, query in cases:
            with self.subTest(path=path, query=query):
                self.rejected(400, CODE_INVALID, "GET", path, query=query)
        self.rejected(400, CODE_INVALID, "GET", "/zones?name=a.com&name=b.com")
        self.ok("GET", "/zones", query={"per_page": "5"})
        self.ok("GET", acc + "/cfd_tunnel", query={"per_page": "1000"})

    def test_id_formats_and_existence(self):
        upper = self.account.upper()
        self.rejected(400, 7003, "GET", f"/accounts/{upper}/cfd_tunnel")
        self.rejected(400, 7003, "GET", f"/accounts/{self.account}/cfd_tunnel/not-a-uuid")
        self.rejected(400, 7003, "GET", f"/accounts/{self.account}/cfd_tunnel/{self.t['id'].replace('-', '')}")
        self.rejected(400, 7003, "GET", f"{self.dns}/1234")
        self.rejected(400, 7003, "GET", "/zones/example.com/dns_records")
        self.rejected(403, 10000, "GET", f"/accounts/{'0' * 32}/cfd_tunnel")
        self.rejected(403, 10000, "GET", f"/zones/{'0' * 32}/dns_records")
        # a well-formed but unknown tunnel/record is a normal 404, not a rejection
        self.fails(404, 1002, "GET", f"/accounts/{self.account}/cfd_tunnel/00000000-0000-4000-8000-000000000000")
        self.assertFalse(self.last_request()["rejected"])
        self.fails(404, 81044, "DELETE", f"{self.dns}/{'a' * 32}")
        self.assertFalse(self.last_request()["rejected"])

    def test_unknown_routes(self):
        p = self.rejected(404, 7003, "GET", "/nope")
        self.assertEqual(p["errors"][0]["message"], "No route for the URI")
        self.rejected(404, 7003, "PATCH", "/zones")
        self.rejected(404, 7003, "GET", "/zones/")
        self.rejected(404, 7003, "PUT", f"/zones/{self.zone_id}/tunnels/{self.t['id']}/routes",
                      {"type": "dns", "user_hostname": HOST, "overwrite_existing": False})
        status, payload, _ = self.c.request("GET", "/v4/zones", headers={"Accept": "application/json"})
        self.assertEqual((status, payload["errors"][0]["code"]), (404, 7003))

    def test_dns_body(self):
        good = self.cname(self.t["id"])
        cases = [
            ({k: v for k, v in good.items() if k != "ttl"}, "missing required field body.ttl"),
            ({k: v for k, v in good.items() if k != "proxied"}, "missing required field body.proxied"),
            ({**good, "ttl": 30}, "ttl"),
            ({**good, "ttl": "1"}, "body.ttl must be an integer"),
            ({**good, "proxied": "true"}, "body.proxied must be a boolean"),
            ({**good, "name": "drone-7.example.org"}, "not inside zone"),
            ({**good, "name": HOST + "."}, "not a valid hostname"),
            ({**good, "content": "not a host!"}, "not a valid hostname"),
            ({**good, "comment": "a\nb"}, "comment"),
            ({**good, "zone_id": self.zone_id}, "unknown field body.zone_id"),
            ({**good, "type": "MX"}, "not supported"),
            ({**good, "type": "A", "content": "300.1.1.1"}, "A address"),
        ]
        for body, why in cases:
            with self.subTest(why=why):
                p = self.rejected(400, CODE_INVALID, "POST", self.dns, body)
                self.assertIn(why, p["errors"][0]["message"])
        rec = self.ok("POST", self.dns, good)["result"]
        self.rejected(400, CODE_INVALID, "PATCH", f"{self.dns}/{rec['id']}", {"proxied": True})

    def test_ingress_validation(self):
        def put(rules, **config):
            return self.rejected(400, CODE_INVALID, "PUT", self.tun + "/configurations",
                                 {"config": {"ingress": rules, **config}})
        h, catch = {"hostname": HOST, "service": "http://localhost:8080"}, {"service": "http_status:404"}
        cases = [
            ([h], "The last ingress rule must match all URLs"),
            ([catch, h, catch], "Rule #1 is matching the hostname ''"),
            ([{**h, "hostname": HOST + ":443"}, catch], "Hostname cannot contain a port"),
            ([{**h, "hostname": "a.*.example.com"}, catch], "at most one wildcard"),
            ([{**h, "service": "localhost:8080"}, catch], "please make sure it has a scheme and a hostname"),
            ([{**h, "service": "http://localhost:8080/app"}, catch], "different path"),
            ([h, {"service": "http_status:abc"}], "invalid HTTP status code"),
            ([h, {"hostname": "*", "path": "/x", "service": "http_status:404"}], "last ingress rule"),
            ([{**h, "originRequest": {"noTLSVerify": "yes"}}, catch], "noTLSVerify must be a boolean"),
            ([{**h, "originRequest": {"connectTimeout": "10s"}}, catch], "connectTimeout must be an integer"),
            ([{**h, "originRequest": {"httpHostHeader": True}}, catch], "httpHostHeader must be a string"),
            ([{**h, "originRequest": {"bogus": 1}}, catch], "unknown field"),
            ([{**h, "originRequest": {"access": {"required": True}}}, catch], "teamName"),
            ([{**h, "path": "(["}, catch], "invalid regex"),
            ([], "doesn't contain any ingress rules"),
        ]
        for rules, why in cases:
            with self.subTest(why=why):
                self.assertIn(why, put(rules)["errors"][0]["message"])
        self.rejected(400, CODE_INVALID, "PUT", self.tun + "/configurations", {"ingress": [catch]})
        ok_rules = [{**h, "originRequest": {"noTLSVerify": True, "httpHostHeader": "app.local", "connectTimeout": 10}}, {"hostname": "*.x.example.com", "service": "ssh://localhost:22"},
                    {"hostname": "u.example.com", "service": "unix:/run/app.sock"}, {"hostname": "*", "service": "http_status:404"}]
        self.ok("PUT", self.tun + "/configurations", {"config": {"ingress": ok_rules, "originRequest": {}}})


class InjectionTest(FakeTestCase):
    def test_status_with_cloudflare_body_then_normal(self):
        f = self.inject(method="GET", path="/zones", times=2, status=500)
        for _ in range(2):
            p = self.fails(500, 1500, "GET", "/zones")
        self.assertEqual(p["messages"], [])
        self.ok("GET", "/zones")
        log = self.requests()
        self.assertEqual([e["fault"] and e["fault"]["id"] for e in log], [f["id"], f["id"], None])
        self.assertEqual([e["status"] for e in log], [500, 500, 200])
        self.assertEqual(self.c.admin("GET", "/faults")[1]["faults"], [])

    def test_429_with_retry_after(self):
        self.inject(path="/user/tokens/verify", status=429, headers={"retry-after": "1"})
        status, payload, headers = self.c.api("GET", "/user/tokens/verify")
        self.assertEqual((status, headers["retry-after"]), (429, "1"))
        self.assertEqual(payload["errors"][0]["code"], 971)
        self.assertIn("More than 1200 requests per 300 seconds", payload["errors"][0]["message"])

    def test_502_and_503(self):
        self.inject(path=".*", status=502)
        self.inject(path=".*", status=503)
        self.fails(502, 1502, "GET", "/zones")
        self.fails(503, 1503, "GET", "/user/tokens/verify")
        self.ok("GET", "/zones")

    def test_error_code_and_message(self):
        self.inject(method="POST", path=r"/accounts/[0-9a-f]{32}/cfd_tunnel", status=200,
                    error={"code": 1013, "message": "custom"})
        p = self.fails(200, 1013, "POST", f"/accounts/{self.account}/cfd_tunnel", {"name": "a"})
        self.assertEqual(p["errors"][0]["message"], "custom")
        self.assertEqual(self.state()["tunnels"], [])  # the fault replaced normal processing
        self.inject(path="/zones", error={"code": 9999, "message": "boom"})
        self.fails(400, 9999, "GET", "/zones")

    def test_explicit_bodies(self):
        self.inject(path="/zones", status=502, body="<html>bad gateway</html>")
        status, payload, headers = self.c.api("GET", "/zones")
        self.assertEqual((status, payload), (502, b"<html>bad gateway</html>"))
        self.inject(path="/zones", body={"success": True, "errors": [], "messages": [], "result": []})
        self.assertEqual(self.ok("GET", "/zones")["result"], [])

    def test_method_filter_and_full_match(self):
        self.inject(method="POST", path=".*", status=500)
        self.inject(method="GET", path="/zones", status=500)
        self.ok("GET", f"/zones/{self.zone_id}/dns_records")  # /zones does not match this path
        self.ok("GET", "/user/tokens/verify")                  # POST-only fault
        self.fails(500, 1500, "GET", "/zones")
        self.fails(500, 1500, "POST", f"/accounts/{self.account}/cfd_tunnel", {"name": "a"})

    def test_faults_consumed_in_order(self):
        self.inject(path="/zones", status=502)
        self.inject(path="/zones", status=503)
        self.fails(502, 1502, "GET", "/zones")
        self.fails(503, 1503, "GET", "/zones")

    def test_rejected_request_does_not_consume_fault(self):
        self.inject(path="/zones", status=503)
        self.rejected(400, 6003, "GET", "/zones", headers={"Accept": None})
        self.fails(503, 1503, "GET", "/zones")

    def test_hang_then_answer_does_not_block_others(self):
        self.inject(path="/user/tokens/verify", hang_s=1.0)
        result = {}

        def slow():
            start = time.monotonic()
            result["status"] = self.c.api("GET", "/user/tokens/verify")[0]
            result["elapsed"] = time.monotonic() - start
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.1)
        start = time.monotonic()
        self.ok("GET", "/zones")
        self.assertLess(time.monotonic() - start, 0.8)
        th.join(5)
        self.assertEqual(result["status"], 200)
        self.assertGreaterEqual(result["elapsed"], 1.0)

    def test_hang_then_close(self):
        self.inject(path="/zones", hang_s=0.2, close=True)
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError, urllib.error.URLError)):
            self.c.api("GET", "/zones")
        self.assertIsNone(self.requests()[-1]["status"])

    def test_client_timeout_during_hang_still_applies_request(self):
        # The request reached the server: after the hang it is processed anyway.
        self.inject(method="POST", path=r"/accounts/\w+/cfd_tunnel", hang_s=0.8)
        with self.assertRaises((TimeoutError, urllib.error.URLError)):
            self.c.api("POST", f"/accounts/{self.account}/cfd_tunnel", {"name": "late"}, timeout=0.3)
        time.sleep(1.0)
        self.assertEqual([t["name"] for t in self.state()["tunnels"]], ["late"])
        self.fails(409, 1013, "POST", f"/accounts/{self.account}/cfd_tunnel", {"name": "late"})

    def test_malformed_bodies(self):
        self.inject(path="/zones", malformed=True)
        status, payload, headers = self.c.api("GET", "/zones")
        self.assertEqual(status, 200)
        self.assertIsInstance(payload, bytes)
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.inject(path="/zones", malformed="cut")
        status, payload, headers = self.c.api("GET", "/zones")
        self.assertEqual((status, headers["Content-Type"]), (200, "application/json"))
        self.assertIsInstance(payload, bytes)  # not parseable
        self.inject(path="/zones", malformed="truncated")
        with self.assertRaises(http.client.IncompleteRead):
            self.c.api("GET", "/zones")
        self.inject(path="/zones", malformed="success_string")
        status, payload, _ = self.c.api("GET", "/zones")
        self.assertEqual((status, payload["success"]), (200, "true"))
        self.inject(path="/zones", status=400, malformed="null_message")
        status, payload, _ = self.c.api("GET", "/zones")
        self.assertEqual((status, payload["success"], payload["errors"][0]["message"]), (400, False, None))

    def test_latency(self):
        self.c.admin("POST", "/latency", {"ms": 300})
        start = time.monotonic()
        self.ok("GET", "/zones")
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        self.c.admin("POST", "/latency", {"ms": 0})
        start = time.monotonic()
        self.ok("GET", "/zones")
        self.assertLess(time.monotonic() - start, 0.3)

    def test_inject_validation(self):
        for bad in ({"path": "("}, {"times": 0}, {"status": 99}, {"colour": 1}, {"malformed": "x"},
                    {"error": {"code": "x", "message": "m"}}, {"hang_s": "1"}):
            with self.subTest(bad=bad):
                self.assertEqual(self.c.admin("POST", "/inject", bad)[0], 400)


class AdminTest(FakeTestCase):
    def test_state_shape(self):
        t = self.create_tunnel()
        self.ok("PUT", f"/accounts/{self.account}/cfd_tunnel/{t['id']}/configurations", self.ingress())
        self.c.admin("POST", f"/tunnels/{t['id']}/connections", {"count": 1})
        st = self.state()
        for key in ("zones", "tunnels", "dns_records"):
            self.assertIn(key, st)
        tun = st["tunnels"][0]
        for key in ("id", "name", "deleted_at", "config_src", "remote_config", "config", "connections", "secret"):
            self.assertIn(key, tun)
        self.assertEqual(len(tun["connections"]), 1)
        self.assertEqual(st["zones"][0]["name"], ZONE)

    def test_requests_clear_and_reset(self):
        self.create_tunnel()
        self.c.admin("POST", "/latency", {"ms": 1})
        self.assertTrue(self.requests())
        self.c.admin("POST", "/requests/clear")
        self.assertEqual(self.requests(), [])
        self.c.admin("POST", "/token", {"token": "other"})
        self.c.admin("POST", "/reset")
        st = self.state()
        self.assertEqual((st["tunnels"], st["latency_ms"], st["api_token"]["status"]), ([], 0, "active"))
        self.ok("GET", "/zones")  # the original token works again

    def test_token_change(self):
        self.c.admin("POST", "/token", {"token": "rotated"})
        self.rejected(403, 10000, "GET", "/zones")
        self.ok("GET", "/zones", headers={"Authorization": "Bearer rotated"})
        self.assertEqual(self.last_request()["headers"]["Authorization"], "<redacted>")
        self.assertEqual(self.c.admin("POST", "/token", {"status": "sleepy"})[0], 400)

    def test_faults_listing_and_clear(self):
        self.inject(path="/zones", status=500, times=3)
        self.assertEqual(self.c.admin("GET", "/faults")[1]["faults"][0]["times_left"], 3)
        self.c.admin("POST", "/faults/clear")
        self.ok("GET", "/zones")

    def test_admin_errors(self):
        self.assertEqual(self.c.admin("GET", "/nope")[0], 404)
        self.assertEqual(self.c.admin("POST", "/tunnels/00000000-0000-4000-8000-000000000000/connections",
                                      {"count": 1})[0], 400)
        self.assertEqual(self.c.admin("POST", "/options", {"unknown": 1})[0], 400)


class LifecycleTest(unittest.TestCase):
    """Process-level behaviour: port file, signals, what reaches stderr."""

    def test_sigterm_exits_zero_and_stderr_has_no_secrets(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, err_path = start_fake(tmp)
            try:
                with open(os.path.join(tmp, "port")) as f:
                    self.assertRegex(f.read(), r"^[0-9]+\n$")
                c = Client(port)
                h = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json",
                     "User-Agent": "t", "Content-Type": "application/json"}
                acc = c.admin("GET", "/state")[1]["zones"][0]["account"]["id"]
                body = json.dumps({"name": "drone-7", "config_src": "cloudflare", "tunnel_secret": SECRET_64}).encode()
                status, created, _ = c.request("POST", f"/client/v4/accounts/{acc}/cfd_tunnel", body, h)
                self.assertEqual(status, 200)
                del h["Content-Type"]
                c.request("GET", f"/client/v4/accounts/{acc}/cfd_tunnel/{created['result']['id']}/token", None, h)
                c.request("GET", "/client/v4/zones", None, {**h, "Authorization": "Bearer wrong-secret-x"})
            finally:
                self.assertEqual(stop_fake(proc), 0)
            with open(err_path) as f:
                log = f.read()
        for secret in (TOKEN, "wrong-secret-x", SECRET_64, created["result"]["token"]):
            self.assertNotIn(secret, log)
        self.assertEqual(len([ln for ln in log.splitlines() if "/client/v4/" in ln]), 3)

    def test_sigint_exits_zero_even_with_a_hung_request(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, _ = start_fake(tmp)
            c = Client(port)
            c.admin("POST", "/inject", {"path": ".*", "hang_s": 60})
            status, took = fakeclient.stop_during(proc, lambda: c.api("GET", "/zones", timeout=30))
            self.assertEqual(status, 0)
            self.assertLess(took, 5)

    def test_fixed_ids_from_command_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port, _ = start_fake(tmp, "--account-id", "a" * 32, "--zone-id", "b" * 32)
            try:
                zone = Client(port).admin("GET", "/state")[1]["zones"][0]
            finally:
                stop_fake(proc)
        self.assertEqual((zone["id"], zone["account"]["id"]), ("b" * 32, "a" * 32))


if __name__ == "__main__":
    unittest.main()
