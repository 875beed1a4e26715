#include "provision_steps.hpp"

#include <cctype>

#include "cfapi.hpp"
#include "jsonget.hpp"

namespace tether {
namespace {

using json = nlohmann::json;

constexpr const char* kMarker = "managed by tether tunnel ";

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool same_name(const json& j, const char* key, const std::string& want) {
  return json_field(j, key).is_string() && lower(json_string(j, key)) == lower(want);
}

std::string tunnel_path(const std::string& account, const std::string& tunnel_id) {
  return "/accounts/" + account + "/cfd_tunnel/" + tunnel_id;
}

// The originRequest keys tether sets (docs/cloudflare-api.md §8), without
// the ones at their default: the API may echo defaults back or leave them out.
json origin_json(const json& origin) {
  json out = json::object();
  if (!origin.is_object()) return out;
  const json& tls = json_field(origin, "noTLSVerify");
  if (tls.is_boolean() && tls.get<bool>()) out["noTLSVerify"] = true;
  const json& host = json_field(origin, "httpHostHeader");
  if (host.is_string() && !host.get<std::string>().empty()) out["httpHostHeader"] = host;
  const json& timeout = json_field(origin, "connectTimeout");
  if (timeout.is_number_integer() && timeout.get<int64_t>() != 0) out["connectTimeout"] = timeout;
  return out;
}

// A rule as tether compares it: hostname (when set), service, and the
// originRequest keys it manages (when any is set).
json slim_rule(const json& rule) {
  json slim;
  if (!json_field(rule, "hostname").is_null()) slim["hostname"] = json_field(rule, "hostname");
  slim["service"] = json_string(rule, "service");
  json origin = origin_json(json_field(rule, "originRequest"));
  if (!origin.empty()) slim["originRequest"] = origin;
  return slim;
}

json dns_record(const std::string& host, const std::string& tunnel_id) {
  return {{"type", "CNAME"}, {"name", host}, {"content", tunnel_target(tunnel_id)},
          {"proxied", true}, {"ttl", 1},     {"comment", kMarker + tunnel_id}};
}

}  // namespace

std::string owner_key(const std::string& name) {
  return "TETHER_TUNNEL_ID_" + default_token_env(name).substr(std::string("CF_TUNNEL_TOKEN_").size());
}

std::vector<std::string> zone_candidates(const std::string& zone) {
  std::vector<std::string> out;
  std::string z = zone;
  while (z.find('.') != std::string::npos) {
    out.push_back(z);
    z = z.substr(z.find('.') + 1);
  }
  return out;
}

CfRequest find_zone_request(const std::string& name) {
  return {"find zone", "GET", "/zones?" + query_string({{"name", name}, {"per_page", "50"}}), nullptr, CfShape::array};
}

bool zone_in_reply(const json& result, const std::string& name, ZoneFound* out) {
  if (!result.is_array()) return false;
  for (const auto& z : result) {
    if (!same_name(z, "name", name)) continue;
    out->id = json_string(z, "id");
    out->account = json_string(json_field(z, "account"), "id");
    return true;
  }
  return false;
}

CfRequest verify_request(const std::string& account) {
  return {"verify token", "GET", account.empty() ? "/user/tokens/verify" : "/accounts/" + account + "/tokens/verify",
          nullptr, CfShape::object};
}

bool try_account_verify(const CfReply& r) { return !r.ok && (r.http == 401 || r.http == 403); }

std::string token_problem(const json& result) {
  std::string status = json_string(result, "status");
  if (status == "active") return "";
  return "verify token: the API token is " + (status.empty() ? "not usable" : status);
}

CfRequest find_tunnel_request(const std::string& account, const std::string& name) {
  return {"find tunnel", "GET",
          "/accounts/" + account + "/cfd_tunnel?" + query_string({{"name", name}, {"is_deleted", "false"}}), nullptr,
          CfShape::array};
}

TunnelFound tunnel_in_reply(const json& result, const std::string& name, const std::string& owned_id) {
  TunnelFound out;
  if (!result.is_array()) return out;
  for (const auto& t : result) {
    if (!same_name(t, "name", name) || !json_field(t, "deleted_at").is_null()) continue;
    out.found = true;
    out.id = json_string(t, "id");
    out.status = json_string(t, "status");
    out.ours = !owned_id.empty() && lower(owned_id) == lower(out.id);
    // remote_config is deprecated in favour of config_src: either says so.
    out.locally_managed = json_field(t, "remote_config") == false || json_string(t, "config_src") == "local";
    return out;
  }
  return out;
}

StepError tunnel_refusal(const TunnelFound& t, const std::string& name, bool adopt) {
  if (t.locally_managed)
    return {"api", "find tunnel: tunnel " + name + " (" + t.id +
                       ") is locally managed, so its ingress cannot be set through the API; "
                       "delete it or provision another name"};
  if (!t.ours && !adopt && (t.status == "healthy" || t.status == "degraded"))
    return {"exists", "tunnel " + name + " (" + t.id +
                          ") already exists in the account, "
                          "was not created by tether and has running connectors; tether would add "
                          "another. Set adopt = true in [tunnel " +
                          name +
                          "] to take it over, or "
                          "provision another name"};
  return {};
}

CfRequest create_tunnel_request(const std::string& account, const std::string& name) {
  return {"create tunnel",
          "POST",
          "/accounts/" + account + "/cfd_tunnel",
          {{"name", name}, {"config_src", "cloudflare"}},
          CfShape::object};
}

bool create_tunnel_conflict(const CfReply& r) { return !r.ok && (r.http == 409 || r.has_code(1013)); }

CfRequest token_request(const std::string& account, const std::string& tunnel_id) {
  return {"get token", "GET", tunnel_path(account, tunnel_id) + "/token", nullptr, CfShape::string};
}

json wanted_ingress(const std::vector<Route>& routes) {
  json out = json::array();
  for (const Route& r : routes) {
    json rule = {{"hostname", r.hostname}, {"service", r.service}};
    json origin = json::object();
    if (r.origin.no_tls_verify) origin["noTLSVerify"] = true;
    if (!r.origin.http_host_header.empty()) origin["httpHostHeader"] = r.origin.http_host_header;
    if (r.origin.connect_timeout_s > 0) origin["connectTimeout"] = r.origin.connect_timeout_s;
    if (!origin.empty()) rule["originRequest"] = origin;
    out.push_back(rule);
  }
  out.push_back({{"service", "http_status:404"}});
  return out;
}

CfRequest get_ingress_request(const std::string& account, const std::string& tunnel_id) {
  return {"get ingress", "GET", tunnel_path(account, tunnel_id) + "/configurations", nullptr, CfShape::object};
}

CfRequest put_ingress_request(const std::string& account, const std::string& tunnel_id,
                              const std::vector<Route>& routes) {
  return {"set ingress",
          "PUT",
          tunnel_path(account, tunnel_id) + "/configurations",
          {{"config", {{"ingress", wanted_ingress(routes)}}}},
          CfShape::any};
}

IngressAction ingress_action(const CfReply& r, const std::vector<Route>& routes, bool ours_or_adopt,
                             const std::string& name, const std::string& tunnel_id, StepError* err) {
  const json& config = json_field(r.result, "config");
  if (!r.ok) {
    // A 404 just means nothing is set yet.
    if (r.http != 404) *err = {"api", r.error.text()};
    return IngressAction::write;
  }
  if (!config.is_object()) return IngressAction::write;
  json have = json::array();
  const json& rules = json_field(config, "ingress");
  for (const auto& rule : rules.is_array() ? rules : json::array()) have.push_back(slim_rule(rule));
  if (have == wanted_ingress(routes)) return IngressAction::keep;
  std::string foreign;
  for (const auto& rule : have) {
    std::string host = json_string(rule, "hostname");
    if (host.empty() || host == "*") continue;
    bool routed = false;
    for (const Route& route : routes) routed = routed || lower(host) == lower(route.hostname);
    if (!routed) foreign += (foreign.empty() ? "" : ", ") + host;
  }
  if (!ours_or_adopt && !foreign.empty())
    *err = {"exists", "tunnel " + name + " (" + tunnel_id +
                          ") already exists in the account, "
                          "was not created by tether and routes " +
                          foreign +
                          "; provisioning would "
                          "replace those routes. Set adopt = true in [tunnel " +
                          name +
                          "] to take it "
                          "over, or provision another name"};
  return IngressAction::write;
}

std::string tunnel_target(const std::string& tunnel_id) { return tunnel_id + ".cfargotunnel.com"; }

bool record_is_ours(const json& rec) {
  std::string comment = json_string(rec, "comment"), content = lower(json_string(rec, "content"));
  if (comment.rfind(kMarker, 0) != 0) return false;
  return content == lower(tunnel_target(comment.substr(std::string(kMarker).size())));
}

CfRequest find_dns_request(const std::string& zone_id, const std::string& host) {
  return {"find dns record " + host, "GET",
          "/zones/" + zone_id + "/dns_records?" + query_string({{"name.exact", host}}), nullptr, CfShape::array};
}

DnsAction dns_action(const json& result, const std::string& host, const std::string& tunnel_id) {
  std::vector<json> records;
  for (const auto& rec : result.is_array() ? result : json::array())
    if (same_name(rec, "name", host)) records.push_back(rec);
  if (records.empty()) return {};
  std::string target = lower(tunnel_target(tunnel_id));
  for (const auto& rec : records) {
    if (json_string(rec, "type") != "CNAME") continue;
    bool here = lower(json_string(rec, "content")) == target;
    if (here && json_bool(rec, "proxied")) return {DnsAction::keep, "", {}};
    if (here || record_is_ours(rec)) return {DnsAction::update, json_string(rec, "id"), {}};
  }
  const json& other = records.front();
  return {DnsAction::refuse,
          "",
          {"api", "find dns record: " + host + " already has a " + json_string(other, "type") + " record (" +
                      json_string(other, "content") +
                      ") that tether did not create; remove it or provision "
                      "another name"}};
}

CfRequest create_dns_request(const std::string& zone_id, const std::string& host, const std::string& tunnel_id) {
  return {"create dns record " + host, "POST", "/zones/" + zone_id + "/dns_records", dns_record(host, tunnel_id),
          CfShape::any};
}

CfRequest update_dns_request(const std::string& zone_id, const std::string& record_id, const std::string& host,
                             const std::string& tunnel_id) {
  return {"update dns record " + host, "PUT", "/zones/" + zone_id + "/dns_records/" + record_id,
          dns_record(host, tunnel_id), CfShape::any};
}

bool create_dns_conflict(const CfReply& r) {
  return !r.ok && (r.has_code(81053) || r.has_code(81057) || r.has_code(81058));
}

CfRequest find_tunnel_records_request(const std::string& zone_id, const std::string& tunnel_id) {
  return {"find dns records of the tunnel", "GET",
          "/zones/" + zone_id + "/dns_records?" +
              query_string({{"content", tunnel_target(tunnel_id)}, {"per_page", "1000"}}),
          nullptr, CfShape::array};
}

std::vector<RecordRef> stale_records(const json& result, const std::vector<Route>& routes,
                                     const std::string& tunnel_id) {
  std::vector<RecordRef> out;
  for (const auto& rec : result.is_array() ? result : json::array()) {
    if (json_string(rec, "type") != "CNAME" || !record_is_ours(rec)) continue;
    if (lower(json_string(rec, "content")) != lower(tunnel_target(tunnel_id))) continue;
    bool routed = false;
    for (const Route& r : routes) routed = routed || same_name(rec, "name", r.hostname);
    if (!routed) out.push_back({json_string(rec, "id"), json_string(rec, "name")});
  }
  return out;
}

bool record_token(EnvFile& f, const std::string& token_env, const std::string& token, const std::string& name,
                  const std::string& tunnel_id) {
  bool changed = f.set(token_env, token);
  return f.set(owner_key(name), tunnel_id) || changed;
}

std::string certificate_warning(const std::string& host, const std::string& zone_apex) {
  std::string h = lower(host), apex = lower(zone_apex);
  if (apex.empty() || h.size() <= apex.size() + 1) return "";
  std::string below = h.substr(0, h.size() - apex.size() - 1);
  if (below.find('.') == std::string::npos) return "";
  std::string parent = host.substr(host.find('.') + 1);
  return host + " is more than one level below the zone " + zone_apex +
         ": Cloudflare's universal certificate "
         "covers only " +
         zone_apex + " and *." + zone_apex +
         ", so HTTPS to it fails until the zone has a "
         "certificate for *." +
         parent + " (Advanced Certificate Manager), or use a zone of " + parent + " or a one-level name";
}

std::vector<RecordRef> records_to_delete(const json& result, const std::string& host, const std::string& tunnel_id,
                                         bool tunnel_ours) {
  std::vector<RecordRef> out;
  for (const auto& rec : result.is_array() ? result : json::array()) {
    if (!same_name(rec, "name", host) || json_string(rec, "type") != "CNAME") continue;
    // A foreign tunnel's records are only touched when they carry our marker.
    bool points_here = tunnel_id.empty() || !tunnel_ours
                           ? record_is_ours(rec)
                           : lower(json_string(rec, "content")) == lower(tunnel_target(tunnel_id));
    if (points_here) out.push_back({json_string(rec, "id"), json_string(rec, "name")});
  }
  return out;
}

CfRequest delete_dns_request(const std::string& zone_id, const std::string& record_id, const std::string& host) {
  return {"delete dns record " + host, "DELETE", "/zones/" + zone_id + "/dns_records/" + record_id, nullptr,
          CfShape::any};
}

bool gone(const CfReply& r) { return !r.ok && (r.http == 404 || r.has_code(81044)); }

CfRequest clean_connections_request(const std::string& account, const std::string& tunnel_id) {
  return {"clean up connections", "DELETE", tunnel_path(account, tunnel_id) + "/connections", nullptr, CfShape::any};
}

CfRequest delete_tunnel_request(const std::string& account, const std::string& tunnel_id) {
  return {"delete tunnel", "DELETE", tunnel_path(account, tunnel_id), nullptr, CfShape::any};
}

bool tunnel_still_connected(const CfReply& r) { return !r.ok && r.has_code(1022); }

bool forget_token(EnvFile& f, const std::string& token_env, const std::string& name, bool* had_token) {
  *had_token = f.remove(token_env);
  return f.remove(owner_key(name)) || *had_token;
}

}  // namespace tether
