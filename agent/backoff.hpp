// Respawn timing, pure so it is unit tested: how long to wait before the
// next respawn, and when a flapping tunnel has used up its restarts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>

namespace tether {

// Delay before respawn number `attempt` (1 = the first after a good run):
// initial * 2^(attempt-1), capped at max, then +-20% jitter from `unit`
// (uniform in [0,1)), and never below initial nor above max.
uint64_t backoff_delay_ms(int attempt, uint64_t initial_ms, uint64_t max_ms, double unit);

// Restart times within a sliding window, for max_restarts.
class RestartWindow {
 public:
  // Records a restart at now_ms; true when this one goes over max_restarts
  // within window_ms (never, with max_restarts == 0).
  bool record(uint64_t now_ms, int max_restarts, uint64_t window_ms);
  size_t count() const { return times_.size(); }

 private:
  std::deque<uint64_t> times_;
};

}  // namespace tether
