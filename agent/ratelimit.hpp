// Spacing of calls to an API shared by every job on the loop: Cloudflare
// allows 1200 requests per 5 minutes per user, and a burst of provisions
// (a fleet coming up) must not spend it in a few seconds.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>

#include "uvpp.hpp"

namespace tether {

class RateLimiter {
 public:
  RateLimiter(uv_loop_t* loop, int per_second);

  void set_rate(int per_second);
  // Runs go when its turn comes, in the order of the calls: at once if the
  // previous call was at least 1/per_second ago. Returns a ticket for
  // cancel().
  uint64_t wait(std::function<void()> go);
  // go of that ticket will not run (no effect once it has run).
  void cancel(uint64_t ticket);

 private:
  void pump();

  uv_loop_t* loop_;
  uint64_t interval_ms_;
  uint64_t next_ms_ = 0;  // the loop time the next call may go at
  uint64_t tickets_ = 0;
  std::deque<std::pair<uint64_t, std::function<void()>>> queue_;
  Timer timer_;
};

}  // namespace tether
