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
  if (v.empty() || *end != '\0' || errno == ERANGE)
    return "'" + v + "' is not a number (expected " + range + ")";
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
  if (v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0)
    return "'" + v + "' is not an http:// or https:// URL";
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
  if (v.empty() || *end != '\0' || n > 0777)
    return "'" + v + "' is not an octal file mode (e.g. 0660)";
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
      return "'" + a + "' would put a secret on the command line, readable by every user "
             "(tether passes tunnel tokens in the environment)";
    if (a == "--url" || a.rfind("--url=", 0) == 0 || a == "run" || a == "--metrics" ||
        a.rfind("--metrics=", 0) == 0 || a == "--no-autoupdate")
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
  return h == z || (h.size() > z.size() && h.compare(h.size() - z.size(), z.size(), z) == 0 &&
                    h[h.size() - z.size() - 1] == '.');
}

std::string set_hostname(std::string* field, const std::string& v) {
  if (v.empty()) return "hostname must not be empty";
  for (char c : v)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.')
      return "'" + v + "' is not a host name (letters, digits, '-' and '.')";
  *field = v;
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
      {"type", [](TunnelConfig& t, const std::string& v) -> std::string {
         if (v == "quick") t.kind = TunnelKind::quick;
         else if (v == "named") t.kind = TunnelKind::named;
         else return "'" + v + "' is not one of: named, quick";
         return "";
       }},
      {"port", [](TunnelConfig& t, const std::string& v) { return set_int(&t.port, v, 1, 65535, ""); }},
      {"hostname", [](TunnelConfig& t, const std::string& v) { return set_hostname(&t.hostname, v); }},
      {"service", [](TunnelConfig& t, const std::string& v) -> std::string {
         std::string problem = service_problem(v);
         if (problem.empty()) t.service = v;
         return problem;
       }},
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
  std::map<std::string, int> seen;         // "section\nkey" -> line
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
      error(line, "section [" + name + "] appears twice (first at line " +
                      std::to_string(section_line[name]) + ")");
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
      error(line, "unknown section [" + name + "] (known: " + key_list(section_keys()) +
                      ", tunnel NAME)");
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
    if (seen.count(id)) {
      error(line, continuation ? "[" + section + "] " + key +
                                     ": continuation lines are not supported; write the value on one line"
                               : "[" + section + "] duplicate key '" + key + "' (first set at line " +
                                     std::to_string(seen[id]) + ")");
      return 1;
    }
    seen[id] = line;
    std::string problem;
    auto ti = tunnel_index.find(section);
    if (ti != tunnel_index.end()) {
      auto k = tunnel_keys().find(key);
      if (k == tunnel_keys().end()) {
        error(line, "unknown key '" + key + "' in [" + section + "] (known: " + key_list(tunnel_keys()) + ")");
        return 1;
      }
      problem = k->second(cfg->tunnels[ti->second], value);
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
      if (t.kind == TunnelKind::quick) {
        if (!seen.count(sec + "\nport"))
          error(t.line, where + ": missing required key 'port' (type = quick exposes a local port)");
        else if (ports.count(t.port))
          error(t.line, where + ": port " + std::to_string(t.port) + " is already used by [tunnel " +
                            ports[t.port] + "]");
        else
          ports[t.port] = t.name;
        for (const char* k : {"hostname", "token_env", "adopt"})
          if (seen.count(sec + "\n" + k))
            error(seen[sec + "\n" + k], where + ": '" + k + "' only applies to type = named");
      } else {
        if (seen.count(sec + "\nport"))
          error(seen[sec + "\nport"], where + ": 'port' only applies to type = quick (named tunnels route by 'service')");
        if (t.token_env.empty()) t.token_env = default_token_env(t.name);
        const std::string& zone = cfg->cloudflare.zone;
        if (seen.count(sec + "\nhostname") && !zone.empty() && !in_zone(t.hostname, zone))
          error(seen[sec + "\nhostname"], where + ": hostname '" + t.hostname + "' is not inside [cloudflare] zone '" +
                                             zone + "'; use a name ending in ." + zone);
        if (t.hostname.empty() && !cfg->cloudflare.zone.empty())
          t.hostname = t.name + "." + cfg->cloudflare.zone;
        if (!t.hostname.empty()) t.routes = {Route{t.hostname, t.service, {}, t.line}};
      }
    }
  }

  void check_cross_keys() {
    const auto& w = cfg->watchdog;
    if (w.backoff_max_ms < w.backoff_initial_ms)
      error(seen.count("watchdog\nbackoff_max_ms") ? seen["watchdog\nbackoff_max_ms"] : 0,
            "[watchdog] backoff_max_ms (" + std::to_string(w.backoff_max_ms) +
                ") is below backoff_initial_ms (" + std::to_string(w.backoff_initial_ms) + ")");
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
    return "'" + scheme + "' is not a scheme cloudflared serves (http, https, unix, unix+tls, tcp, ssh, rdp, smb; "
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
  return name == o.name && kind == o.kind && port == o.port && hostname == o.hostname &&
         service == o.service && token_env == o.token_env && autostart == o.autostart && adopt == o.adopt &&
         routes == o.routes;
}

bool TelegramConfig::operator==(const TelegramConfig& o) const {
  return enabled == o.enabled && bot_token_env == o.bot_token_env && bot_token_file == o.bot_token_file &&
         allowed_chat_ids == o.allowed_chat_ids && allowed_user_ids == o.allowed_user_ids &&
         api_base == o.api_base && poll_timeout_s == o.poll_timeout_s;
}

const TunnelConfig* Config::find_tunnel(std::string_view name) const {
  for (const auto& t : tunnels)
    if (t.name == name) return &t;
  return nullptr;
}

std::string ConfigError::str() const {
  return line > 0 ? file + ":" + std::to_string(line) + ": " + message : file + ": " + message;
}

bool parse_config(std::string_view text, const std::string& file, Config* out,
                  std::vector<ConfigError>* errors) {
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

bool load_config(const std::string& path, Config* out, std::vector<ConfigError>* errors) {
  std::string text, err;
  int rc = read_file(path, &text, kMaxConfigBytes, &err);
  if (rc < 0) {
    errors->push_back({path, 0, rc == -EINVAL || rc == -EFBIG ? "cannot read: " + err
                                                              : std::string("cannot open: ") + std::strerror(-rc)});
    return false;
  }
  return parse_config(text, path, out, errors);
}

}  // namespace tether
