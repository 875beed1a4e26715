// Retry timing, pure so it is unit tested: how long to wait before the
// next try (of a respawn, an API call, a notice, a poll), and when a
// flapping tunnel has used up its restarts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

namespace tether {

// Delay before try number `attempt` (1 = the first after a success):
// initial * 2^(attempt-1), capped at max, then +-20% jitter from `unit`
// (uniform in [0,1)), and never below initial nor above max.
uint64_t backoff_delay_ms(int attempt, uint64_t initial_ms, uint64_t max_ms, double unit);

// The one retry policy every retrying owner keeps: it counts the failures
// since the last success and turns each into the next delay
// (backoff_delay_ms), with its jitter from `unit`.
class Backoff {
 public:
  // Uniform in [0,1). Tests pass a fixed one; the default is a PRNG seeded
  // once per process, so that drones restarted together do not retry in step.
  using Unit = std::function<double()>;

  Backoff(uint64_t initial_ms, uint64_t max_ms, Unit unit = nullptr);

  // Counts one more failure and returns the wait before the next try.
  uint64_t next_delay_ms();
  // Failures since construction or the last reset().
  int attempts() const { return attempts_; }
  // A success: the next failure waits initial_ms again.
  void reset() { attempts_ = 0; }

 private:
  uint64_t initial_ms_, max_ms_;
  Unit unit_;
  int attempts_ = 0;
};

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
