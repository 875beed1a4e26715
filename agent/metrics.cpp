#include "metrics.hpp"

#include <cstdio>

namespace tether {
namespace {

std::string label_value(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

class Writer {
 public:
  explicit Writer(std::vector<std::string>* out) : out_(out) {}

  void family(const std::string& name, const char* type, const char* help) {
    out_->push_back("# HELP " + name + " " + help);
    out_->push_back("# TYPE " + name + " " + type);
  }

  void sample(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels, double v) {
    std::string line = name;
    if (!labels.empty()) {
      line += '{';
      for (size_t i = 0; i < labels.size(); ++i)
        line += (i ? "," : "") + labels[i].first + "=\"" + label_value(labels[i].second) + "\"";
      line += '}';
    }
    out_->push_back(line + " " + number(v));
  }

 private:
  std::vector<std::string>* out_;
};

}  // namespace

std::vector<std::string> render_metrics(const MetricsSnapshot& m) {
  std::vector<std::string> out;
  Writer w(&out);
  w.family("tether_build_info", "gauge", "Agent version (always 1).");
  w.sample("tether_build_info", {{"version", m.version}}, 1);
  w.family("tether_agent_uptime_seconds", "gauge", "Seconds since the agent started.");
  w.sample("tether_agent_uptime_seconds", {}, m.uptime_s);
  w.family("tether_resident_memory_bytes", "gauge", "Resident memory of the agent.");
  w.sample("tether_resident_memory_bytes", {}, static_cast<double>(m.rss_bytes));
  w.family("tether_network_online", "gauge", "1 when the board is online as [network] require says.");
  w.sample("tether_network_online", {}, m.online ? 1 : 0);
  w.family("tether_clock_synchronised", "gauge", "1 unless the kernel says the clock is not synchronised.");
  w.sample("tether_clock_synchronised", {}, m.clock_synchronised ? 1 : 0);

  w.family("tether_tunnels", "gauge", "Tunnels by state.");
  for (const char* state : {"starting", "running", "degraded", "backoff", "stopping", "failed", "offline"}) {
    int n = 0;
    for (const auto& t : m.tunnels) n += t.state == state;
    w.sample("tether_tunnels", {{"state", state}}, n);
  }
  auto per_tunnel = [&](const char* name, const char* type, const char* help, auto value) {
    w.family(name, type, help);
    for (const auto& t : m.tunnels)
      w.sample(name, {{"tunnel", t.id}, {"kind", t.kind == TunnelKind::quick ? "quick" : "named"}}, value(t));
  };
  per_tunnel("tether_tunnel_up", "gauge", "1 when the tunnel has a registered edge connection.",
             [](const TunnelInfo& t) { return t.connections > 0 ? 1.0 : 0.0; });
  per_tunnel("tether_tunnel_connections", "gauge", "Registered edge connections.",
             [](const TunnelInfo& t) { return static_cast<double>(t.connections); });
  per_tunnel("tether_tunnel_restarts_total", "counter", "Respawns of the tunnel's cloudflared.",
             [](const TunnelInfo& t) { return static_cast<double>(t.restarts); });
  per_tunnel("tether_tunnel_url_changes_total", "counter", "New public URLs of a quick tunnel.",
             [](const TunnelInfo& t) { return static_cast<double>(t.url_changes); });
  per_tunnel(
      "tether_tunnel_quic_blocked", "gauge",
      "1 when the tunnel runs --protocol http2 because QUIC dials kept timing out (protocol: http2 (quic blocked)).",
      [](const TunnelInfo& t) { return t.quic_blocked ? 1.0 : 0.0; });
  w.family("tether_tunnel_protocol_info", "gauge", "The protocol the tunnel's cloudflared is told to use (always 1).");
  for (const auto& t : m.tunnels)
    w.sample("tether_tunnel_protocol_info",
             {{"tunnel", t.id},
              {"kind", t.kind == TunnelKind::quick ? "quick" : "named"},
              {"protocol", t.protocol},
              {"reason", t.quic_blocked ? "quic blocked" : "configured"}},
             1);
  per_tunnel("tether_tunnel_spinning", "gauge",
             "1 while the tunnel's cloudflared is paused for printing errors too fast.",
             [](const TunnelInfo& t) { return t.spinning.rfind("paused", 0) == 0 ? 1.0 : 0.0; });
  per_tunnel("tether_tunnel_uptime_seconds", "gauge", "Seconds the current cloudflared has run (0 if none).",
             [](const TunnelInfo& t) { return static_cast<double>(t.uptime_s > 0 ? t.uptime_s : 0); });

  w.family("tether_control_connections", "gauge", "Clients connected to the control socket.");
  w.sample("tether_control_connections", {}, static_cast<double>(m.control_clients));
  w.family("tether_control_connections_total", "counter", "Clients accepted on the control socket.");
  w.sample("tether_control_connections_total", {}, static_cast<double>(m.control_accepted));

  w.family("tether_notifications_sent_total", "counter", "Notifications delivered.");
  for (const auto& c : m.notify)
    w.sample("tether_notifications_sent_total", {{"channel", c.name}}, static_cast<double>(c.sent));
  w.family("tether_notifications_failed_total", "counter", "Notifications given up after retries.");
  for (const auto& c : m.notify)
    w.sample("tether_notifications_failed_total", {{"channel", c.name}}, static_cast<double>(c.failed));
  w.family("tether_notifications_dropped_total", "counter", "Notifications dropped from a full queue.");
  for (const auto& c : m.notify)
    w.sample("tether_notifications_dropped_total", {{"channel", c.name}}, static_cast<double>(c.dropped));

  w.family("tether_telegram_ignored_messages_total", "counter", "Telegram messages from chats or users not allowed.");
  w.sample("tether_telegram_ignored_messages_total", {}, static_cast<double>(m.telegram_ignored));
  return out;
}

}  // namespace tether
