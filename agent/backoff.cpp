#include "backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <utility>

namespace tether {
namespace {

double random_unit() {
  static std::minstd_rand rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0, 1)(rng);
}

}  // namespace

uint64_t backoff_delay_ms(int attempt, uint64_t initial_ms, uint64_t max_ms, double unit) {
  double base = static_cast<double>(initial_ms);
  for (int i = 1; i < attempt && base < static_cast<double>(max_ms); ++i) base *= 2;
  base = std::min(base, static_cast<double>(max_ms));
  double jittered = base * (0.8 + 0.4 * std::clamp(unit, 0.0, 1.0));
  jittered = std::clamp(jittered, static_cast<double>(initial_ms), static_cast<double>(max_ms));
  return static_cast<uint64_t>(std::llround(jittered));
}

Backoff::Backoff(uint64_t initial_ms, uint64_t max_ms, Unit unit)
    : initial_ms_(initial_ms), max_ms_(max_ms), unit_(unit ? std::move(unit) : Unit(random_unit)) {}

uint64_t Backoff::next_delay_ms() {
  // Past the cap the count only matters to the logs; it must not overflow.
  if (attempts_ < std::numeric_limits<int>::max()) ++attempts_;
  return backoff_delay_ms(attempts_, initial_ms_, max_ms_, unit_());
}

bool RestartWindow::record(uint64_t now_ms, int max_restarts, uint64_t window_ms) {
  times_.push_back(now_ms);
  while (!times_.empty() && now_ms - times_.front() > window_ms) times_.pop_front();
  // Only as many as can matter are kept: memory stays flat in a crash loop.
  while (times_.size() > static_cast<size_t>(max_restarts) + 1) times_.pop_front();
  return max_restarts > 0 && times_.size() > static_cast<size_t>(max_restarts);
}

}  // namespace tether
