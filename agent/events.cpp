#include "events.hpp"

#include <sys/time.h>

#include <ctime>
#include <vector>

#include "log.hpp"

namespace tether {

const char* event_kind_name(EventKind kind) {
  switch (kind) {
    case EventKind::starting: return "starting";
    case EventKind::url: return "url";
    case EventKind::connected: return "connected";
    case EventKind::disconnected: return "disconnected";
    case EventKind::exited: return "exited";
    case EventKind::backoff: return "backoff";
    case EventKind::restarted: return "restarted";
    case EventKind::failed: return "failed";
    case EventKind::stopped: return "stopped";
    case EventKind::credentials: return "credentials";
    case EventKind::offline: return "offline";
    case EventKind::online: return "online";
    case EventKind::spinning: return "spinning";
    case EventKind::protocol: return "protocol";
  }
  return "?";
}

std::string iso_time_now() {
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char buf[40];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  return buf;
}

std::string Event::text() const {
  std::string out = "EVENT " + time + " " + id + " " + event_kind_name(kind);
  if (!detail.empty()) out += " " + detail;
  return out;
}

nlohmann::json Event::json() const {
  nlohmann::json j = {{"event", event_kind_name(kind)}, {"time", time}, {"id", id}, {"detail", detail}};
  for (auto it = fields.begin(); it != fields.end(); ++it) j[it.key()] = it.value();
  return j;
}

uint64_t EventBus::subscribe(Listener listener) {
  uint64_t token = next_++;
  listeners_.emplace(token, std::move(listener));
  return token;
}

void EventBus::unsubscribe(uint64_t token) { listeners_.erase(token); }

void EventBus::publish(const std::string& id, EventKind kind, const std::string& detail, nlohmann::json fields) {
  Event ev{iso_time_now(), id, kind, redacted(detail), std::move(fields)};
  log_info("event %s %s %s", id.c_str(), event_kind_name(kind), ev.detail.c_str());
  // A listener may unsubscribe itself or another one while being called.
  std::vector<uint64_t> tokens;
  tokens.reserve(listeners_.size());
  for (const auto& kv : listeners_) tokens.push_back(kv.first);
  for (uint64_t t : tokens) {
    auto it = listeners_.find(t);
    if (it == listeners_.end()) continue;
    Listener fn = it->second;  // survives the listener unsubscribing itself
    fn(ev);
  }
}

}  // namespace tether
