// The provisioning steps without a loop: the request each step sends and
// what it makes of each reply (docs/cloudflare-api.md §13-14).
#include <catch2/catch.hpp>

#include "provision_steps.hpp"

using namespace tether;
using json = nlohmann::json;

namespace {

const std::string kTunnel = "f70ff985-a4ef-4643-bbbc-4a0ed4fc8415";

CfReply ok(json result) {
  CfReply r;
  r.ok = r.readable = true;
  r.http = 200;
  r.result = std::move(result);
  return r;
}

CfReply err(int http, int code, const std::string& step = "step") {
  CfReply r;
  r.readable = true;
  r.http = http;
  r.codes = {code};
  r.error = {step, http, code, "refused"};
  return r;
}

json cname(const std::string& id, const std::string& host, const std::string& content, bool proxied,
           const std::string& comment = "") {
  return {{"id", id},           {"type", "CNAME"},    {"name", host},
          {"content", content}, {"proxied", proxied}, {"comment", comment}};
}

}  // namespace

TEST_CASE("provision steps: zone lookup walks up to the parents") {
  REQUIRE(zone_candidates("drones.example.com") == std::vector<std::string>{"drones.example.com", "example.com"});
  CfRequest req = find_zone_request("example.com");
  REQUIRE(req.method == "GET");
  REQUIRE(req.path == "/zones?name=example.com&per_page=50");
  REQUIRE(req.expect == CfShape::array);
  ZoneFound z;
  json zones = {{{"id", "z1"}, {"name", "other.com"}},
                {{"id", "z2"}, {"name", "Example.COM"}, {"account", {{"id", "acc"}}}}};
  REQUIRE(zone_in_reply(zones, "example.com", &z));
  REQUIRE(z.id == "z2");
  REQUIRE(z.account == "acc");
  REQUIRE_FALSE(zone_in_reply(zones, "drones.example.com", &z));
  REQUIRE_FALSE(zone_in_reply(json::object(), "example.com", &z));
}

TEST_CASE("provision steps: verify token on either endpoint") {
  REQUIRE(verify_request("").path == "/user/tokens/verify");
  REQUIRE(verify_request("acc").path == "/accounts/acc/tokens/verify");
  REQUIRE(try_account_verify(err(401, 1000)));
  REQUIRE(try_account_verify(err(403, 10000)));
  REQUIRE_FALSE(try_account_verify(err(500, 0)));
  REQUIRE(token_problem({{"status", "active"}}).empty());
  REQUIRE(token_problem({{"status", "expired"}}) == "verify token: the API token is expired");
  REQUIRE(token_problem(json::object()) == "verify token: the API token is not usable");
}

TEST_CASE("provision steps: find tunnel tells ours, foreign and locally managed apart") {
  REQUIRE(find_tunnel_request("acc", "drone-7").path == "/accounts/acc/cfd_tunnel?name=drone-7&is_deleted=false");
  json tunnels = {{{"id", "old"}, {"name", "drone-7"}, {"deleted_at", "2025-01-01T00:00:00Z"}},
                  {{"id", kTunnel},
                   {"name", "drone-7"},
                   {"deleted_at", nullptr},
                   {"status", "healthy"},
                   {"config_src", "cloudflare"}}};
  TunnelFound t = tunnel_in_reply(tunnels, "drone-7", "");
  REQUIRE(t.found);
  REQUIRE(t.id == kTunnel);
  REQUIRE_FALSE(t.ours);
  REQUIRE(tunnel_refusal(t, "drone-7", false).code == "exists");
  REQUIRE_FALSE(tunnel_refusal(t, "drone-7", true));
  t = tunnel_in_reply(tunnels, "drone-7", "F70FF985-A4EF-4643-BBBC-4A0ED4FC8415");
  REQUIRE(t.ours);
  REQUIRE_FALSE(tunnel_refusal(t, "drone-7", false));
  tunnels[1]["config_src"] = "local";
  t = tunnel_in_reply(tunnels, "drone-7", kTunnel);
  StepError e = tunnel_refusal(t, "drone-7", true);
  REQUIRE(e.code == "api");
  REQUIRE(e.message.find("is locally managed") != std::string::npos);
  REQUIRE_FALSE(tunnel_in_reply(tunnels, "drone-8", "").found);
}

TEST_CASE("provision steps: create tunnel and get token") {
  CfRequest req = create_tunnel_request("acc", "drone-7");
  REQUIRE(req.method == "POST");
  REQUIRE(req.path == "/accounts/acc/cfd_tunnel");
  REQUIRE(req.body == json{{"name", "drone-7"}, {"config_src", "cloudflare"}});
  REQUIRE(create_tunnel_conflict(err(409, 1013)));
  REQUIRE(create_tunnel_conflict(err(400, 1013)));
  REQUIRE_FALSE(create_tunnel_conflict(err(400, 1000)));
  req = token_request("acc", kTunnel);
  REQUIRE(req.path == "/accounts/acc/cfd_tunnel/" + kTunnel + "/token");
  REQUIRE(req.expect == CfShape::string);
}

TEST_CASE("provision steps: the ingress lists every route, then the catch-all") {
  std::vector<Route> routes = {{"cam.example.com", "http://localhost:81", {}, 3},
                               {"api.example.com", "https://localhost:8443", {true, "api.local", 10}, 4}};
  json want = json::parse(R"([
    {"hostname":"cam.example.com","service":"http://localhost:81"},
    {"hostname":"api.example.com","service":"https://localhost:8443",
     "originRequest":{"noTLSVerify":true,"httpHostHeader":"api.local","connectTimeout":10}},
    {"service":"http_status:404"}])");
  REQUIRE(wanted_ingress(routes) == want);
  CfRequest put = put_ingress_request("acc", kTunnel, routes);
  REQUIRE(put.method == "PUT");
  REQUIRE(put.path == "/accounts/acc/cfd_tunnel/" + kTunnel + "/configurations");
  REQUIRE(put.body == json{{"config", {{"ingress", want}}}});
}

TEST_CASE("provision steps: the ingress is only written when it differs") {
  std::vector<Route> routes = {{"drone-7.example.com", "http://localhost:80", {}, 0}};
  StepError e;
  // As the API echoes it: every rule with an originRequest object, defaults included.
  json same = {{"config", {{"ingress", json::parse(R"([
    {"hostname":"drone-7.example.com","service":"http://localhost:80","originRequest":{"noTLSVerify":false}},
    {"service":"http_status:404","originRequest":{}}])")}}}};
  REQUIRE(ingress_action(ok(same), routes, true, "drone-7", kTunnel, &e) == IngressAction::keep);
  REQUIRE_FALSE(e);
  routes[0].origin.connect_timeout_s = 5;
  REQUIRE(ingress_action(ok(same), routes, true, "drone-7", kTunnel, &e) == IngressAction::write);
  // Nothing set yet.
  REQUIRE(ingress_action(err(404, 1000), routes, true, "drone-7", kTunnel, &e) == IngressAction::write);
  REQUIRE_FALSE(e);
  ingress_action(err(500, 0, "get ingress"), routes, true, "drone-7", kTunnel, &e);
  REQUIRE(e.message == "get ingress: refused");
}

TEST_CASE("provision steps: another's routes are never replaced unless adopted") {
  std::vector<Route> routes = {{"drone-7.example.com", "http://localhost:80", {}, 0}};
  json theirs = {{"config", {{"ingress", json::parse(R"([
    {"hostname":"shop.example.com","service":"http://10.0.0.1:80"},{"service":"http_status:404"}])")}}}};
  StepError e;
  ingress_action(ok(theirs), routes, false, "drone-7", kTunnel, &e);
  REQUIRE(e.code == "exists");
  REQUIRE(e.message.find("routes shop.example.com;") != std::string::npos);
  e = {};
  REQUIRE(ingress_action(ok(theirs), routes, true, "drone-7", kTunnel, &e) == IngressAction::write);
  REQUIRE_FALSE(e);
}

TEST_CASE("provision steps: a CNAME is kept, repaired, created or refused") {
  const std::string host = "drone-7.example.com", target = kTunnel + ".cfargotunnel.com";
  CfRequest find = find_dns_request("zid", host);
  REQUIRE(find.path == "/zones/zid/dns_records?name.exact=drone-7.example.com");
  // Errors name the route's host name as well as the step.
  REQUIRE(find.step == "find dns record drone-7.example.com");
  REQUIRE(dns_action(json::array(), host, kTunnel).kind == DnsAction::create);
  REQUIRE(dns_action(json::array({cname("r1", host, target, true)}), host, kTunnel).kind == DnsAction::keep);
  DnsAction a = dns_action(json::array({cname("r1", host, target, false)}), host, kTunnel);
  REQUIRE(a.kind == DnsAction::update);
  REQUIRE(a.record_id == "r1");
  // Ours, pointing at an old tunnel of ours.
  a = dns_action(json::array({cname("r2", host, "old.cfargotunnel.com", true, "managed by tether tunnel old")}), host,
                 kTunnel);
  REQUIRE(a.kind == DnsAction::update);
  a = dns_action(json::array({cname("r3", host, "elsewhere.example.net", true)}), host, kTunnel);
  REQUIRE(a.kind == DnsAction::refuse);
  REQUIRE(a.error.message ==
          "find dns record: drone-7.example.com already has a CNAME record (elsewhere.example.net) "
          "that tether did not create; remove it or provision another name");
  CfRequest c = create_dns_request("zid", host, kTunnel);
  REQUIRE(c.method == "POST");
  REQUIRE(c.body == json{{"type", "CNAME"},
                         {"name", host},
                         {"content", target},
                         {"proxied", true},
                         {"ttl", 1},
                         {"comment", "managed by tether tunnel " + kTunnel}});
  REQUIRE(update_dns_request("zid", "r1", host, kTunnel).path == "/zones/zid/dns_records/r1");
  REQUIRE(create_dns_conflict(err(400, 81053)));
  REQUIRE(create_dns_conflict(err(400, 81058)));
  REQUIRE_FALSE(create_dns_conflict(err(400, 9005)));
}

TEST_CASE("provision steps: the marker counts only with a matching target") {
  REQUIRE(record_is_ours(cname("r", "h", "abc.cfargotunnel.com", true, "managed by tether tunnel abc")));
  REQUIRE_FALSE(record_is_ours(cname("r", "h", "xyz.cfargotunnel.com", true, "managed by tether tunnel abc")));
  REQUIRE_FALSE(record_is_ours(cname("r", "h", "abc.cfargotunnel.com", true, "someone's")));
}

TEST_CASE("provision steps: the env file gets the token and the owner line") {
  EnvFile f = EnvFile::parse("OTHER=1\n");
  REQUIRE(owner_key("drone-7") == "TETHER_TUNNEL_ID_DRONE_7");
  REQUIRE(record_token(f, "CF_TUNNEL_TOKEN_DRONE_7", "tok", "drone-7", kTunnel));
  REQUIRE_FALSE(record_token(f, "CF_TUNNEL_TOKEN_DRONE_7", "tok", "drone-7", kTunnel));
  REQUIRE(f.get("TETHER_TUNNEL_ID_DRONE_7") == kTunnel);
  bool had = false;
  REQUIRE(forget_token(f, "CF_TUNNEL_TOKEN_DRONE_7", "drone-7", &had));
  REQUIRE(had);
  REQUIRE_FALSE(forget_token(f, "CF_TUNNEL_TOKEN_DRONE_7", "drone-7", &had));
  REQUIRE_FALSE(had);
  REQUIRE(f.get("OTHER") == "1");
}

TEST_CASE("provision steps: a host two levels below the zone is warned about") {
  REQUIRE(certificate_warning("drone-7.example.com", "example.com").empty());
  std::string w = certificate_warning("x.drones.example.com", "example.com");
  REQUIRE(w.find("more than one level below the zone example.com") != std::string::npos);
  REQUIRE(w.find("*.drones.example.com") != std::string::npos);
}

TEST_CASE("provision steps: deprovision deletes only tether's records") {
  const std::string host = "drone-7.example.com", target = kTunnel + ".cfargotunnel.com";
  json records = json::array({cname("r1", host, target, true),
                              cname("r2", host, "x.cfargotunnel.com", true, "managed by tether tunnel x"),
                              cname("r3", host, "elsewhere.net", true)});
  REQUIRE(records_to_delete(records, host, kTunnel, true) == std::vector<RecordRef>{{"r1", host}});
  // No tunnel of ours: only records with our marker.
  REQUIRE(records_to_delete(records, host, "", false) == std::vector<RecordRef>{{"r2", host}});
  CfRequest del = delete_dns_request("zid", "r1", host);
  REQUIRE(del.path == "/zones/zid/dns_records/r1");
  REQUIRE(del.step == "delete dns record drone-7.example.com");
  REQUIRE(gone(err(404, 0)));
  REQUIRE(gone(err(400, 81044)));
  REQUIRE_FALSE(gone(err(500, 0)));
  REQUIRE(tunnel_still_connected(err(400, 1022)));
  REQUIRE(delete_tunnel_request("acc", kTunnel).path == "/accounts/acc/cfd_tunnel/" + kTunnel);
  REQUIRE(clean_connections_request("acc", kTunnel).path == "/accounts/acc/cfd_tunnel/" + kTunnel + "/connections");
}

TEST_CASE("provision steps: tether's records of host names without a route are stale") {
  const std::string target = kTunnel + ".cfargotunnel.com", marker = "managed by tether tunnel " + kTunnel;
  std::vector<Route> routes = {{"cam.example.com", "http://localhost:81", {}, 3}};
  json records = json::array({cname("r1", "cam.example.com", target, true, marker),
                              cname("r2", "old.example.com", target, true, marker),
                              cname("r3", "hand.example.com", target, true, "made by hand"),
                              cname("r4", "Other.example.com", target, true, marker)});
  CfRequest req = find_tunnel_records_request("zid", kTunnel);
  REQUIRE(req.path == "/zones/zid/dns_records?content=" + kTunnel + ".cfargotunnel.com&per_page=1000");
  REQUIRE(stale_records(records, routes, kTunnel) ==
          std::vector<RecordRef>{{"r2", "old.example.com"}, {"r4", "Other.example.com"}});
  routes.push_back({"other.example.com", "http://localhost:82", {}, 4});
  REQUIRE(stale_records(records, routes, kTunnel) == std::vector<RecordRef>{{"r2", "old.example.com"}});
  // Deprovision: every record of tether's for the tunnel.
  REQUIRE(stale_records(records, {}, kTunnel).size() == 3);
  REQUIRE(stale_records(records, {}, "another").empty());
}
