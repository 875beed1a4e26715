// The event bus: everything that happens to a tunnel is published here once,
// and everything that reports (watch streams, notifications, metrics) listens
// here, so no reporter needs to know about the supervisor's internals.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

namespace tether {

// What happened to a tunnel (docs/DESIGN.md, Events).
enum class EventKind {
  starting,
  url,
  connected,
  disconnected,
  exited,
  backoff,
  restarted,
  failed,
  stopped,
  credentials,
  offline,
  online,
  spinning,
  protocol,
};

// The kind's name on every wire (watch lines, JSON, webhook bodies, logs).
const char* event_kind_name(EventKind kind);

struct Event {
  std::string time;  // ISO 8601 UTC, milliseconds
  std::string id;    // tunnel id: port or name
  EventKind kind = EventKind::starting;
  std::string detail;  // one line, human readable
  // The same, structured.
  nlohmann::json fields = nlohmann::json::object();

  std::string text() const;  // "EVENT <time> <id> <kind> <detail>"
  nlohmann::json json() const;
};

std::string iso_time_now();

class EventBus {
 public:
  using Listener = std::function<void(const Event&)>;

  uint64_t subscribe(Listener listener);
  void unsubscribe(uint64_t token);
  void publish(const std::string& id, EventKind kind, const std::string& detail,
               nlohmann::json fields = nlohmann::json::object());
  size_t listeners() const { return listeners_.size(); }

 private:
  std::map<uint64_t, Listener> listeners_;
  uint64_t next_ = 1;
};

}  // namespace tether
