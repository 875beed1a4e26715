// tether.ini -> one typed Config with the documented defaults. Pure: no
// loop, no side effects besides reading the file, so every error case is
// unit tested. Errors are "file:line: message", all of them, not just the
// first, so an operator fixes a broken file in one pass.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "log.hpp"

namespace tether {

enum class TunnelKind { quick, named };

// A tunnel is a port (quick) or a name starting with a letter (named).
bool valid_tunnel_name(std::string_view name);
// "" when cloudflared can route to this ingress service, as
// docs/cloudflare-api.md §8 says: a known scheme and a host, no path;
// unix:/PATH; or http_status:NNN. Else what is wrong with it.
std::string service_problem(std::string_view service);
// "" when `host` is a DNS name cloudflared can route (labels of letters,
// digits and '-', at least two of them), else what is wrong with it.
std::string hostname_problem(std::string_view host);
// CF_TUNNEL_TOKEN_<NAME>: upper case, '-' -> '_'.
std::string default_token_env(std::string_view name);

// The originRequest settings a route may set; an unset one is left to
// cloudflared's default (docs/cloudflare-api.md §8).
struct OriginRequest {
  bool no_tls_verify = false;
  std::string http_host_header;
  int connect_timeout_s = 0;  // 0: unset

  bool operator==(const OriginRequest& o) const {
    return no_tls_verify == o.no_tls_verify && http_host_header == o.http_host_header &&
           connect_timeout_s == o.connect_timeout_s;
  }
};

// One ingress rule of a named tunnel: requests for hostname go to service.
struct Route {
  std::string hostname;
  std::string service;
  OriginRequest origin;
  int line = 0;  // of its key, for messages

  bool operator==(const Route& o) const { return hostname == o.hostname && service == o.service && origin == o.origin; }
};

// The Go runtime's own limits for a cloudflared child, passed in its
// environment only when set (README, "Children sized for the board").
struct GoKnobs {
  std::string memory_limit;  // GOMEMLIMIT: "64MiB", "off"; empty: unset
  int max_procs = 0;         // GOMAXPROCS; 0: unset
  std::string gc_percent;    // GOGC: "50", "off"; empty: unset

  bool operator==(const GoKnobs& o) const {
    return memory_limit == o.memory_limit && max_procs == o.max_procs && gc_percent == o.gc_percent;
  }
  bool operator!=(const GoKnobs& o) const { return !(*this == o); }
};

// "GOMEMLIMIT=64MiB", ... for the knobs that are set.
std::vector<std::string> go_environment(const GoKnobs& go);

struct TunnelConfig {
  std::string name;
  TunnelKind kind = TunnelKind::named;
  int port = 0;           // quick only
  std::string token_env;  // named; defaults to CF_TUNNEL_TOKEN_<NAME>
  bool autostart = false;
  // named: provision may take over a same-named tunnel tether did not
  // create, replacing its ingress (its other host names stop working).
  bool adopt = false;
  // named: its ingress, in order, from its `route` lines; the
  // hostname/service keys make one route (the hostname defaults to
  // <name>.<zone>). Empty when no hostname is known (no zone).
  // local: the rules with a hostname of its config.yml, for display.
  std::vector<Route> routes;
  // type = local: a named tunnel created by `cloudflared tunnel create` and
  // run from its own config.yml, which tether reads but never writes.
  bool local = false;
  std::string config_file;   // local: absolute path of its config.yml
  std::string local_tunnel;  // local: its `tunnel:` (id or name), read from the file
  GoKnobs go;                // [cloudflared]'s, with this section's overrides
  int line = 0;              // of the [tunnel NAME] header, for messages

  bool operator==(const TunnelConfig& o) const;
  bool operator!=(const TunnelConfig& o) const { return !(*this == o); }
};

struct AgentConfig {
  std::string socket = "/run/tether/tether.sock";
  unsigned socket_mode = 0660;
  std::string state_dir = "/run/tether";
  LogLevel log_level = LogLevel::info;
  std::string pidfile;
  std::vector<uid_t> allow_uids;  // empty: the agent's own uid and root
  int max_clients = 64;
  int client_idle_s = 300;  // a client that sends nothing this long is closed (not watchers); 0: never
};

struct CloudflaredConfig {
  std::string path = "cloudflared";
  std::string protocol = "auto";
  std::vector<std::string> extra_args;
  bool metrics = true;
  // Variables of the agent's environment children get besides the fixed
  // allow-list (child_environment); "NAME*" matches a prefix.
  std::vector<std::string> pass_env;
  GoKnobs go;  // for every child; a [tunnel NAME] may override each
};

struct WatchdogConfig {
  int backoff_initial_ms = 500;
  int backoff_max_ms = 60000;
  int stable_after_s = 60;
  int unhealthy_after_s = 120;  // 0: never restart a connected-less child
  int stop_grace_s = 10;
  int start_wait_s = 30;
  int max_restarts = 0;  // 0: never give up
  int restart_window_s = 600;
};

// Network-aware healing (README, Configuration).
struct NetworkConfig {
  std::string require = "default-route";  // default-route, any-route, none
  std::string offline_action = "pause";   // pause, stop, none
  int reconnect_grace_s = 10;             // after the route returns; 0: restart at once
  int spin_lines_per_s = 200;             // error lines per second; 0: off
  int spin_after_s = 3;
  int quic_fallback_after = 3;  // QUIC dial timeouts in a row; 0: off
  int quic_retry_s = 3600;
};

struct CloudflareConfig {
  std::string api_base = "https://api.cloudflare.com/client/v4";
  std::string api_token_env = "CLOUDFLARE_API_TOKEN";
  std::string api_token_file;
  std::string account_id;  // empty: CLOUDFLARE_ACCOUNT_ID, else from the zone
  std::string zone;
  std::string env_file = "/etc/tether/tunnels.env";
  int request_timeout_s = 15;  // per API request, as cloudflared's own client
  int requests_per_s = 4;      // all API requests of all jobs, spaced evenly
  int max_jobs = 4;            // provision/deprovision jobs running at once
};

struct NotifyConfig {
  std::string webhook;
  std::string telegram_bot_token_env;
  std::string telegram_chat_id;
  std::string telegram_api_base = "https://api.telegram.org";
};

struct TelegramConfig {
  bool enabled = false;  // the [telegram] section is present
  std::string bot_token_env;
  std::string bot_token_file;
  std::vector<int64_t> allowed_chat_ids;
  std::vector<int64_t> allowed_user_ids;
  std::string api_base = "https://api.telegram.org";
  int poll_timeout_s = 50;

  bool operator==(const TelegramConfig& o) const;
  bool operator!=(const TelegramConfig& o) const { return !(*this == o); }
};

struct Config {
  std::string path;  // the file it came from; empty for built-in defaults
  AgentConfig agent;
  CloudflaredConfig cloudflared;
  WatchdogConfig watchdog;
  NetworkConfig network;
  CloudflareConfig cloudflare;
  NotifyConfig notify;
  TelegramConfig telegram;
  std::vector<TunnelConfig> tunnels;

  const TunnelConfig* find_tunnel(std::string_view name) const;
};

struct ConfigError {
  std::string file;
  int line = 0;  // 0: about the whole file
  std::string message;
  std::string str() const;
};

// Parse INI text; `file` only names it in errors. Returns true when there
// are no errors; *out is only complete then.
bool parse_config(std::string_view text, const std::string& file, Config* out, std::vector<ConfigError>* errors);
bool load_config(const std::string& path, Config* out, std::vector<ConfigError>* errors);
// The error for a file read_file() could not read (rc < 0, its *err).
ConfigError read_failure(const std::string& path, int rc, const std::string& err);

}  // namespace tether
