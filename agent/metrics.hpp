// The `metrics` verb: Prometheus text exposition format 0.0.4. Pure: the
// agent gathers a snapshot, this renders it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "report.hpp"

namespace tether {

struct MetricsSnapshot {
  std::string version;
  double uptime_s = 0;
  uint64_t rss_bytes = 0;
  bool online = true;
  bool clock_synchronised = true;
  std::vector<TunnelInfo> tunnels;
  uint64_t control_clients = 0, control_accepted = 0;
  struct Channel {
    std::string name;  // "webhook", "telegram"
    uint64_t sent = 0, failed = 0, dropped = 0;
  };
  std::vector<Channel> notify;
  uint64_t telegram_ignored = 0;
};

std::vector<std::string> render_metrics(const MetricsSnapshot& m);

}  // namespace tether
