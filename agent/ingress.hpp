// Routes of a named tunnel: which public host name goes to which local
// service. One cloudflared serves all of a tunnel's routes through its
// ingress rules, so three services cost one child, not three. Pure: parsing
// and validation for config load, and the ingress JSON the Cloudflare API
// takes (docs/cloudflare-api.md §8).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace tether {

struct Route {
  std::string hostname;
  std::string service;
  // originRequest options people need on drones; unset ones are not sent,
  // so Cloudflare's defaults apply.
  bool no_tls_verify = false;
  std::string http_host_header;
  int connect_timeout_s = 0;

  bool operator==(const Route& o) const;
  bool operator!=(const Route& o) const { return !(*this == o); }
};

// "HOST -> SERVICE [noTLSVerify] [httpHostHeader=NAME] [connectTimeout=SECONDS]"
bool parse_route(std::string_view text, Route* out, std::string* err);

// The origins cloudflared can serve: http://, https://, tcp://, ssh://,
// unix:PATH, unix+tls:PATH and http_status:CODE. *err says what is wrong
// and what would be right.
bool valid_service(const std::string& service, std::string* err);

// A DNS host name: labels of a-z, 0-9 and '-', not starting or ending
// with '-', at most 63 characters each and 253 in all.
bool valid_hostname(const std::string& host, std::string* err);

// The ingress rules in order, then the catch-all http_status:404 that
// cloudflared requires last.
nlohmann::json ingress_rules(const std::vector<Route>& routes);

}  // namespace tether
