#include "report.hpp"

#include <cstdio>

namespace tether {
namespace {

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

// Appends s, then spaces up to width (at least one).
void column(std::string* line, const std::string& s, size_t width) {
  *line += s;
  line->append(s.size() < width ? width - s.size() : 1, ' ');
}

const char* kind_name(const TunnelInfo& t) {
  return t.kind == TunnelKind::quick ? "quick" : t.config_file.empty() ? "named" : "local";
}

// list's URL column starts after ID, KIND and STATE.
constexpr size_t kUrlColumn = 11 + 6 + 9;

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

}  // namespace

std::string format_uptime(int64_t s) {
  char buf[32];
  if (s < 0) return "-";
  if (s < 60) snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600)
    snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else if (s < 86400)
    snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  else
    snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400),
             static_cast<long long>(s % 86400 / 3600));
  return buf;
}

std::string list_header() {
  std::string line;
  column(&line, "ID", 11);
  column(&line, "KIND", 6);
  column(&line, "STATE", 9);
  column(&line, "URL", 54);
  column(&line, "PID", 8);
  column(&line, "UPTIME", 7);
  return line + "RESTARTS";
}

std::string list_line(const TunnelInfo& t) {
  std::string line;
  line.reserve(128);
  column(&line, t.id, 11);
  column(&line, kind_name(t), 6);
  column(&line, t.state, 9);
  column(&line, or_dash(t.url), 54);
  column(&line, t.pid ? std::to_string(t.pid) : "-", 8);
  column(&line, format_uptime(t.uptime_s), 7);
  line += std::to_string(t.restarts);
  return line;
}

std::vector<std::string> list_more(const TunnelInfo& t) {
  std::vector<std::string> out;
  for (size_t i = 1; i < t.hostnames.size(); ++i)
    out.push_back(std::string(kUrlColumn, ' ') + "https://" + t.hostnames[i]);
  if (!t.config_file.empty())
    out.push_back(std::string(kUrlColumn, ' ') + "tunnel " + or_dash(t.local_tunnel) + " from " + t.config_file);
  return out;
}

std::vector<std::string> status_lines(const TunnelInfo& t) {
  std::vector<std::string> out = {
      "id: " + t.id,
      std::string("kind: ") + kind_name(t),
      "state: " + t.state,
      "url: " + or_dash(t.url),
  };
  if (t.hostnames.size() > 1) out.push_back("hostnames: " + join(t.hostnames, ", "));
  if (!t.config_file.empty()) {
    out.push_back("config: " + t.config_file);
    out.push_back("tunnel: " + or_dash(t.local_tunnel));
  }
  out.insert(out.end(), {
                            "pid: " + (t.pid ? std::to_string(t.pid) : std::string("-")),
                            "uptime: " + format_uptime(t.uptime_s),
                            "restarts: " + std::to_string(t.restarts),
                            "connections: " + std::to_string(t.connections),
                            "origin: " + t.origin,
                        });
  if (t.metrics_port) out.push_back("metrics: 127.0.0.1:" + std::to_string(t.metrics_port));
  if (!t.protocol.empty()) out.push_back("protocol: " + t.protocol + (t.quic_blocked ? " (quic blocked)" : ""));
  if (!t.network.empty()) out.push_back("network: " + t.network);
  if (!t.spinning.empty()) out.push_back("spinning: " + t.spinning);
  if (t.clock_unsynced) out.push_back("clock: clock not synchronised (certificates look expired or not yet valid)");
  if (t.next_restart_ms >= 0) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(t.next_restart_ms) / 1000.0);
    out.push_back(std::string("next restart in: ") + buf);
  }
  if (!t.credentials_error.empty()) out.push_back("credentials: bad (" + t.credentials_error + ")");
  if (!t.last_exit.empty()) out.push_back("last exit: " + t.last_exit);
  if (!t.last_error.empty()) out.push_back("last error: " + t.last_error);
  return out;
}

nlohmann::json info_json(const TunnelInfo& t) {
  nlohmann::json j = {
      {"id", t.id},
      {"kind", kind_name(t)},
      {"state", t.state},
      {"url", t.url.empty() ? nlohmann::json(nullptr) : nlohmann::json(t.url)},
      {"pid", t.pid ? nlohmann::json(t.pid) : nlohmann::json(nullptr)},
      {"uptime_s", t.uptime_s >= 0 ? nlohmann::json(t.uptime_s) : nlohmann::json(nullptr)},
      {"uptime", format_uptime(t.uptime_s)},
      {"restarts", t.restarts},
      {"connections", t.connections},
      {"url_changes", t.url_changes},
      {"origin", t.origin},
  };
  if (!t.hostnames.empty()) j["hostnames"] = t.hostnames;
  if (!t.config_file.empty()) {
    j["config"] = t.config_file;
    j["tunnel_id"] = t.local_tunnel;
  }
  if (t.metrics_port) j["metrics"] = "127.0.0.1:" + std::to_string(t.metrics_port);
  if (!t.protocol.empty()) j["protocol"] = t.protocol;
  if (t.quic_blocked) j["protocol_reason"] = "quic blocked";
  if (!t.network.empty()) j["network"] = t.network;
  if (!t.spinning.empty()) j["spinning"] = t.spinning;
  if (t.clock_unsynced) j["clock"] = "clock not synchronised";
  if (t.next_restart_ms >= 0) j["next_restart_ms"] = t.next_restart_ms;
  if (!t.credentials_error.empty()) j["credentials_error"] = t.credentials_error;
  if (!t.last_exit.empty()) j["last_exit"] = t.last_exit;
  if (!t.last_error.empty()) j["last_error"] = t.last_error;
  return j;
}

}  // namespace tether
