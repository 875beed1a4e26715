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

struct Event {
  std::string time;    // ISO 8601 UTC, milliseconds
  std::string id;      // tunnel id: port or name
  std::string kind;    // starting, url, connected, disconnected, exited, ...
  std::string detail;  // one line, human readable
  nlohmann::json fields = nlohmann::json::object();  // the same, structured

  std::string text() const;  // "EVENT <time> <id> <kind> <detail>"
  nlohmann::json json() const;
};

std::string iso_time_now();

class EventBus {
 public:
  using Listener = std::function<void(const Event&)>;

  uint64_t subscribe(Listener listener);
  void unsubscribe(uint64_t token);
  void publish(const std::string& id, const std::string& kind, const std::string& detail,
               nlohmann::json fields = nlohmann::json::object());
  size_t listeners() const { return listeners_.size(); }

 private:
  std::map<uint64_t, Listener> listeners_;
  uint64_t next_ = 1;
};

}  // namespace tether
