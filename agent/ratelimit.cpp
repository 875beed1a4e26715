#include "ratelimit.hpp"

#include <algorithm>

namespace tether {

RateLimiter::RateLimiter(uv_loop_t* loop, int per_second) : loop_(loop), timer_(loop) { set_rate(per_second); }

void RateLimiter::set_rate(int per_second) { interval_ms_ = 1000 / static_cast<uint64_t>(std::max(per_second, 1)); }

uint64_t RateLimiter::wait(std::function<void()> go) {
  queue_.emplace_back(++tickets_, std::move(go));
  if (!timer_.active()) pump();
  return tickets_;
}

void RateLimiter::cancel(uint64_t ticket) {
  auto it = std::find_if(queue_.begin(), queue_.end(), [ticket](const auto& q) { return q.first == ticket; });
  if (it != queue_.end()) queue_.erase(it);
}

void RateLimiter::pump() {
  uv_update_time(loop_);
  uint64_t now = uv_now(loop_);
  if (queue_.empty()) return;
  if (now < next_ms_) {
    timer_.start(next_ms_ - now, [this] { pump(); });
    return;
  }
  next_ms_ = now + interval_ms_;
  auto go = std::move(queue_.front().second);
  queue_.pop_front();
  // The rest wait for their turn; go may queue more or cancel some.
  if (!queue_.empty()) timer_.start(interval_ms_, [this] { pump(); });
  go();
}

}  // namespace tether
