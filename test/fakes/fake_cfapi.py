#!/usr/bin/python3
"""Fake Cloudflare v4 API for tether's tests (Python 3.11 standard library only).

It serves the calls of docs/cloudflare-api.md, "the reference" below (token verify,
zones, cfd_tunnel, configurations, connections, token, dns_records) with the
same paths, envelope, error codes and messages, and keeps their state in memory.

It is deliberately stricter than the real API: anything that departs from the
reference (no Accept: application/json, a body on a GET, an unknown field or
query parameter, a malformed id, ...) gets a 400 naming the problem and is
marked "rejected" in the request log, so that agent bugs fail tests loudly
instead of passing against a lenient fake.

    /usr/bin/python3 fake_cfapi.py --port 0 --port-file PATH --token API_TOKEN \
        [--zone example.com] [--account-id HEX32] [--zone-id HEX32]

API base: http://127.0.0.1:<port>/client/v4.  Test control: /__fake/... (no
auth), see ADMIN_ROUTES.  stderr gets one line per request, never a token.
"""

import base64
import binascii
import datetime
import hashlib
import ipaddress
import json
import os
import re
import secrets
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional
from urllib.parse import parse_qsl, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fakebase  # noqa: E402  (it sits next to this script, which is run directly)
from fakebase import AdminError, admin_fields, now_iso  # noqa: E402

API_PREFIX = "/client/v4"

HEX32 = re.compile(r"[0-9a-f]{32}")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")

# Messages the reference gives verbatim (docs/cloudflare-api.md §15).
MSG_TUNNEL_EXISTS = ("You already have a tunnel with this name. Delete the existing tunnel, "
                     "or choose a different name for your new tunnel")
MSG_ACTIVE_CONNECTIONS = "Cannot delete tunnel because it has active connections"
MSG_RATE_LIMITED = ("More than 1200 requests per 300 seconds reached. "
                    "Please wait and consider throttling your request speed")
DNS_CONFLICTS = {
    81053: "An A, AAAA, or CNAME record with that host already exists.",
    81054: "A CNAME record with that host already exists.",
    81057: "The record already exists.",
    81058: "An identical record already exists.",
}

# Codes the reference does not pin down; chosen here and documented in the report.
CODE_INVALID = 1001          # any schema/value validation failure: "Invalid request: <detail>"
CODE_TUNNEL_NOT_FOUND = 1002  # 404 for an unknown or deleted tunnel

DEFAULT_OPTIONS = {
    "create_returns_token": True,        # the reference says result.token may be absent
    "create_returns_credentials": True,  # same for result.credentials_file
    "dns_identical_code": 81058,         # 81057 is the older code for the same case
    "dns_bare_name_filter": True,        # false: a bare name= is accepted but ignored
    "delete_active_status": 400,         # HTTP status of 1022 is unverified
    "tunnel_name_reuse": True,           # may a deleted tunnel's name be reused? unverified
}


def derived_hex32(seed):
    """Stable ids derived from the zone name, so runs are reproducible."""
    return hashlib.md5(seed.encode()).hexdigest()


def tunnel_token(account_id, tunnel_id, secret_b64):
    """The connector token: padded standard base64 of compact JSON (docs/cloudflare-api.md §12)."""
    raw = json.dumps({"a": account_id, "t": tunnel_id, "s": secret_b64}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


# ---------------------------------------------------------------------------
# Errors and envelopes

class ApiError(Exception):
    """A Cloudflare-style failure. `rejected` is set when a strict check failed."""

    def __init__(self, status, code, message, rejected=None, chain=None, headers=None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.rejected, self.chain, self.headers = rejected, chain, headers or {}

    def envelope(self):
        err = {"code": self.code, "message": self.message}
        if self.chain:
            err["error_chain"] = [{"code": c, "message": m} for c, m in self.chain]
        return failure_envelope([err])


def failure_envelope(errors):
    return {"success": False, "errors": errors, "messages": [], "result": None}


def invalid(detail):
    return ApiError(400, CODE_INVALID, "Invalid request: " + detail, rejected=detail)


def bad_header(detail, chain_code=6003):
    # 6003/6111 is what the real API answers to a malformed Authorization header.
    return ApiError(400, 6003, "Invalid request headers", rejected=detail,
                    chain=[(chain_code, detail)])


def auth_error(reason):
    return ApiError(403, 10000, "Authentication error", rejected=reason)


@dataclass
class Reply:
    result: object
    result_info: Optional[dict] = None
    messages: list = field(default_factory=list)

    def envelope(self):
        env = {"success": True, "errors": [], "messages": self.messages, "result": self.result}
        if self.result_info is not None:
            env["result_info"] = self.result_info
        return env


def paginate(items, query, default_per_page):
    page, per_page = query.get("page", 1), query.get("per_page", default_per_page)
    chunk = items[(page - 1) * per_page: page * per_page]
    # total_count is the filtered total; the reference warns not to rely on it.
    info = {"page": page, "per_page": per_page, "count": len(chunk), "total_count": len(items)}
    return Reply(chunk, info)


# ---------------------------------------------------------------------------
# Query parameter validators: value string -> parsed value, or ValueError

def q_str(maxlen=255):
    def check(v):
        if not v:
            raise ValueError("must not be empty")
        if len(v) > maxlen:
            raise ValueError(f"must be at most {maxlen} characters")
        return v
    return check


def q_int(lo, hi=None):
    def check(v):
        if not re.fullmatch(r"[0-9]{1,9}", v):
            raise ValueError("must be an integer")
        n = int(v)
        if n < lo or (hi is not None and n > hi):
            raise ValueError(f"must be between {lo} and {hi}" if hi else f"must be >= {lo}")
        return n
    return check


def q_enum(*values):
    def check(v):
        if v not in values:
            raise ValueError("must be one of " + "|".join(values))
        return v
    return check


def q_bool(v):
    if v not in ("true", "false"):
        raise ValueError("must be true or false")
    return v == "true"


def q_match(regex, what):
    def check(v):
        if not regex.fullmatch(v):
            raise ValueError("must be " + what)
        return v
    return check


def q_time(v):
    try:
        at = datetime.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:  # RFC 3339 requires an offset
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2024-01-01T00:00:00Z")
    return at


PAGE = q_int(1)
DNS_TYPES = ("A", "AAAA", "CAA", "CERT", "CNAME", "DNSKEY", "DS", "HTTPS", "LOC", "MX", "NAPTR",
             "NS", "PTR", "SMIMEA", "SRV", "SSHFP", "SVCB", "TLSA", "TXT", "URI")

ZONES_QUERY = {
    "name": q_str(253), "status": q_enum("initializing", "pending", "active", "moved"),
    "account.id": q_match(HEX32, "32 lowercase hex"), "account.name": q_str(253),
    "page": PAGE, "per_page": q_int(5, 50),
    "order": q_enum("name", "status", "account.id", "account.name"),
    "direction": q_enum("asc", "desc"), "match": q_enum("any", "all"),
}
TUNNELS_QUERY = {
    "name": q_str(), "is_deleted": q_bool, "uuid": q_match(UUID_RE, "a lowercase UUID"),
    "status": q_enum("inactive", "degraded", "healthy", "down"),
    "existed_at": q_time, "was_active_at": q_time, "was_inactive_at": q_time,
    "include_prefix": q_str(), "exclude_prefix": q_str(),
    "page": PAGE, "per_page": q_int(1, 1000),
}
DNS_LIST_QUERY = {
    "name": q_str(), "name.exact": q_str(), "name.contains": q_str(),
    "name.startswith": q_str(), "name.endswith": q_str(),
    "type": q_enum(*DNS_TYPES), "content": q_str(4096), "content.exact": q_str(4096),
    "proxied": q_bool, "match": q_enum("any", "all"), "comment": q_str(),
    "comment.exact": q_str(), "tag": q_str(), "page": PAGE, "per_page": q_int(1, 5000000),
    "order": q_enum("type", "name", "content", "ttl", "proxied"), "direction": q_enum("asc", "desc"),
}
DELETE_TUNNEL_QUERY = {"cascade": q_bool}
DELETE_CONNECTIONS_QUERY = {"client_id": q_match(UUID_RE, "a lowercase UUID")}


# ---------------------------------------------------------------------------
# Body validators: raise invalid(...) naming the field

def t_str(v):
    return isinstance(v, str)


def t_bool(v):
    return isinstance(v, bool)


def t_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def t_obj(v):
    return isinstance(v, dict)


def t_list(v):
    return isinstance(v, list)


def t_str_list(v):
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


TYPE_NAMES = {t_str: "a string", t_bool: "a boolean", t_int: "an integer", t_obj: "an object",
              t_list: "an array", t_str_list: "an array of strings"}


def check_fields(obj, where, required, optional):
    """Required/optional fields with their types; unknown fields are an error."""
    if not isinstance(obj, dict):
        raise invalid(f"{where} must be a JSON object")
    for key in obj:
        if key not in required and key not in optional:
            raise invalid(f"unknown field {where}.{key}")
    for key in required:
        if key not in obj:
            raise invalid(f"missing required field {where}.{key}")
    for key, typ in {**required, **optional}.items():
        if key in obj and not typ(obj[key]):
            raise invalid(f"{where}.{key} must be {TYPE_NAMES[typ]}")


def check_tunnel_secret(secret):
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        raise invalid("tunnel_secret must be standard padded base64") from None
    if len(raw) < 32:
        raise invalid(f"tunnel_secret must decode to at least 32 bytes (got {len(raw)})")


def check_tunnel_name(name):
    if not name or len(name) > 255 or any(ord(c) < 0x21 for c in name):
        raise invalid("name must be 1..255 printable characters without spaces")


def body_create_tunnel(body):
    check_fields(body, "body", {"name": t_str}, {"config_src": t_str, "tunnel_secret": t_str})
    check_tunnel_name(body["name"])
    if body.get("config_src", "local") not in ("local", "cloudflare"):
        raise invalid("config_src must be local or cloudflare")
    if "tunnel_secret" in body:
        check_tunnel_secret(body["tunnel_secret"])


def body_patch_tunnel(body):
    check_fields(body, "body", {}, {"name": t_str, "tunnel_secret": t_str})
    if "name" in body:
        check_tunnel_name(body["name"])
    if "tunnel_secret" in body:
        check_tunnel_secret(body["tunnel_secret"])


ORIGIN_REQUEST_FIELDS = {
    "connectTimeout": t_int, "tlsTimeout": t_int, "tcpKeepAlive": t_int,
    "keepAliveTimeout": t_int, "keepAliveConnections": t_int, "noHappyEyeballs": t_bool,
    "noTLSVerify": t_bool, "originServerName": t_str, "httpHostHeader": t_str,
    "caPool": t_str, "disableChunkedEncoding": t_bool, "http2Origin": t_bool,
    "proxyType": t_str, "access": t_obj, "matchSNItoHost": t_bool,
}


def check_origin_request(obj, where):
    check_fields(obj, where, {}, ORIGIN_REQUEST_FIELDS)
    if "access" in obj:  # the schema makes both required once access is sent
        check_fields(obj["access"], where + ".access",
                     {"teamName": t_str, "audTag": t_str_list}, {"required": t_bool})


def check_service(service, where):
    """cloudflared's ingress/ingress.go validateIngress, service part."""
    if service.startswith(("unix:", "unix+tls:")):
        return
    if service.startswith("http_status:"):
        code = service[len("http_status:"):]
        if not re.fullmatch(r"[+-]?[0-9]+", code):
            raise invalid(f"{where}: invalid HTTP status code")
        if not 100 <= int(code) <= 999:
            raise invalid(f"{where}: invalid HTTP status code: {int(code)}")
        return
    if service in ("hello_world", "hello-world", "socks-proxy", "bastion"):
        return
    parts = urlsplit(service)
    try:
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError on a bad port)
    except ValueError:
        host = None
    if not parts.scheme or not host:
        raise invalid(f"{where}: {service} is an invalid address, "
                      "please make sure it has a scheme and a hostname")
    if parts.path:
        raise invalid(f"{where}: {service} is an invalid address, ingress rules don't support "
                      "proxying to a different path on the origin service. The path will be "
                      "the same as the eyeball request's path")


def has_port(hostname):
    # Like Go's net.SplitHostPort succeeding: "host:port" or "[v6]:port".
    return bool(re.fullmatch(r"(\[[^\]]*\]|[^:\[\]]*):[^:\[\]]*", hostname))


def check_hostname_rule(rule, index, total, where):
    """cloudflared's validateHostname: port, wildcard, catch-all placement."""
    hostname, path = rule.get("hostname", ""), rule.get("path", "")
    if has_port(hostname):
        raise invalid(f"{where}: Hostname cannot contain a port")
    if hostname.rfind("*") > 0:
        raise invalid(f"{where}: Hostname patterns can have at most one wildcard character "
                      "(\"*\") and it can only be used for subdomains, e.g. \"*.example.com\"")
    catch_all = hostname in ("", "*") and path == ""
    last = index == total - 1
    if last and not catch_all:
        raise invalid(f"{where}: The last ingress rule must match all URLs "
                      "(i.e. it should not have a hostname or path filter)")
    if not last and catch_all:
        raise invalid(f"{where}: Rule #{index + 1} is matching the hostname '{hostname}', but "
                      "this will match every hostname, meaning the rules which follow it "
                      "will never be triggered.")


def body_put_configuration(body):
    check_fields(body, "body", {"config": t_obj}, {})
    config = body["config"]
    check_fields(config, "config", {"ingress": t_list}, {"originRequest": t_obj, "warp-routing": t_obj})
    if "originRequest" in config:
        check_origin_request(config["originRequest"], "config.originRequest")
    if "warp-routing" in config:
        check_fields(config["warp-routing"], "config.warp-routing", {}, {"enabled": t_bool})
    rules = config["ingress"]
    if not rules:
        raise invalid("config.ingress: The config file doesn't contain any ingress rules")
    for i, rule in enumerate(rules):
        where = f"config.ingress[{i}]"
        check_fields(rule, where, {"service": t_str},
                     {"hostname": t_str, "path": t_str, "originRequest": t_obj})
        if "originRequest" in rule:
            check_origin_request(rule["originRequest"], where + ".originRequest")
        check_service(rule["service"], where)
        check_hostname_rule(rule, i, len(rules), where)
        if rule.get("path"):
            try:
                re.compile(rule["path"])
            except re.error:
                raise invalid(f"{where}: Rule #{i + 1} has an invalid regex") from None


DNS_FIELDS_REQUIRED = {"type": t_str, "name": t_str, "content": t_str, "ttl": t_int, "proxied": t_bool}
DNS_FIELDS_OPTIONAL = {"comment": t_str, "tags": t_str_list, "settings": t_obj}
DNS_SUPPORTED_TYPES = ("A", "AAAA", "CNAME", "TXT")


def body_dns_record(body):
    """Zone-independent checks; name-in-zone and conflicts are checked by the handler."""
    check_fields(body, "body", DNS_FIELDS_REQUIRED, DNS_FIELDS_OPTIONAL)
    rtype, content, ttl = body["type"], body["content"], body["ttl"]
    if rtype not in DNS_SUPPORTED_TYPES:
        raise invalid(f"type {rtype!r} is not supported (fake supports {', '.join(DNS_SUPPORTED_TYPES)})")
    if not (ttl == 1 or 60 <= ttl <= 86400):
        raise invalid("ttl must be 1 (automatic) or between 60 and 86400")
    if body["proxied"] and rtype not in ("A", "AAAA", "CNAME"):
        raise invalid(f"a {rtype} record cannot be proxied")
    if rtype == "CNAME" and not valid_hostname(content.lower()):
        raise invalid(f"content {content!r} is not a valid hostname for a CNAME")
    if rtype in ("A", "AAAA"):
        want = ipaddress.IPv4Address if rtype == "A" else ipaddress.IPv6Address
        try:
            want(content)
        except ValueError:
            raise invalid(f"content {content!r} is not a valid {rtype} address") from None
    comment = body.get("comment", "")
    if "\n" in comment or "\r" in comment or len(comment) > 100:
        raise invalid("comment must be at most 100 characters without newlines")
    if any(":" not in t for t in body.get("tags", [])):
        raise invalid("tags must be name:value strings")
    if "settings" in body:
        check_fields(body["settings"], "settings", {},
                     {"flatten_cname": t_bool, "ipv4_only": t_bool, "ipv6_only": t_bool})


def valid_hostname(name):
    if not name or len(name) > 253 or not name.isascii():
        return False
    labels = name.split(".")
    if labels[0] == "*":
        labels = labels[1:]
    return len(labels) >= 1 and all(LABEL.fullmatch(lbl) for lbl in labels)


# ---------------------------------------------------------------------------
# In-memory state

@dataclass(kw_only=True)
class Fault(fakebase.PathFault):
    """One injected fault (POST /__fake/inject); see fakebase.FakeHandler._apply_fault."""
    error: Optional[dict] = None

    SHOWN = ("status", "hang_s", "close", "malformed", "error", "headers")


class FakeCloudflare(fakebase.FakeState):
    """All state, guarded by one lock; handlers run with the lock held."""

    def __init__(self, token, zone, account_id, zone_id):
        super().__init__()
        self.initial = {"token": token, "zone": zone, "account_id": account_id, "zone_id": zone_id}
        self.reset()

    def reset(self):
        with self.lock:
            init = self.initial
            self.token, self.token_status, self.token_kind = init["token"], "active", "user"
            self.zones, self.tunnels, self.records = {}, {}, {}
            self.add_zone(init["zone"], init["account_id"], zone_id=init["zone_id"])
            self.faults, self.next_fault_id = [], 1
            self.requests, self.next_request_id = [], 1
            self.latency_ms = 0
            self.options = dict(DEFAULT_OPTIONS)

    # -- lookups that raise the API's own errors

    def add_zone(self, name, account_id, zone_id=None, status="active", account_name="Fake Account"):
        zone_id = zone_id or uuid.uuid4().hex
        created = now_iso()
        self.zones[zone_id] = {
            "id": zone_id, "name": name, "status": status, "paused": False, "type": "full",
            "development_mode": 0, "name_servers": ["bob.ns.cloudflare.com", "lola.ns.cloudflare.com"],
            "original_name_servers": None, "account": {"id": account_id, "name": account_name},
            "created_on": created, "modified_on": created,
            "activated_on": created if status == "active" else None,
        }
        return self.zones[zone_id]

    def accounts(self):
        return {z["account"]["id"] for z in self.zones.values()}

    def account(self, account_id):
        # The token can only see accounts that own one of its zones.
        if account_id not in self.accounts():
            raise auth_error(f"unknown account {account_id}")
        return account_id

    def zone(self, zone_id):
        if zone_id not in self.zones:
            raise auth_error(f"unknown zone {zone_id}")
        return self.zones[zone_id]

    def tunnel(self, account_id, tunnel_id, allow_deleted=False):
        self.account(account_id)
        t = self.tunnels.get(tunnel_id)
        if t is None or t["account_tag"] != account_id or (t["deleted_at"] and not allow_deleted):
            raise ApiError(404, CODE_TUNNEL_NOT_FOUND, "tunnel not found")
        return t

    def record(self, zone_id, record_id):
        self.zone(zone_id)
        r = self.records.get(record_id)
        if r is None or r["zone_id"] != zone_id:
            raise ApiError(404, 81044, "Record does not exist.")
        return r

    # -- public views of internal objects

    def tunnel_status(self, t):
        if t["connectors"]:
            return "healthy"
        return "down" if t["conns_active_at"] else "inactive"

    def tunnel_view(self, t):
        # The deprecated flat `connections` field: every edge connection of every connector.
        legacy = [dict(c) for connector in t["connectors"] for c in connector["conns"]]
        return {
            "id": t["id"], "account_tag": t["account_tag"], "created_at": t["created_at"],
            "deleted_at": t["deleted_at"], "name": t["name"], "connections": legacy,
            "conns_active_at": t["conns_active_at"], "conns_inactive_at": t["conns_inactive_at"],
            "tun_type": "cfd_tunnel", "metadata": {}, "status": self.tunnel_status(t),
            "remote_config": t["config_src"] == "cloudflare", "config_src": t["config_src"],
        }

    def configuration_view(self, t):
        return {"account_id": t["account_tag"], "tunnel_id": t["id"], "version": t["config_version"],
                "source": t["config_src"], "created_at": t["config_updated_at"], "config": t["config"]}

    def record_view(self, r):
        return dict(r)

    def state(self):
        tunnels = []
        for t in self.tunnels.values():
            tunnels.append({**self.tunnel_view(t), "secret": t["secret"], "config": t["config"],
                            "config_version": t["config_version"], "connections": t["connectors"]})
        return {
            "zones": list(self.zones.values()), "tunnels": tunnels,
            "dns_records": list(self.records.values()),
            "api_token": {"status": self.token_status, "kind": self.token_kind},
            "latency_ms": self.latency_ms, "options": self.options,
            "faults": [f.describe() for f in self.faults],
        }


# ---------------------------------------------------------------------------
# API handlers: (fake, call) -> Reply; run with fake.lock held

@dataclass
class Call:
    params: dict
    query: dict
    body: Optional[dict]


def verify_reply(fake):
    messages = []
    if fake.token_status == "active":
        messages = [{"code": 10000, "message": "This API Token is valid and active", "type": None}]
    token_id = hashlib.sha256(fake.token.encode()).hexdigest()[:32]
    return Reply({"id": token_id, "status": fake.token_status}, messages=messages)


def verify_user_token(fake, call):
    # Account-owned tokens reportedly fail here (docs/cloudflare-api.md §5), status unverified.
    if fake.token_kind != "user":
        raise ApiError(403, 1000, "Invalid API Token")
    return verify_reply(fake)


def verify_account_token(fake, call):
    fake.account(call.params["account_id"])
    if fake.token_kind != "account":
        raise ApiError(403, 1000, "Invalid API Token")
    return verify_reply(fake)


def list_zones(fake, call):
    q = call.query
    conds = []
    if "name" in q:
        conds.append(lambda z: z["name"] == q["name"].lower())
    if "status" in q:
        conds.append(lambda z: z["status"] == q["status"])
    if "account.id" in q:
        conds.append(lambda z: z["account"]["id"] == q["account.id"])
    if "account.name" in q:
        conds.append(lambda z: z["account"]["name"] == q["account.name"])
    combine = any if q.get("match") == "any" else all
    zones = [z for z in fake.zones.values() if not conds or combine(c(z) for c in conds)]
    sort_keys = {"name": lambda z: z["name"], "status": lambda z: z["status"],
                 "account.id": lambda z: z["account"]["id"],
                 "account.name": lambda z: z["account"]["name"]}
    zones.sort(key=sort_keys[q.get("order", "name")], reverse=q.get("direction") == "desc")
    return paginate(zones, q, 20)


def tunnel_matches(fake, t, q):
    name = t["name"]
    if "name" in q and name != q["name"]:
        return False
    if "is_deleted" in q and bool(t["deleted_at"]) != q["is_deleted"]:
        return False
    if "uuid" in q and t["id"] != q["uuid"]:
        return False
    if "status" in q and fake.tunnel_status(t) != q["status"]:
        return False
    if "include_prefix" in q and not name.startswith(q["include_prefix"]):
        return False
    if "exclude_prefix" in q and name.startswith(q["exclude_prefix"]):
        return False
    if "existed_at" in q:
        at = q["existed_at"]
        created = datetime.datetime.fromisoformat(t["created_at"].replace("Z", "+00:00"))
        deleted = t["deleted_at"] and datetime.datetime.fromisoformat(t["deleted_at"].replace("Z", "+00:00"))
        if created > at or (deleted and deleted <= at):
            return False
    return True  # was_active_at / was_inactive_at are accepted but not applied


def list_tunnels(fake, call):
    account = fake.account(call.params["account_id"])
    found = [fake.tunnel_view(t) for t in fake.tunnels.values()
             if t["account_tag"] == account and tunnel_matches(fake, t, call.query)]
    return paginate(found, call.query, 20)


def name_taken(fake, account, name, except_id=None):
    return any(t["account_tag"] == account and t["name"] == name and t["id"] != except_id
               and (not t["deleted_at"] or not fake.options["tunnel_name_reuse"])
               for t in fake.tunnels.values())


def create_tunnel(fake, call):
    account, body = fake.account(call.params["account_id"]), call.body
    if name_taken(fake, account, body["name"]):
        raise ApiError(409, 1013, MSG_TUNNEL_EXISTS)
    created = now_iso()
    t = {
        "id": str(uuid.uuid4()), "account_tag": account, "name": body["name"],
        "created_at": created, "deleted_at": None, "conns_active_at": None,
        "conns_inactive_at": created, "config_src": body.get("config_src", "local"),
        "secret": body.get("tunnel_secret") or base64.b64encode(secrets.token_bytes(32)).decode(),
        "config": None, "config_version": 0, "config_updated_at": None, "connectors": [],
    }
    fake.tunnels[t["id"]] = t
    result = fake.tunnel_view(t)
    if fake.options["create_returns_credentials"]:
        result["credentials_file"] = {"AccountTag": account, "TunnelID": t["id"],
                                      "TunnelName": t["name"], "TunnelSecret": t["secret"]}
    if fake.options["create_returns_token"]:
        result["token"] = tunnel_token(account, t["id"], t["secret"])
    return Reply(result)


def get_tunnel(fake, call):
    return Reply(fake.tunnel_view(fake.tunnel(call.params["account_id"], call.params["tunnel_id"],
                                              allow_deleted=True)))


def patch_tunnel(fake, call):
    t = fake.tunnel(call.params["account_id"], call.params["tunnel_id"])
    if "name" in call.body:
        if name_taken(fake, t["account_tag"], call.body["name"], except_id=t["id"]):
            raise ApiError(409, 1013, MSG_TUNNEL_EXISTS)
        t["name"] = call.body["name"]
    if "tunnel_secret" in call.body:
        t["secret"] = call.body["tunnel_secret"]
    return Reply(fake.tunnel_view(t))


def delete_tunnel(fake, call):
    t = fake.tunnel(call.params["account_id"], call.params["tunnel_id"])
    if t["connectors"]:
        if not call.query.get("cascade"):
            raise ApiError(fake.options["delete_active_status"], 1022, MSG_ACTIVE_CONNECTIONS)
        drop_connectors(t, None)
    t["deleted_at"] = now_iso()
    return Reply(fake.tunnel_view(t))


def get_tunnel_token(fake, call):
    t = fake.tunnel(call.params["account_id"], call.params["tunnel_id"])
    return Reply(tunnel_token(t["account_tag"], t["id"], t["secret"]))


def put_configuration(fake, call):
    t = fake.tunnel(call.params["account_id"], call.params["tunnel_id"])
    config = dict(call.body["config"])
    config.setdefault("originRequest", {})
    # Stored even for config_src=local tunnels, where it has no effect (docs/cloudflare-api.md §8).
    t["config"], t["config_version"], t["config_updated_at"] = config, t["config_version"] + 1, now_iso()
    return Reply(fake.configuration_view(t))


def get_configuration(fake, call):
    return Reply(fake.configuration_view(fake.tunnel(call.params["account_id"], call.params["tunnel_id"])))


def list_connections(fake, call):
    return Reply(fake.tunnel(call.params["account_id"], call.params["tunnel_id"])["connectors"])


def drop_connectors(t, client_id):
    before = len(t["connectors"])
    t["connectors"] = [c for c in t["connectors"] if client_id and c["id"] != client_id]
    if before and not t["connectors"]:
        t["conns_inactive_at"] = now_iso()


def delete_connections(fake, call):
    t = fake.tunnel(call.params["account_id"], call.params["tunnel_id"])
    drop_connectors(t, call.query.get("client_id"))
    return Reply({})


def record_matches(fake, r, q):
    name, content = r["name"], r["content"].lower()
    checks = []
    if "name.exact" in q:
        checks.append(name == q["name.exact"].lower())
    if "name" in q and fake.options["dns_bare_name_filter"]:
        checks.append(name == q["name"].lower())
    if "name.contains" in q:
        checks.append(q["name.contains"].lower() in name)
    if "name.startswith" in q:
        checks.append(name.startswith(q["name.startswith"].lower()))
    if "name.endswith" in q:
        checks.append(name.endswith(q["name.endswith"].lower()))
    if "type" in q:
        checks.append(r["type"] == q["type"])
    for key in ("content", "content.exact"):
        if key in q:
            checks.append(content == q[key].lower())
    if "proxied" in q:
        checks.append(r["proxied"] == q["proxied"])
    for key in ("comment", "comment.exact"):
        if key in q:
            checks.append(r["comment"] == q[key])
    if "tag" in q:
        checks.append(q["tag"] in r["tags"])
    if not checks:
        return True
    return any(checks) if q.get("match") == "any" else all(checks)


def list_dns_records(fake, call):
    zone, q = fake.zone(call.params["zone_id"]), call.query
    found = [fake.record_view(r) for r in fake.records.values()
             if r["zone_id"] == zone["id"] and record_matches(fake, r, q)]
    order = q.get("order", "type")
    found.sort(key=lambda r: (str(r[order]), r["name"]), reverse=q.get("direction") == "desc")
    return paginate(found, q, 100)


def normalize_record_name(zone, name):
    """FQDN inside the zone, lower case; '@' is the apex (2024 spec text)."""
    name = zone["name"] if name == "@" else name.lower()
    if not valid_hostname(name):
        raise invalid(f"name {name!r} is not a valid hostname (Punycode, no trailing dot)")
    if name != zone["name"] and not name.endswith("." + zone["name"]):
        raise invalid(f"name {name!r} is not inside zone {zone['name']}")
    return name


def check_dns_conflicts(fake, zone_id, rec, except_id=None):
    same_name = [r for r in fake.records.values()
                 if r["zone_id"] == zone_id and r["name"] == rec["name"] and r["id"] != except_id]
    for r in same_name:
        if r["type"] == rec["type"] and r["content"].lower() == rec["content"].lower():
            code = fake.options["dns_identical_code"]
            raise ApiError(400, code, DNS_CONFLICTS[code])
    types = {r["type"] for r in same_name}
    if rec["type"] == "CNAME" and types & {"A", "AAAA", "CNAME"}:
        raise ApiError(400, 81053, DNS_CONFLICTS[81053])
    if rec["type"] in ("A", "AAAA") and "CNAME" in types:
        raise ApiError(400, 81054, DNS_CONFLICTS[81054])


def make_record(zone, body, record_id=None, created_on=None):
    stamp = now_iso()
    rec = {
        "id": record_id or uuid.uuid4().hex, "zone_id": zone["id"], "zone_name": zone["name"],
        "name": normalize_record_name(zone, body["name"]), "type": body["type"],
        "content": body["content"], "proxiable": body["type"] in ("A", "AAAA", "CNAME"),
        "proxied": body.get("proxied", False), "ttl": body.get("ttl", 1),
        "settings": body.get("settings", {}), "meta": {"auto_added": False},
        "comment": body.get("comment"), "tags": body.get("tags", []),
        "created_on": created_on or stamp, "modified_on": stamp,
    }
    if rec["type"] == "CNAME":
        rec["content"] = rec["content"].lower()  # names come back in lower-case Punycode
    return rec


def create_dns_record(fake, call):
    zone = fake.zone(call.params["zone_id"])
    rec = make_record(zone, call.body)
    check_dns_conflicts(fake, zone["id"], rec)
    fake.records[rec["id"]] = rec
    return Reply(fake.record_view(rec))


def get_dns_record(fake, call):
    return Reply(fake.record_view(fake.record(call.params["zone_id"], call.params["record_id"])))


def replace_dns_record(fake, call):
    # PUT and PATCH: the reference requires the full record for both.
    old = fake.record(call.params["zone_id"], call.params["record_id"])
    zone = fake.zones[old["zone_id"]]
    rec = make_record(zone, call.body, record_id=old["id"], created_on=old["created_on"])
    check_dns_conflicts(fake, zone["id"], rec, except_id=old["id"])
    fake.records[rec["id"]] = rec
    return Reply(fake.record_view(rec))


def delete_dns_record(fake, call):
    rec = fake.record(call.params["zone_id"], call.params["record_id"])
    del fake.records[rec["id"]]
    return Reply({"id": rec["id"]})


# ---------------------------------------------------------------------------
# The route table

@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    handler: Callable
    query: dict = field(default_factory=dict)   # name -> validator; others are rejected
    body: Optional[Callable] = None              # None: the request must carry no body
    any_token_status: bool = False               # verify answers for disabled/expired tokens too

    def match(self, path):
        return re.fullmatch(self.pattern, path)


# Path ids are captured loosely ([^/]+) so a malformed one gets a 400 naming it.
ACC = r"/accounts/(?P<account_id>[^/]+)"
TUN = ACC + r"/cfd_tunnel/(?P<tunnel_id>[^/]+)"
ZONE = r"/zones/(?P<zone_id>[^/]+)"
REC = ZONE + r"/dns_records/(?P<record_id>[^/]+)"

ROUTES = [
    Route("GET", r"/user/tokens/verify", verify_user_token, any_token_status=True),
    Route("GET", ACC + r"/tokens/verify", verify_account_token, any_token_status=True),
    Route("GET", r"/zones", list_zones, ZONES_QUERY),
    Route("GET", ACC + r"/cfd_tunnel", list_tunnels, TUNNELS_QUERY),
    Route("POST", ACC + r"/cfd_tunnel", create_tunnel, body=body_create_tunnel),
    Route("GET", TUN, get_tunnel),
    Route("PATCH", TUN, patch_tunnel, body=body_patch_tunnel),
    Route("DELETE", TUN, delete_tunnel, DELETE_TUNNEL_QUERY),
    Route("GET", TUN + r"/token", get_tunnel_token),
    Route("PUT", TUN + r"/configurations", put_configuration, body=body_put_configuration),
    Route("GET", TUN + r"/configurations", get_configuration),
    Route("GET", TUN + r"/connections", list_connections),
    Route("DELETE", TUN + r"/connections", delete_connections, DELETE_CONNECTIONS_QUERY),
    Route("GET", ZONE + r"/dns_records", list_dns_records, DNS_LIST_QUERY),
    Route("POST", ZONE + r"/dns_records", create_dns_record, body=body_dns_record),
    Route("GET", REC, get_dns_record),
    Route("PUT", REC, replace_dns_record, body=body_dns_record),
    Route("PATCH", REC, replace_dns_record, body=body_dns_record),
    Route("DELETE", REC, delete_dns_record),
]

ID_FORMATS = {
    "account_id": (HEX32, "32 lowercase hex characters"),
    "zone_id": (HEX32, "32 lowercase hex characters"),
    "record_id": (HEX32, "32 lowercase hex characters"),
    "tunnel_id": (UUID_RE, "a lowercase UUID"),
}


def find_route(method, api_path, full_path):
    if api_path is not None:
        for route in ROUTES:
            m = route.match(api_path)
            if m and route.method == method:
                return route, m.groupdict()
    raise ApiError(404, 7003, "No route for the URI", rejected=f"no route for {method} {full_path}")


def check_ids(api_path, params):
    for name, value in params.items():
        regex, what = ID_FORMATS[name]
        if not regex.fullmatch(value):
            raise ApiError(400, 7003, f"Could not route to {api_path}, perhaps your object "
                           "identifier is invalid?", rejected=f"{name} {value!r} is not {what}")


def check_query(route, pairs):
    query = {}
    for key, value in pairs:
        if key not in route.query:
            raise invalid(f"unknown query parameter {key!r}")
        if key in query:
            raise invalid(f"query parameter {key!r} given more than once")
        try:
            query[key] = route.query[key](value)
        except ValueError as e:
            raise invalid(f"query parameter {key} {e}") from None
    return query


def media_types(header):
    return [part.split(";")[0].strip().lower() for part in (header or "").split(",")]


def check_headers(fake, route, headers, body_raw):
    """Authorization, User-Agent, Accept, Content-Type (docs/cloudflare-api.md §1)."""
    auth = headers.get("Authorization")
    if auth is None:
        raise auth_error("missing Authorization header")
    m = re.fullmatch(r"Bearer ([!-~]+)", auth)
    if not m:
        raise bad_header("Invalid format for Authorization header", chain_code=6111)
    if m.group(1) != fake.token:
        raise auth_error("wrong API token")
    if fake.token_status != "active" and not route.any_token_status:
        raise auth_error(f"API token is {fake.token_status}")
    if not headers.get("User-Agent"):
        raise bad_header("missing User-Agent header")
    if "application/json" not in media_types(headers.get("Accept")):
        raise bad_header(f"Accept must include application/json (got {headers.get('Accept')!r})")
    ctype = headers.get("Content-Type")
    if body_raw and route.body is None:
        raise bad_header(f"{route.method} requests must not have a body")
    if not body_raw and route.body is not None:
        raise invalid("request body is required")
    if body_raw and not re.fullmatch(r"application/json\s*(;\s*charset=utf-8\s*)?", ctype or "", re.I):
        raise bad_header(f"Content-Type must be application/json (got {ctype!r})")
    if not body_raw and ctype is not None:
        raise bad_header("Content-Type sent without a body")


def parse_body(route, body_raw):
    if route.body is None:
        return None
    try:
        body = json.loads(body_raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, 6007, "Malformed JSON in request body",
                       rejected="body is not valid JSON") from None
    if not isinstance(body, dict):
        raise invalid("body must be a JSON object")
    route.body(body)
    return body


# ---------------------------------------------------------------------------
# Admin (test control) handlers: (fake, params, body) -> dict; run with the lock.
# `params` holds the groups of the admin path (see Handler._admin_params).

def admin_requests(fake, params, body):
    return {"requests": fake.requests}


def default_error(status):
    """Body of an injected status without body/error: a plausible Cloudflare error."""
    if status == 429:
        return {"code": 971, "message": MSG_RATE_LIMITED}
    if status == 403:
        return {"code": 10000, "message": "Authentication error"}
    if status == 404:
        return {"code": 7003, "message": "No route for the URI"}
    return {"code": 1000 + status, "message": fakebase.injected_reason(status)}


def admin_inject(fake, params, body):
    admin_fields(body, ["method", "path", "times", "status", "body", "headers", "hang_s",
                        "close", "malformed", "error"])
    path = fakebase.fault_regex(body, "path")
    times, status = fakebase.fault_times_status(body)
    malformed = fakebase.fault_malformed(body, ("html", "cut", "truncated", "success_string", "null_message"))
    error = body.get("error")
    if error is not None:
        admin_fields(error, ["code", "message", "error_chain"])
        if not t_int(error.get("code")) or not t_str(error.get("message")):
            raise AdminError("error needs an integer code and a string message")
    hang_s, headers = fakebase.fault_hang_headers(body)
    return fake.add_fault(Fault, body, method=(body.get("method") or "").upper() or None, path=path,
                          times=times, status=status, headers=headers, hang_s=hang_s, malformed=malformed,
                          error=error)


def admin_connections(fake, params, body):
    """Simulate `count` live connectors (cloudflared processes) on a tunnel; 0 clears."""
    admin_fields(body, ["count", "conns"])
    count, per = body.get("count", 1), body.get("conns", 4)
    if not t_int(count) or count < 0 or not t_int(per) or per < 1:
        raise AdminError("count must be an integer >= 0 and conns >= 1")
    t = fake.tunnels.get(params["tunnel_id"])
    if t is None or t["deleted_at"]:
        raise AdminError(f"no live tunnel {params['tunnel_id']}")
    stamp = now_iso()
    t["connectors"] = []
    for _ in range(count):
        client = str(uuid.uuid4())
        conns = [{"id": str(uuid.uuid4()), "client_id": client, "client_version": "2026.8.2",
                  "colo_name": ("FRA", "AMS")[i % 2], "is_pending_reconnect": False,
                  "opened_at": stamp, "origin_ip": "10.1.0.137", "uuid": str(uuid.uuid4())}
                 for i in range(per)]
        t["connectors"].append({"id": client, "arch": "linux_arm64", "version": "2026.8.2",
                                "config_version": t["config_version"], "features": ["ha-origin"],
                                "run_at": stamp, "conns": conns})
    if count:
        t["conns_active_at"] = stamp
    elif t["conns_active_at"]:
        t["conns_inactive_at"] = stamp
    return {"connections": t["connectors"]}


def admin_dns_record(fake, params, body):
    """Pre-create any record (e.g. a foreign A or CNAME), bypassing conflict checks."""
    admin_fields(body, ["zone_id", "id", "type", "name", "content", "ttl", "proxied",
                        "comment", "tags", "settings"])
    zone_id = body.get("zone_id") or fake.initial["zone_id"]
    if zone_id not in fake.zones:
        raise AdminError(f"unknown zone {zone_id}")
    for key in ("type", "name", "content"):
        if not t_str(body.get(key)):
            raise AdminError(f"{key} must be a string")
    if body.get("id") is not None and not HEX32.fullmatch(str(body["id"])):
        raise AdminError("id must be 32 lowercase hex")
    fields = {k: v for k, v in body.items() if k not in ("zone_id", "id")}
    try:
        rec = make_record(fake.zones[zone_id], fields, record_id=body.get("id"))
    except ApiError as e:
        raise AdminError(e.message) from None
    fake.records[rec["id"]] = rec
    return {"record": rec}


def admin_zone(fake, params, body):
    admin_fields(body, ["name", "status", "account_id", "account_name", "id"])
    name = body.get("name")
    if not t_str(name) or not valid_hostname(name.lower()):
        raise AdminError("name must be a hostname")
    account = body.get("account_id") or fake.initial["account_id"]
    zone_id = body.get("id") or None
    for value in (account, zone_id or "0" * 32):
        if not HEX32.fullmatch(value):
            raise AdminError("account_id and id must be 32 lowercase hex")
    if body.get("status", "active") not in ("initializing", "pending", "active", "moved"):
        raise AdminError("bad status")
    zone = fake.add_zone(name.lower(), account, zone_id=zone_id, status=body.get("status", "active"),
                         account_name=body.get("account_name", "Fake Account"))
    return {"zone": zone}


def admin_token(fake, params, body):
    admin_fields(body, ["token", "status", "kind"])
    if "token" in body and (not t_str(body["token"]) or not re.fullmatch(r"[!-~]+", body["token"])):
        raise AdminError("token must be a non-empty string without spaces")
    if body.get("status", "active") not in ("active", "disabled", "expired"):
        raise AdminError("status must be active, disabled or expired")
    if body.get("kind", "user") not in ("user", "account"):
        raise AdminError("kind must be user or account")
    fake.token = body.get("token", fake.token)
    fake.token_status = body.get("status", fake.token_status)
    fake.token_kind = body.get("kind", fake.token_kind)
    return {"status": fake.token_status, "kind": fake.token_kind}


def admin_options(fake, params, body):
    admin_fields(body, DEFAULT_OPTIONS)
    if body.get("dns_identical_code", 81058) not in (81057, 81058):
        raise AdminError("dns_identical_code must be 81057 or 81058")
    for key, value in body.items():
        if type(value) is not type(DEFAULT_OPTIONS[key]):
            raise AdminError(f"{key} must be of type {type(DEFAULT_OPTIONS[key]).__name__}")
    fake.options.update(body)
    return {"options": fake.options}


ADMIN_ROUTES = [
    ("GET", r"/state", fakebase.admin_state),
    ("GET", r"/requests", admin_requests),
    ("POST", r"/requests/clear", fakebase.admin_requests_clear),
    ("POST", r"/inject", admin_inject),
    ("GET", r"/faults", fakebase.admin_faults),
    ("POST", r"/faults/clear", fakebase.admin_faults_clear),
    ("POST", r"/latency", fakebase.admin_latency),
    ("POST", r"/tunnels/(?P<tunnel_id>[^/]+)/connections", admin_connections),
    ("POST", r"/dns_records", admin_dns_record),
    ("POST", r"/zones", admin_zone),
    ("POST", r"/reset", fakebase.admin_reset),
    ("POST", r"/token", admin_token),
    ("POST", r"/options", admin_options),
]


# ---------------------------------------------------------------------------
# HTTP

class Handler(fakebase.FakeHandler):
    server_version = "fake-cfapi"
    fake: FakeCloudflare = None  # set by fakebase.serve()
    log_name = "fake_cfapi"
    admin_routes = ADMIN_ROUTES
    error_page = b"<html><head><title>502 Bad Gateway</title></head><body>cloudflare</body></html>"

    def _admin_params(self, url, match):
        return match.groupdict()  # the admin query string is not used

    # -- API

    def _log_entry(self, url, raw, api_path):
        fake = self.fake
        headers = {}
        for name, value in self.headers.items():
            if name.lower() in ("authorization", "x-auth-key"):
                value = "<redacted>" if value == f"Bearer {fake.token}" else "<wrong>"
            headers[name] = value
        query = {}
        for key, value in parse_qsl(url.query, keep_blank_values=True):
            query[key] = [*query[key], value] if isinstance(query.get(key), list) else (
                [query[key], value] if key in query else value)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with fake.lock:
            entry = {"id": fake.next_request_id, "time": now_iso(), "t": time.time(), "method": self.command,
                     "path": url.path, "api_path": api_path, "query": query, "headers": headers,
                     "body": body, "status": None, "rejected": False, "reject_reason": None,
                     "error_codes": [], "fault": None}
            fake.next_request_id += 1
            fake.requests.append(entry)
        return entry

    def _finish(self, entry, status, error=None, note=""):
        """Record the outcome. Called *before* answering, so that a client reading
        /__fake/requests right after its response always sees it."""
        with self.fake.lock:
            entry["status"] = status
            if error is not None:
                entry["error_codes"] = [error.code]
                if error.rejected:
                    entry["rejected"], entry["reject_reason"] = True, error.rejected
        line = f"{entry['method']} {entry['path']}"
        if entry["query"]:
            line += "?" + "&".join(sorted(entry["query"]))  # parameter names only
        line += f" -> {status}"
        if error is not None:
            line += f" code={error.code}"
            if error.rejected:
                line += f" REJECTED: {error.rejected}"
        if entry["fault"]:
            line += f" fault#{entry['fault']['id']}"
        self._log_line(line + note)

    def _serve_api(self, url, raw):
        fake = self.fake
        api_path = url.path[len(API_PREFIX):] if url.path.startswith(API_PREFIX + "/") else None
        entry = self._log_entry(url, raw, api_path)
        if fake.latency_ms:
            fake.stop.wait(fake.latency_ms / 1000.0)
        try:
            route, params = find_route(self.command, api_path, url.path)
            check_headers(fake, route, self.headers, raw)
            check_ids(api_path, params)
            call = Call(params, check_query(route, parse_qsl(url.query, keep_blank_values=True)),
                        parse_body(route, raw))
            fault = fake.take_fault(self.command, api_path)
            if fault:
                with fake.lock:
                    entry["fault"] = fault.describe()
                if self._apply_fault(fault, entry):
                    return
            with fake.lock:
                reply = route.handler(fake, call)
                data = json.dumps(reply.envelope()).encode()
            self._finish(entry, 200)
            self._send(200, data)
        except ApiError as e:
            self._finish(entry, e.status, e)
            self._send(e.status, e.envelope(), e.headers)
        except (BrokenPipeError, ConnectionResetError):
            raise  # the client went away (e.g. timed out during a hang): not a fake bug
        except Exception as e:  # a bug in the fake: answer and flag it loudly, never hang
            traceback.print_exc()
            error = ApiError(500, 1500, f"fake_cfapi internal error: {e!r}", rejected="fake internal error")
            self._finish(entry, 500, error)
            self._send(500, error.envelope())

    def _fault_status(self, fault):
        return fault.status or (400 if fault.error else 200)

    def _malformed_json(self, status):
        return json.dumps(failure_envelope([{"code": 1000 + status, "message": "x"}]) if status >= 400
                          else {"success": True, "errors": [], "messages": [], "result": {}}).encode()

    def _send_malformed(self, status, fault):
        # Valid JSON with a wrong type where the reference promises another:
        # what a misbehaving proxy or a changed API could send.
        if fault.malformed == "success_string":
            self._send(status, json.dumps({"success": "true", "errors": [], "messages": [], "result": {}}).encode(),
                       fault.headers)
        elif fault.malformed == "null_message":
            self._send(status, failure_envelope([{"code": 1000 + status, "message": None}]), fault.headers)
        else:
            super()._send_malformed(status, fault)

    def _answer_fault(self, fault, status, entry):
        if fault.status is None and not fault.error:
            return False
        error = dict(fault.error or default_error(status))
        self._finish(entry, status, ApiError(status, error["code"], error["message"]))
        self._send(status, failure_envelope([error]), fault.headers)
        return True


# ---------------------------------------------------------------------------

def parse_args(argv):
    p = fakebase.arg_parser(__doc__)
    p.add_argument("--token", required=True, help="the API token to accept (Bearer)")
    p.add_argument("--zone", default="example.com")
    p.add_argument("--account-id", help="32 hex (default derived from --zone)")
    p.add_argument("--zone-id", help="32 hex (default derived from --zone)")
    args = p.parse_args(argv)
    args.zone = args.zone.lower()
    args.account_id = args.account_id or derived_hex32("account:" + args.zone)
    args.zone_id = args.zone_id or derived_hex32("zone:" + args.zone)
    if not valid_hostname(args.zone):
        p.error("--zone must be a hostname")
    for name in ("account_id", "zone_id"):
        if not HEX32.fullmatch(getattr(args, name)):
            p.error(f"--{name.replace('_', '-')} must be 32 lowercase hex characters")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    fake = FakeCloudflare(args.token, args.zone, args.account_id, args.zone_id)
    return fakebase.serve(Handler, fake, args, lambda port: (
        f"http://127.0.0.1:{port}{API_PREFIX} zone={args.zone} zone_id={args.zone_id} account_id={args.account_id}"))


if __name__ == "__main__":
    sys.exit(main())
