// The steps of provision and deprovision (docs/cloudflare-api.md §13-14) as
// pure functions: each builds the request a step sends and reads the reply
// it gets, so every decision is a unit test without a loop or a server.
// provision.cpp only runs them in order on the loop.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cfreply.hpp"
#include "config.hpp"
#include "envfile.hpp"

namespace tether {

// One call as a step makes it; body null means none.
struct CfRequest {
  std::string step, method, path;
  nlohmann::json body;
  CfShape expect = CfShape::any;
};

// Why a step cannot go on: an "ERR <code> <message>" for the client.
struct StepError {
  std::string code, message;
  explicit operator bool() const { return !code.empty(); }
};

// The env file line that records which tunnel tether created or adopted for
// a name: the API has no field for a marker on the tunnel itself.
std::string owner_key(const std::string& name);

// Step 1: the configured zone and its parents, in that order (a zone
// setting of drones.example.com still finds the example.com zone).
std::vector<std::string> zone_candidates(const std::string& zone);
CfRequest find_zone_request(const std::string& name);
struct ZoneFound {
  std::string id, account;  // account: the zone's, for when none is configured
};
// The zone called name in a find zone result, if there is one.
bool zone_in_reply(const nlohmann::json& result, const std::string& name, ZoneFound* out);

// Step 2: account empty asks the user endpoint, else the account endpoint
// (an account-owned token is refused by the other).
CfRequest verify_request(const std::string& account);
// Refused by the user endpoint in a way the account endpoint may accept.
bool try_account_verify(const CfReply& r);
// "" when the token is active, else why not.
std::string token_problem(const nlohmann::json& result);

// Step 3: the tunnel by exact name, not deleted.
CfRequest find_tunnel_request(const std::string& account, const std::string& name);
struct TunnelFound {
  bool found = false;
  std::string id, status;
  bool ours = false;             // the env file's owner line names it
  bool locally_managed = false;  // its ingress cannot be set through the API
};
TunnelFound tunnel_in_reply(const nlohmann::json& result, const std::string& name, const std::string& owned_id);
// Why provision may not use a found tunnel (locally managed; or someone
// else's with running connectors, unless adopt).
StepError tunnel_refusal(const TunnelFound& t, const std::string& name, bool adopt);
CfRequest create_tunnel_request(const std::string& account, const std::string& name);
// The name was taken meanwhile (another agent, or a reply of ours lost to a
// timeout): look again and adopt it.
bool create_tunnel_conflict(const CfReply& r);

// Step 4: the connector token (a bare string).
CfRequest token_request(const std::string& account, const std::string& tunnel_id);

// Step 5: the ingress. Only written when it differs from what is set, since
// a PUT bumps the configuration's version for nothing.
nlohmann::json wanted_ingress(const std::vector<Route>& routes);
CfRequest get_ingress_request(const std::string& account, const std::string& tunnel_id);
CfRequest put_ingress_request(const std::string& account, const std::string& tunnel_id,
                              const std::vector<Route>& routes);
enum class IngressAction { keep, write };
// What get ingress's reply means for the wanted routes. A tunnel that is
// neither ours nor adopted is never made to drop host names of others.
IngressAction ingress_action(const CfReply& r, const std::vector<Route>& routes, bool ours_or_adopt,
                             const std::string& name, const std::string& tunnel_id, StepError* err);

// Step 6: a proxied CNAME per host name -> <tunnel>.cfargotunnel.com,
// marked as ours by its comment.
std::string tunnel_target(const std::string& tunnel_id);
bool record_is_ours(const nlohmann::json& rec);
CfRequest find_dns_request(const std::string& zone_id, const std::string& host);
struct DnsAction {
  enum Kind { create, keep, update, refuse } kind = create;
  std::string record_id;  // update
  StepError error;        // refuse
};
DnsAction dns_action(const nlohmann::json& result, const std::string& host, const std::string& tunnel_id);
CfRequest create_dns_request(const std::string& zone_id, const std::string& host, const std::string& tunnel_id);
CfRequest update_dns_request(const std::string& zone_id, const std::string& record_id, const std::string& host,
                             const std::string& tunnel_id);
// Someone (or a lost reply of ours) created the name first: look again.
bool create_dns_conflict(const CfReply& r);
// A record to delete, with its name for messages.
struct RecordRef {
  std::string id, name;
  bool operator==(const RecordRef& o) const { return id == o.id && name == o.name; }
};

// Every record that points to the tunnel, to find tether's records of host
// names that no longer have a route.
CfRequest find_tunnel_records_request(const std::string& zone_id, const std::string& tunnel_id);
// The ids of tether's records for the tunnel whose names none of routes has.
std::vector<RecordRef> stale_records(const nlohmann::json& result, const std::vector<Route>& routes,
                                     const std::string& tunnel_id);

// Step 7: the token and the owner line into the env file. Returns whether
// anything changed.
bool record_token(EnvFile& f, const std::string& token_env, const std::string& token, const std::string& name,
                  const std::string& tunnel_id);

// Cloudflare's universal certificate covers the zone and *.zone only; ""
// when host is covered, else the warning.
std::string certificate_warning(const std::string& host, const std::string& zone_apex);

// Deprovision. Which of a host's records go: ours, or (for a tunnel of
// ours) any CNAME that points to it.
std::vector<RecordRef> records_to_delete(const nlohmann::json& result, const std::string& host,
                                         const std::string& tunnel_id, bool tunnel_ours);
CfRequest delete_dns_request(const std::string& zone_id, const std::string& record_id, const std::string& host);
// 404 and 81044 mean already gone.
bool gone(const CfReply& r);
CfRequest clean_connections_request(const std::string& account, const std::string& tunnel_id);
CfRequest delete_tunnel_request(const std::string& account, const std::string& tunnel_id);
// Refused while connectors are still registered (1022): wait and retry.
bool tunnel_still_connected(const CfReply& r);
// Removes the token and owner lines; *had_token says whether the token was
// there. Returns whether anything changed.
bool forget_token(EnvFile& f, const std::string& token_env, const std::string& name, bool* had_token);

}  // namespace tether
