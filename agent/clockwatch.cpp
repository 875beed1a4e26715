#include "clockwatch.hpp"

#include <sys/timerfd.h>
#include <sys/timex.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "linkpolicy.hpp"
#include "log.hpp"

namespace tether {

ClockWatch::~ClockWatch() { stop(); }

void ClockWatch::stop() {
  poll_.reset();
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

int ClockWatch::start(std::function<void()> on_step) {
  on_step_ = std::move(on_step);
  fd_ = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd_ < 0) return -errno;
  int rc = arm();
  if (rc == 0) rc = poll_readable(loop_, poll_, this, fd_, on_readable);
  if (rc < 0) stop();
  return rc;
}

// An absolute expiry that never comes (2100, or 2038 where time_t has 32
// bits): the timer's only use is to be cancelled when the clock is set.
int ClockWatch::arm() {
  itimerspec its = {};
  its.it_value.tv_sec = sizeof(time_t) > 4 ? static_cast<time_t>(4102444800LL) : static_cast<time_t>(INT32_MAX);
  if (timerfd_settime(fd_, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, nullptr) < 0) return -errno;
  return 0;
}

void ClockWatch::on_readable(uv_poll_t* h, int status, int) {
  auto* self = static_cast<ClockWatch*>(h->data);
  if (!self || status < 0) return;
  uint64_t ticks;
  ssize_t n = read(self->fd_, &ticks, sizeof ticks);
  if (n < 0 && errno == EAGAIN) return;
  // ECANCELED: the clock was set. The timer must be armed again either way.
  self->arm();
  if (n < 0 && errno == ECANCELED) {
    log_info("clock: the wall clock was set (%s)", unsynchronised() ? "still not synchronised" : "synchronised");
    if (self->on_step_) self->on_step_();
  }
}

bool ClockWatch::unsynchronised() {
  timex tx = {};  // modes 0: read only, no privilege needed
  if (adjtimex(&tx) < 0) return false;
  return clockpolicy::unsynchronised(tx.status);
}

}  // namespace tether
