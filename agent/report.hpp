// How a tunnel is shown in `list`, `status` and JSON. Pure: the supervisor
// takes a snapshot, these functions only format it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "config.hpp"

namespace tether {

struct TunnelInfo {
  std::string id;
  TunnelKind kind = TunnelKind::quick;
  std::string state;
  std::string url;                     // public URL, empty until known
  std::vector<std::string> hostnames;  // named: every route's, in order (url is the first's)
  std::string config_file;             // type = local: its config.yml
  std::string local_tunnel;            // type = local: the tunnel that file names
  int pid = 0;                         // 0 when no child runs
  int64_t uptime_s = -1;               // of the current child; -1 when none
  int restarts = 0;
  int connections = 0;            // registered edge connections
  std::string last_exit;          // "exit status 1: <reason>", "killed by SIGKILL"
  std::string last_error;         // last error line of the child's output
  std::string credentials_error;  // named: the edge's Unauthorized message
  int metrics_port = 0;
  int64_t next_restart_ms = -1;  // in backoff: time left
  uint64_t url_changes = 0;
  std::string origin;           // "config" or "runtime"
  std::string protocol;         // what the child is told: auto, quic or http2
  bool quic_blocked = false;    // http2 because QUIC dials kept timing out
  std::string network;          // offline: why, and what became of the child
  std::string spinning;         // paused for printing errors too fast
  bool clock_unsynced = false;  // certificate errors with an unsynchronised clock
};

// 42s, 5m03s, 1h02m, 3d04h.
std::string format_uptime(int64_t seconds);
std::string list_header();
std::string list_line(const TunnelInfo& t);
// The lines under list_line: the other hostnames, and a local tunnel's id.
std::vector<std::string> list_more(const TunnelInfo& t);
std::vector<std::string> status_lines(const TunnelInfo& t);
nlohmann::json info_json(const TunnelInfo& t);

}  // namespace tether
