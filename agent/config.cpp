#include "config.hpp"

#include <ini.h>
#include <pwd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "atomicfile.hpp"
#include "localtunnel.hpp"

namespace tether {
namespace {

// A configuration is a few KiB; a bigger file is not one.
constexpr size_t kMaxConfigBytes = 1 << 20;

// A setter parses one value into the config and returns "" or what was wrong.
using Setter = std::function<std::string(Config&, const std::string&)>;
using TunnelSetter = std::function<std::string(TunnelConfig&, const std::string&)>;

std::string set_int(int* field, const std::string& v, long min, long max, const char* unit) {
  errno = 0;
  char* end = nullptr;
  long n = v.empty() ? 0 : std::strtol(v.c_str(), &end, 10);
  std::string range = std::to_string(min) + "-" + std::to_string(max) + (*unit ? " " : "") + unit;
  if (v.empty() || *end != '\0' || errno == ERANGE) return "'" + v + "' is not a number (expected " + range + ")";
  if (n < min || n > max) return v + " is out of range (expected " + range + ")";
  *field = static_cast<int>(n);
  return "";
}

std::string set_bool(bool* field, const std::string& v) {
  std::string s;
  for (char c : v) s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s == "true" || s == "yes" || s == "on" || s == "1") *field = true;
  else if (s == "false" || s == "no" || s == "off" || s == "0") *field = false;
  else return "'" + v + "' is not a boolean (expected true or false)";
  return "";
}

std::string set_enum(std::string* field, const std::string& v, std::vector<std::string> allowed) {
  std::string list;
  for (const auto& a : allowed) {
    if (v == a) {
      *field = v;
      return "";
    }
    list += (list.empty() ? "" : ", ") + a;
  }
  return "'" + v + "' is not one of: " + list;
}

std::string set_string(std::string* field, const std::string& v) {
  *field = v;
  return "";
}

std::string set_url(std::string* field, const std::string& v, bool optional) {
  if (v.empty() && optional) {
    field->clear();
    return "";
  }
  if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) return "'" + v + "' is not an http:// or https:// URL";
  *field = v;
  return "";
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::string word;
  for (char c : v + " ") {
    if (c == ' ' || c == '\t' || c == ',') {
      if (!word.empty()) out.push_back(word);
      word.clear();
    } else {
      word += c;
    }
  }
  return out;
}

std::string set_int64_list(std::vector<int64_t>* field, const std::string& v, const char* what) {
  field->clear();
  for (const auto& w : split_list(v)) {
    errno = 0;
    char* end = nullptr;
    long long n = std::strtoll(w.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE || w.empty())
      return "'" + w + "' is not a " + what + " (numbers separated by commas)";
    field->push_back(n);
  }
  return "";
}

std::string set_uids(std::vector<uid_t>* field, const std::string& v) {
  field->clear();
  for (const auto& w : split_list(v)) {
    char* end = nullptr;
    errno = 0;
    unsigned long n = std::strtoul(w.c_str(), &end, 10);
    if (std::isdigit(static_cast<unsigned char>(w[0])) && *end == '\0') {
      // uid_t is 32 bits and (uid_t)-1 means "no uid": a larger number
      // would silently become another user.
      if (errno != 0 || n >= static_cast<unsigned long>(static_cast<uid_t>(-1)))
        return "'" + w + "' is not a uid (0 to " + std::to_string(static_cast<uid_t>(-1) - 1) + ")";
      field->push_back(static_cast<uid_t>(n));
      continue;
    }
    struct passwd* pw = getpwnam(w.c_str());
    if (!pw) return "'" + w + "' is neither a uid nor a known user name";
    field->push_back(pw->pw_uid);
  }
  return "";
}

std::string set_mode(unsigned* field, const std::string& v) {
  char* end = nullptr;
  unsigned long n = v.empty() ? 0 : std::strtoul(v.c_str(), &end, 8);
  if (v.empty() || *end != '\0' || n > 0777) return "'" + v + "' is not an octal file mode (e.g. 0660)";
  *field = static_cast<unsigned>(n);
  return "";
}

bool valid_env_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

std::string set_env_name(std::string* field, const std::string& v, bool optional) {
  if (v.empty() && optional) {
    field->clear();
    return "";
  }
  if (!valid_env_name(v)) return "'" + v + "' is not an environment variable name";
  *field = v;
  return "";
}

std::string set_extra_args(std::vector<std::string>* field, const std::string& v) {
  // Split on whitespace only: a comma may belong to an argument.
  std::vector<std::string> args;
  std::istringstream in(v);
  std::string a;
  while (in >> a) {
    if (a == "--token" || a.rfind("--token=", 0) == 0 || a == "--credentials-contents")
      return "'" + a +
             "' would put a secret on the command line, readable by every user "
             "(tether passes tunnel tokens in the environment)";
    if (a == "--url" || a.rfind("--url=", 0) == 0 || a == "run" || a == "--metrics" || a.rfind("--metrics=", 0) == 0 ||
        a == "--no-autoupdate")
      return "'" + a + "' is set by tether itself; remove it from extra_args";
    args.push_back(a);
  }
  *field = args;
  return "";
}

std::string set_pass_env(std::vector<std::string>* field, const std::string& v) {
  std::vector<std::string> names = split_list(v);
  for (const auto& n : names) {
    std::string bare = !n.empty() && n.back() == '*' ? n.substr(0, n.size() - 1) : n;
    if (!valid_env_name(bare))
      return "'" + n + "' is not a variable name (letters, digits and '_'; a final '*' matches a prefix)";
  }
  *field = names;
  return "";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// host is the zone or a name under it.
bool in_zone(const std::string& host, const std::string& zone) {
  std::string h = lower(host), z = lower(zone);
  return h == z ||
         (h.size() > z.size() && h.compare(h.size() - z.size(), z.size(), z) == 0 && h[h.size() - z.size() - 1] == '.');
}

std::string set_hostname(std::string* field, const std::string& v) {
  std::string problem = hostname_problem(v);
  if (problem.empty()) *field = v;
  return problem;
}

// GOMEMLIMIT's syntax (a byte count with an optional B, KiB, MiB, GiB or
// TiB suffix, or "off"), at least 1 MiB: below that the collector would run
// all the time.
std::string set_memory_limit(std::string* field, const std::string& v) {
  if (v == "off") {
    *field = v;
    return "";
  }
  size_t digits = 0;
  while (digits < v.size() && std::isdigit(static_cast<unsigned char>(v[digits]))) ++digits;
  static const std::map<std::string, unsigned long long> kUnits = {
      {"", 1}, {"B", 1}, {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}, {"TiB", 1ULL << 40}};
  std::string unit = v.substr(digits);
  auto u = kUnits.find(unit);
  if (digits == 0 || digits > 12 || u == kUnits.end())
    return "'" + v + "' is not a Go memory limit (a number with B, KiB, MiB, GiB or TiB, e.g. 64MiB; or off)";
  if (std::stoull(v.substr(0, digits)) * u->second < (1ULL << 20))
    return "'" + v + "' is below 1MiB; the Go collector would never stop (e.g. 64MiB)";
  *field = v;
  return "";
}

// GOGC: a percentage of heap growth between collections, or "off".
std::string set_gc_percent(std::string* field, const std::string& v) {
  if (v == "off") {
    *field = v;
    return "";
  }
  int n = 0;
  std::string problem = set_int(&n, v, 1, 100000, "percent, or off");
  if (problem.empty()) *field = std::to_string(n);
  return problem;
}

// Go's duration for connectTimeout, in whole seconds: "30s", "2m", "1m30s".
std::string set_seconds(int* field, const std::string& v) {
  long total = 0, n = -1;
  std::string seen;
  for (char c : v) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      n = (n < 0 ? 0 : n) * 10 + (c - '0');
      if (n > 86400) break;
      continue;
    }
    const std::string order = "hms";
    size_t at = order.find(c);
    if (at == std::string::npos || n < 0 || (!seen.empty() && order.find(seen.back()) >= at)) {
      n = -2;
      break;
    }
    total += n * (c == 'h' ? 3600 : c == 'm' ? 60 : 1);
    seen += c;
    n = -1;
  }
  if (v.empty() || n != -1 || seen.empty())
    return "'" + v + "' is not a duration in whole seconds (e.g. 30s, 2m or 1m30s)";
  if (total < 1 || total > 3600) return "'" + v + "' is out of range (1s to 1h)";
  *field = static_cast<int>(total);
  return "";
}

// What the origin sees as Host: a name (one label will do) with an optional port.
std::string set_host_header(std::string* field, const std::string& v) {
  for (char c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != ':')
      return "'" + v + "' is not a host name with an optional port (e.g. localhost:8080)";
  *field = v;
  return "";
}

// One `route = HOST -> SERVICE [option=value ...]` value.
std::string parse_route(const std::string& v, Route* r) {
  std::vector<std::string> words;
  std::istringstream in(v);
  for (std::string w; in >> w;) words.push_back(w);
  if (words.size() < 3 || words[1] != "->")
    return "'" + v + "' is not 'HOST -> SERVICE' (e.g. route = video.example.com -> http://localhost:8080)";
  std::string problem = hostname_problem(words[0]);
  if (problem.empty()) problem = service_problem(words[2]);
  if (!problem.empty()) return problem;
  r->hostname = words[0];
  r->service = words[2];
  std::set<std::string> given;
  for (size_t i = 3; i < words.size(); ++i) {
    const std::string& w = words[i];
    size_t eq = w.find('=');
    std::string name = w.substr(0, eq), value = eq == std::string::npos ? "" : w.substr(eq + 1);
    if (eq == std::string::npos || value.empty())
      return "'" + w + "' is not option=value (noTLSVerify=true, httpHostHeader=NAME, connectTimeout=30s)";
    if (!given.insert(name).second) return "option '" + name + "' is given twice";
    if (name == "noTLSVerify") problem = set_bool(&r->origin.no_tls_verify, value);
    else if (name == "httpHostHeader") problem = set_host_header(&r->origin.http_host_header, value);
    else if (name == "connectTimeout") problem = set_seconds(&r->origin.connect_timeout_s, value);
    else return "unknown option '" + name + "' (known: connectTimeout, httpHostHeader, noTLSVerify)";
    if (!problem.empty()) return name + ": " + problem;
  }
  return "";
}

const std::map<std::string, std::map<std::string, Setter>>& section_keys() {
  static const std::map<std::string, std::map<std::string, Setter>> keys = {
      {"agent",
       {
           {"socket", [](Config& c, const std::string& v) -> std::string {
              if (v.empty()) return "socket must not be empty";
              if (v.size() >= 108) return "socket path is longer than 107 bytes (a Unix socket limit)";
              c.agent.socket = v;
              return "";
            }},
           {"socket_mode", [](Config& c, const std::string& v) { return set_mode(&c.agent.socket_mode, v); }},
           {"state_dir", [](Config& c, const std::string& v) -> std::string {
              if (v.empty()) return "state_dir must not be empty";
              c.agent.state_dir = v;
              return "";
            }},
           {"log_level", [](Config& c, const std::string& v) -> std::string {
              if (!parse_log_level(v, &c.agent.log_level))
                return "'" + v + "' is not one of: debug, info, warn, error";
              return "";
            }},
           {"pidfile", [](Config& c, const std::string& v) { return set_string(&c.agent.pidfile, v); }},
           {"allow_uids", [](Config& c, const std::string& v) { return set_uids(&c.agent.allow_uids, v); }},
           {"max_clients", [](Config& c, const std::string& v) { return set_int(&c.agent.max_clients, v, 1, 4096, ""); }},
           {"client_idle_s", [](Config& c, const std::string& v) { return set_int(&c.agent.client_idle_s, v, 0, 86400, "s"); }},
       }},
      {"cloudflared",
       {
           {"path", [](Config& c, const std::string& v) -> std::string {
              if (v.empty()) return "path must not be empty";
              c.cloudflared.path = v;
              return "";
            }},
           {"protocol", [](Config& c, const std::string& v) {
              return set_enum(&c.cloudflared.protocol, v, {"auto", "quic", "http2"});
            }},
           {"extra_args", [](Config& c, const std::string& v) { return set_extra_args(&c.cloudflared.extra_args, v); }},
           {"pass_env", [](Config& c, const std::string& v) { return set_pass_env(&c.cloudflared.pass_env, v); }},
           {"memory_limit", [](Config& c, const std::string& v) { return set_memory_limit(&c.cloudflared.go.memory_limit, v); }},
           {"max_procs", [](Config& c, const std::string& v) { return set_int(&c.cloudflared.go.max_procs, v, 1, 1024, ""); }},
           {"gc_percent", [](Config& c, const std::string& v) { return set_gc_percent(&c.cloudflared.go.gc_percent, v); }},
           {"metrics", [](Config& c, const std::string& v) { return set_bool(&c.cloudflared.metrics, v); }},
       }},
      {"watchdog",
       {
           {"backoff_initial_ms", [](Config& c, const std::string& v) { return set_int(&c.watchdog.backoff_initial_ms, v, 1, 3600000, "ms"); }},
           {"backoff_max_ms", [](Config& c, const std::string& v) { return set_int(&c.watchdog.backoff_max_ms, v, 1, 86400000, "ms"); }},
           {"stable_after_s", [](Config& c, const std::string& v) { return set_int(&c.watchdog.stable_after_s, v, 1, 86400, "s"); }},
           {"unhealthy_after_s", [](Config& c, const std::string& v) { return set_int(&c.watchdog.unhealthy_after_s, v, 0, 86400, "s"); }},
           {"stop_grace_s", [](Config& c, const std::string& v) { return set_int(&c.watchdog.stop_grace_s, v, 0, 600, "s"); }},
           {"start_wait_s", [](Config& c, const std::string& v) { return set_int(&c.watchdog.start_wait_s, v, 0, 3600, "s"); }},
           {"max_restarts", [](Config& c, const std::string& v) { return set_int(&c.watchdog.max_restarts, v, 0, 1000000, ""); }},
           {"restart_window_s", [](Config& c, const std::string& v) { return set_int(&c.watchdog.restart_window_s, v, 1, 604800, "s"); }},
       }},
      {"network",
       {
           {"require", [](Config& c, const std::string& v) {
              return set_enum(&c.network.require, v, {"default-route", "any-route", "none"});
            }},
           {"offline_action", [](Config& c, const std::string& v) {
              return set_enum(&c.network.offline_action, v, {"pause", "stop", "none"});
            }},
           {"reconnect_grace_s", [](Config& c, const std::string& v) { return set_int(&c.network.reconnect_grace_s, v, 0, 3600, "s"); }},
           {"spin_lines_per_s", [](Config& c, const std::string& v) { return set_int(&c.network.spin_lines_per_s, v, 0, 1000000, ""); }},
           {"spin_after_s", [](Config& c, const std::string& v) { return set_int(&c.network.spin_after_s, v, 1, 60, "s"); }},
           {"quic_fallback_after", [](Config& c, const std::string& v) { return set_int(&c.network.quic_fallback_after, v, 0, 100, ""); }},
           {"quic_retry_s", [](Config& c, const std::string& v) { return set_int(&c.network.quic_retry_s, v, 60, 86400, "s"); }},
       }},
      {"cloudflare",
       {
           {"api_base", [](Config& c, const std::string& v) { return set_url(&c.cloudflare.api_base, v, false); }},
           {"api_token_env", [](Config& c, const std::string& v) { return set_env_name(&c.cloudflare.api_token_env, v, false); }},
           {"api_token_file", [](Config& c, const std::string& v) { return set_string(&c.cloudflare.api_token_file, v); }},
           {"account_id", [](Config& c, const std::string& v) -> std::string {
              for (char ch : v)
                if (!std::isxdigit(static_cast<unsigned char>(ch))) return "'" + v + "' is not an account id (32 hex digits)";
              if (!v.empty() && v.size() != 32) return "'" + v + "' is not an account id (32 hex digits)";
              c.cloudflare.account_id = v;
              return "";
            }},
           {"zone", [](Config& c, const std::string& v) {
              if (v.empty()) return set_string(&c.cloudflare.zone, v);
              return set_hostname(&c.cloudflare.zone, v);
            }},
           {"env_file", [](Config& c, const std::string& v) -> std::string {
              if (v.empty()) return "env_file must not be empty";
              c.cloudflare.env_file = v;
              return "";
            }},
           {"request_timeout_s", [](Config& c, const std::string& v) { return set_int(&c.cloudflare.request_timeout_s, v, 1, 300, "s"); }},
           {"requests_per_s", [](Config& c, const std::string& v) { return set_int(&c.cloudflare.requests_per_s, v, 1, 1000, ""); }},
           {"max_jobs", [](Config& c, const std::string& v) { return set_int(&c.cloudflare.max_jobs, v, 1, 1000, ""); }},
       }},
      {"notify",
       {
           {"webhook", [](Config& c, const std::string& v) { return set_url(&c.notify.webhook, v, true); }},
           {"telegram_bot_token_env", [](Config& c, const std::string& v) { return set_env_name(&c.notify.telegram_bot_token_env, v, true); }},
           {"telegram_chat_id", [](Config& c, const std::string& v) { return set_string(&c.notify.telegram_chat_id, v); }},
           {"telegram_api_base", [](Config& c, const std::string& v) { return set_url(&c.notify.telegram_api_base, v, false); }},
       }},
      {"telegram",
       {
           {"bot_token_env", [](Config& c, const std::string& v) { return set_env_name(&c.telegram.bot_token_env, v, true); }},
           {"bot_token_file", [](Config& c, const std::string& v) { return set_string(&c.telegram.bot_token_file, v); }},
           {"allowed_chat_ids", [](Config& c, const std::string& v) { return set_int64_list(&c.telegram.allowed_chat_ids, v, "chat id"); }},
           {"allowed_user_ids", [](Config& c, const std::string& v) { return set_int64_list(&c.telegram.allowed_user_ids, v, "user id"); }},
           {"api_base", [](Config& c, const std::string& v) { return set_url(&c.telegram.api_base, v, false); }},
           {"poll_timeout_s", [](Config& c, const std::string& v) { return set_int(&c.telegram.poll_timeout_s, v, 1, 3600, "s"); }},
       }},
  };
  return keys;
}

const std::map<std::string, TunnelSetter>& tunnel_keys() {
  static const std::map<std::string, TunnelSetter> keys = {
      {"type",
       [](TunnelConfig& t, const std::string& v) -> std::string {
         t.local = v == "local";
         if (v == "quick") t.kind = TunnelKind::quick;
         else if (v == "named" || v == "local") t.kind = TunnelKind::named;
         else return "'" + v + "' is not one of: local, named, quick";
         return "";
       }},
      {"port", [](TunnelConfig& t, const std::string& v) { return set_int(&t.port, v, 1, 65535, ""); }},
      // hostname, service and route are read into `routes` by check_tunnels
      // and Parser::on_pair; these only check the value.
      {"hostname", [](TunnelConfig&, const std::string& v) { return hostname_problem(v); }},
      {"service", [](TunnelConfig&, const std::string& v) { return service_problem(v); }},
      {"route", [](TunnelConfig&, const std::string&) { return std::string(); }},
      {"config",
       [](TunnelConfig& t, const std::string& v) -> std::string {
         if (v.empty() || v[0] != '/') return "'" + v + "' is not an absolute path (e.g. /etc/cloudflared/config.yml)";
         t.config_file = v;
         return "";
       }},
      {"memory_limit", [](TunnelConfig& t, const std::string& v) { return set_memory_limit(&t.go.memory_limit, v); }},
      {"max_procs", [](TunnelConfig& t, const std::string& v) { return set_int(&t.go.max_procs, v, 1, 1024, ""); }},
      {"gc_percent", [](TunnelConfig& t, const std::string& v) { return set_gc_percent(&t.go.gc_percent, v); }},
      {"token_env", [](TunnelConfig& t, const std::string& v) { return set_env_name(&t.token_env, v, false); }},
      {"autostart", [](TunnelConfig& t, const std::string& v) { return set_bool(&t.autostart, v); }},
      {"adopt", [](TunnelConfig& t, const std::string& v) { return set_bool(&t.adopt, v); }},
  };
  return keys;
}

template <typename Map>
std::string key_list(const Map& m) {
  std::string out;
  for (const auto& kv : m) out += (out.empty() ? "" : ", ") + kv.first;
  return out;
}

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

// Everything the inih callbacks need: the text, where we are in it, and what
// we have seen. inih reads through reader() line by line and then calls
// handler() for that line, so `line` is the handler's line number too, and
// `section` (seen by reader()) is the handler's section. inih's own section
// string is not used: it is cut at 49 bytes and keeps inner blanks.
struct Parser {
  std::string_view text;
  size_t pos = 0;
  int line = 0;
  bool continuation = false;  // the current line is indented
  std::string file;
  Config* cfg;
  std::vector<ConfigError>* errors;
  std::map<std::string, int> seen;          // "section\nkey" -> line (the first, for route)
  std::map<std::string, std::string> raw;   // "section\nkey" -> value
  std::map<std::string, int> section_line;  // section -> header line
  std::map<std::string, size_t> tunnel_index;
  std::set<std::string> bad_sections;  // keys under them are not reported again
  std::string section;                 // canonical: "agent", "tunnel drone-7"

  void error(int at, std::string msg) { errors->push_back({file, at, std::move(msg)}); }

  void on_header(const std::string& header) {
    size_t close = header.find(']');
    if (close == std::string::npos) {
      error(line, "section header without ']'");
      return;
    }
    std::string name = trim(std::string_view(header).substr(1, close - 1));
    bool is_tunnel =
        name.rfind("tunnel", 0) == 0 && (name.size() == 6 || std::isspace(static_cast<unsigned char>(name[6])));
    std::string tname = is_tunnel ? trim(std::string_view(name).substr(6)) : "";
    if (is_tunnel) name = tname.empty() ? "tunnel" : "tunnel " + tname;  // "[tunnel  x]" is "[tunnel x]"
    section = name;
    if (section_line.count(name)) {
      error(line, "section [" + name + "] appears twice (first at line " + std::to_string(section_line[name]) + ")");
      bad_sections.insert(name);
      return;
    }
    section_line[name] = line;
    if (is_tunnel) {
      if (!valid_tunnel_name(tname)) {
        error(line, "[" + name + "]: tunnel name '" + tname +
                        "' must start with a letter and use only a-z, 0-9 and '-' (at most 63)");
        bad_sections.insert(name);
        return;
      }
      TunnelConfig t;
      t.name = tname;
      t.line = line;
      tunnel_index[name] = cfg->tunnels.size();
      cfg->tunnels.push_back(t);
      return;
    }
    if (!section_keys().count(name)) {
      error(line, "unknown section [" + name + "] (known: " + key_list(section_keys()) + ", tunnel NAME)");
      bad_sections.insert(name);
      return;
    }
    if (name == "telegram") cfg->telegram.enabled = true;
  }

  void classify(std::string_view raw) {
    continuation = !raw.empty() && (raw[0] == ' ' || raw[0] == '\t');
    std::string t = trim(raw);
    if (t.empty() || t[0] == ';' || t[0] == '#') return;
    if (t[0] == '[') {
      on_header(t);
      return;
    }
    if (t.find('=') == std::string::npos && t.find(':') == std::string::npos)
      error(line, "expected 'key = value' or '[section]', got '" + t + "'");
  }

  int on_pair(const std::string& key, const std::string& value) {
    if (bad_sections.count(section)) return 1;
    if (section.empty()) {
      error(line, "'" + key + "' is outside any section (put it under [agent], [cloudflared], ...)");
      return 1;
    }
    std::string id = section + "\n" + key;
    auto ti = tunnel_index.find(section);
    // A tunnel's routes are one `route` line each.
    bool repeatable = key == "route" && ti != tunnel_index.end();
    if (seen.count(id) && (continuation || !repeatable)) {
      error(line,
            continuation
                ? "[" + section + "] " + key + ": continuation lines are not supported; write the value on one line"
                : "[" + section + "] duplicate key '" + key + "' (first set at line " + std::to_string(seen[id]) + ")");
      return 1;
    }
    if (!seen.count(id)) seen[id] = line;
    raw[id] = value;
    std::string problem;
    if (ti != tunnel_index.end()) {
      auto k = tunnel_keys().find(key);
      if (k == tunnel_keys().end()) {
        error(line, "unknown key '" + key + "' in [" + section + "] (known: " + key_list(tunnel_keys()) + ")");
        return 1;
      }
      TunnelConfig& t = cfg->tunnels[ti->second];
      problem = k->second(t, value);
      if (repeatable) {
        Route r;
        r.line = line;
        problem = parse_route(value, &r);
        if (problem.empty()) t.routes.push_back(r);
      }
    } else {
      auto known = section_keys().find(section);
      if (known == section_keys().end()) return 1;  // reported at its header
      const auto& keys = known->second;
      auto k = keys.find(key);
      if (k == keys.end()) {
        error(line, "unknown key '" + key + "' in [" + section + "] (known: " + key_list(keys) + ")");
        return 1;
      }
      problem = k->second(*cfg, value);
    }
    if (!problem.empty()) error(line, "[" + section + "] " + key + ": " + problem);
    return 1;
  }

  void check_tunnels() {
    std::map<int, std::string> ports;
    for (auto& t : cfg->tunnels) {
      std::string where = "[tunnel " + t.name + "]";
      std::string sec = "tunnel " + t.name;
      auto has = [&](const char* k) { return seen.count(sec + "\n" + k) != 0; };
      auto at = [&](const char* k) { return seen[sec + "\n" + k]; };
      auto only = [&](const std::vector<const char*>& keys, const std::string& type) {
        for (const char* k : keys)
          if (has(k)) error(at(k), where + ": '" + k + "' only applies to " + type);
      };
      resolve_go(t, sec);
      if (t.kind == TunnelKind::quick) {
        if (!has("port")) error(t.line, where + ": missing required key 'port' (type = quick exposes a local port)");
        else if (ports.count(t.port))
          error(t.line,
                where + ": port " + std::to_string(t.port) + " is already used by [tunnel " + ports[t.port] + "]");
        else ports[t.port] = t.name;
        only({"hostname", "service", "route", "token_env", "adopt"}, "type = named");
        only({"config"}, "type = local");
        t.routes.clear();
        continue;
      }
      if (has("port"))
        error(at("port"), where + ": 'port' only applies to type = quick (named tunnels route by 'service')");
      if (t.local) {
        only({"hostname", "service", "route", "token_env", "adopt"},
             "type = named (a local tunnel's routes and credentials are in its config.yml)");
        t.routes.clear();
        if (!has("config")) {
          error(t.line, where +
                            ": missing required key 'config' (type = local runs cloudflared with its own "
                            "config.yml, e.g. config = /etc/cloudflared/config.yml)");
        } else if (!t.config_file.empty()) {
          read_local(t, where, at("config"));
        }
        for (const auto& a : cfg->cloudflared.extra_args)
          if (a == "--config" || a.rfind("--config=", 0) == 0)
            error(at("config"), where + ": [cloudflared] extra_args has '" + a +
                                    "', which would replace this tunnel's config; remove it from extra_args");
        continue;
      }
      only({"config"}, "type = local");
      if (t.token_env.empty()) t.token_env = default_token_env(t.name);
      if ((has("hostname") || has("service")) && has("route")) {
        // The error is at the first line of whichever form came second.
        const char* shorthand =
            !has("service") || (has("hostname") && at("hostname") < at("service")) ? "hostname" : "service";
        bool route_second = at("route") > at(shorthand);
        error(route_second ? at("route") : at(shorthand),
              where + ": '" + (route_second ? "route" : shorthand) + "' cannot be mixed with " +
                  (route_second ? "'hostname'/'service'" : "'route'") + " (line " +
                  std::to_string(route_second ? at(shorthand) : at("route")) +
                  "); write every route as 'route = HOST -> SERVICE'");
        continue;
      }
      const std::string& zone = cfg->cloudflare.zone;
      if (!has("route")) {
        // The one-route shorthand.
        std::string host = has("hostname") ? raw[sec + "\nhostname"] : zone.empty() ? "" : t.name + "." + zone;
        std::string service = has("service") ? raw[sec + "\nservice"] : "http://localhost:80";
        if (!host.empty() && hostname_problem(host).empty() && service_problem(service).empty())
          t.routes = {Route{host, service, {}, has("hostname") ? at("hostname") : t.line}};
      }
      if (zone.empty()) continue;
      for (const auto& r : t.routes)
        if (!in_zone(r.hostname, zone))
          error(r.line, where + ": hostname '" + r.hostname + "' is not inside [cloudflare] zone '" + zone +
                            "'; use a name ending in ." + zone);
    }
    check_hostnames_unique();
  }

  // A hostname has one DNS record and so one tunnel and one route.
  void check_hostnames_unique() {
    std::map<std::string, std::pair<std::string, int>> owner;  // lower-case host -> tunnel, line
    for (const auto& t : cfg->tunnels) {
      for (const auto& r : t.routes) {
        auto [it, fresh] = owner.emplace(lower(r.hostname), std::make_pair(t.name, r.line));
        if (fresh) continue;
        int line_here = t.local ? seen["tunnel " + t.name + "\nconfig"] : r.line;
        error(line_here, "[tunnel " + t.name + "]: hostname '" + r.hostname + "' is already routed by [tunnel " +
                             it->second.first + "] (line " + std::to_string(it->second.second) +
                             "); a hostname can have only one route");
      }
    }
  }

  // The section's own Go knobs win over [cloudflared]'s.
  void resolve_go(TunnelConfig& t, const std::string& sec) {
    const GoKnobs& all = cfg->cloudflared.go;
    if (!seen.count(sec + "\nmemory_limit")) t.go.memory_limit = all.memory_limit;
    if (!seen.count(sec + "\nmax_procs")) t.go.max_procs = all.max_procs;
    if (!seen.count(sec + "\ngc_percent")) t.go.gc_percent = all.gc_percent;
  }

  // A local tunnel's config.yml, for its id and hostnames.
  void read_local(TunnelConfig& t, const std::string& where, int at) {
    LocalTunnel lt;
    std::vector<ConfigError> errs;
    if (!load_local_tunnel(t.config_file, &lt, &errs)) {
      for (const auto& e : errs) error(at, where + " config: " + e.str());
      return;
    }
    t.local_tunnel = lt.tunnel;
    t.routes = lt.ingress;
    // In messages the line of a route of config.yml is meaningless in tether.ini.
    for (auto& r : t.routes) r.line = at;
  }

  void check_cross_keys() {
    const auto& w = cfg->watchdog;
    if (w.backoff_max_ms < w.backoff_initial_ms)
      error(seen.count("watchdog\nbackoff_max_ms") ? seen["watchdog\nbackoff_max_ms"] : 0,
            "[watchdog] backoff_max_ms (" + std::to_string(w.backoff_max_ms) + ") is below backoff_initial_ms (" +
                std::to_string(w.backoff_initial_ms) + ")");
    const auto& tg = cfg->telegram;
    if (tg.enabled) {
      int at = section_line["telegram"];
      if (tg.bot_token_env.empty() && tg.bot_token_file.empty())
        error(at, "[telegram]: missing required key 'bot_token_env' (or 'bot_token_file')");
      if (tg.allowed_chat_ids.empty())
        error(at, "[telegram]: missing required key 'allowed_chat_ids' (a bot that anyone can command is refused)");
      if (tg.allowed_user_ids.empty())
        error(at, "[telegram]: missing required key 'allowed_user_ids' (a bot that anyone can command is refused)");
    }
    const auto& n = cfg->notify;
    if (n.telegram_chat_id.empty() != n.telegram_bot_token_env.empty())
      error(section_line.count("notify") ? section_line["notify"] : 0,
            "[notify]: telegram_chat_id and telegram_bot_token_env go together; set both or neither");
  }
};

char* reader(char* str, int num, void* stream) {
  auto* p = static_cast<Parser*>(stream);
  if (p->pos >= p->text.size()) return nullptr;
  size_t nl = p->text.find('\n', p->pos);
  size_t end = nl == std::string_view::npos ? p->text.size() : nl;
  std::string_view raw = p->text.substr(p->pos, end - p->pos);
  p->pos = nl == std::string_view::npos ? p->text.size() : nl + 1;
  ++p->line;
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  // Editors on Windows start a UTF-8 file with a byte order mark; it is
  // not part of the first line.
  if (p->line == 1 && raw.substr(0, 3) == "\xEF\xBB\xBF") raw.remove_prefix(3);
  if (raw.find('\0') != std::string_view::npos) {
    // inih would silently cut the line there.
    p->error(p->line, "line contains a NUL byte; save the file as plain text");
    raw = std::string_view();
  }
  // inih keeps a '\n' and a NUL in its buffer of `num` bytes.
  size_t limit = static_cast<size_t>(num) - 2;
  if (raw.size() > limit) {
    p->error(p->line, "line is longer than " + std::to_string(limit) + " characters");
    raw = std::string_view();
  }
  p->classify(raw);
  if (!raw.empty()) std::memcpy(str, raw.data(), raw.size());
  str[raw.size()] = '\n';
  str[raw.size() + 1] = '\0';
  return str;
}

int handler(void* user, const char*, const char* name, const char* value) {
  return static_cast<Parser*>(user)->on_pair(name, value);
}

}  // namespace

bool valid_tunnel_name(std::string_view name) {
  if (name.empty() || name.size() > 63 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  return true;
}

std::string service_problem(std::string_view service) {
  std::string v(service);
  if (v.rfind("http_status:", 0) == 0) {
    std::string code = v.substr(12);
    bool ok = code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
              code >= "100" && code <= "599";
    return ok ? "" : "'" + v + "' is not an HTTP status (http_status:100 to http_status:599)";
  }
  // cloudflared's own form for a socket is unix:/PATH (unix:///PATH works too).
  for (const char* sock : {"unix:", "unix+tls:"}) {
    std::string prefix = sock;
    if (v.rfind(prefix, 0) == 0 && v.compare(prefix.size(), 2, "//") != 0)
      return v.size() > prefix.size() + 1 && v[prefix.size()] == '/'
                 ? ""
                 : "'" + v + "' names no socket path (e.g. " + prefix + "/run/app.sock)";
  }
  size_t sep = v.find("://");
  if (sep == std::string::npos)
    return "'" + v + "' is not a service URL (e.g. http://localhost:8080, tcp://localhost:22 or http_status:404)";
  std::string scheme = v.substr(0, sep), rest = v.substr(sep + 3);
  static const std::set<std::string> kSchemes = {"http", "https", "unix", "unix+tls", "tcp", "ssh", "rdp", "smb"};
  if (!kSchemes.count(scheme))
    return "'" + scheme +
           "' is not a scheme cloudflared serves (http, https, unix, unix+tls, tcp, ssh, rdp, smb; "
           "or http_status:NNN)";
  if (rest.empty() || rest == "/") return "'" + v + "' names no host (e.g. " + scheme + "://localhost:8080)";
  bool unix_socket = scheme == "unix" || scheme == "unix+tls";
  size_t slash = rest.find('/');
  if (!unix_socket && slash != std::string::npos && slash + 1 != rest.size())
    return "'" + v + "' has a path; cloudflared routes to a host and port only (drop '" + rest.substr(slash) + "')";
  return "";
}

std::string default_token_env(std::string_view name) {
  std::string out = "CF_TUNNEL_TOKEN_";
  for (char c : name) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

bool TunnelConfig::operator==(const TunnelConfig& o) const {
  return name == o.name && kind == o.kind && port == o.port && token_env == o.token_env && autostart == o.autostart &&
         adopt == o.adopt && routes == o.routes && local == o.local && config_file == o.config_file &&
         local_tunnel == o.local_tunnel && go == o.go;
}

std::vector<std::string> go_environment(const GoKnobs& go) {
  std::vector<std::string> env;
  if (!go.memory_limit.empty()) env.push_back("GOMEMLIMIT=" + go.memory_limit);
  if (go.max_procs > 0) env.push_back("GOMAXPROCS=" + std::to_string(go.max_procs));
  if (!go.gc_percent.empty()) env.push_back("GOGC=" + go.gc_percent);
  return env;
}

std::string hostname_problem(std::string_view host) {
  std::string h(host);
  if (h.empty()) return "hostname must not be empty";
  std::string bad = "'" + h +
                    "' is not a host name (labels of letters, digits and '-', separated by '.', e.g. "
                    "video.example.com)";
  if (h.size() > 253 || h.find('.') == std::string::npos) return bad;
  size_t start = 0;
  while (start <= h.size()) {
    size_t dot = h.find('.', start);
    std::string label = h.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return bad;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return bad;
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return "";
}

bool TelegramConfig::operator==(const TelegramConfig& o) const {
  return enabled == o.enabled && bot_token_env == o.bot_token_env && bot_token_file == o.bot_token_file &&
         allowed_chat_ids == o.allowed_chat_ids && allowed_user_ids == o.allowed_user_ids && api_base == o.api_base &&
         poll_timeout_s == o.poll_timeout_s;
}

const TunnelConfig* Config::find_tunnel(std::string_view name) const {
  for (const auto& t : tunnels)
    if (t.name == name) return &t;
  return nullptr;
}

std::string ConfigError::str() const {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

bool parse_config(std::string_view text, const std::string& file, Config* out, std::vector<ConfigError>* errors) {
  Config cfg;
  cfg.path = file;
  Parser p;
  p.text = text;
  p.file = file;
  p.cfg = &cfg;
  p.errors = errors;
  size_t before = errors->size();
  int rc = ini_parse_stream(reader, &p, handler, &p);
  if (rc == -2) p.error(0, "out of memory while parsing");
  // Syntax errors are reported by classify() with better messages; inih's
  // own return value only repeats the first of them.
  p.check_tunnels();
  p.check_cross_keys();
  if (errors->size() != before) return false;
  *out = std::move(cfg);
  return true;
}

ConfigError read_failure(const std::string& path, int rc, const std::string& err) {
  return {path, 0,
          rc == -EINVAL || rc == -EFBIG ? "cannot read: " + err : std::string("cannot open: ") + std::strerror(-rc)};
}

bool load_config(const std::string& path, Config* out, std::vector<ConfigError>* errors) {
  std::string text, err;
  int rc = read_file(path, &text, kMaxConfigBytes, &err);
  if (rc < 0) {
    errors->push_back(read_failure(path, rc, err));
    return false;
  }
  return parse_config(text, path, out, errors);
}

}  // namespace tether
