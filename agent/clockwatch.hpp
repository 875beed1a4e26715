// The wall clock being set (NTP's first step on a board without a
// real-time clock): a timerfd armed far in the future with
// TFD_TIMER_CANCEL_ON_SET, under uv_poll. It only becomes readable when
// the clock is set, so it costs no wake-up otherwise.
#pragma once

#include <uv.h>

#include <functional>

#include "uvpp.hpp"

namespace tether {

class ClockWatch {
 public:
  explicit ClockWatch(uv_loop_t* loop) : loop_(loop) {}
  ~ClockWatch();
  ClockWatch(const ClockWatch&) = delete;
  ClockWatch& operator=(const ClockWatch&) = delete;

  // Returns 0 or a negative errno (then the agent simply waits out its
  // backoff delays, as before).
  int start(std::function<void()> on_step);
  // Closes the timer (agent shutdown: the loop ends when nothing is watched).
  void stop();

  // adjtimex(2), read only: the kernel says the clock is not synchronised.
  static bool unsynchronised();

 private:
  static void on_readable(uv_poll_t* h, int status, int events);
  int arm();

  uv_loop_t* loop_;
  int fd_ = -1;
  UvHandle<uv_poll_t> poll_;
  std::function<void()> on_step_;
};

}  // namespace tether
