#include "linkpolicy.hpp"

#include <sys/timex.h>

namespace tether {

SpinDetector::Verdict SpinDetector::line(uint64_t now_ms) {
  uint64_t sec = now_ms / 1000;
  if (sec != second_) {
    if (count_ > 0) {
      bool hot = count_ >= threshold_;
      streak_ = hot && sec == second_ + 1 ? streak_ + 1 : 0;
      if (!hot) episode_ = false;  // a calm second ends the episode
      last_ = sec == second_ + 1 ? count_ : 0;
    }
    second_ = sec;
    count_ = 0;
  }
  ++count_;
  if (fired_ || threshold_ == 0 || for_s_ == 0) return Verdict::no;
  if (count_ < threshold_ || streak_ + 1 < for_s_) return Verdict::no;
  fired_ = true;
  bool first = !episode_;
  episode_ = true;
  return first ? Verdict::started : Verdict::again;
}

void SpinDetector::rearm() {
  fired_ = false;
  streak_ = 0;
  count_ = 0;
  last_ = 0;
}

void SpinDetector::reset() {
  rearm();
  episode_ = false;
}

bool QuicBlockDetector::dial_timeout(bool online) {
  if (!online || after_ == 0) return false;
  return ++count_ == after_;
}

namespace clockpolicy {

bool unsynchronised(int adjtimex_status) { return (adjtimex_status & STA_UNSYNC) != 0; }

bool is_clock_error(std::string_view line) {
  return line.find("x509: certificate has expired or is not yet valid") != std::string_view::npos ||
         line.find("x509: certificate is not yet valid") != std::string_view::npos;
}

Action on_step(bool saw_clock_error, bool has_child, bool connected) {
  if (!saw_clock_error) return Action::none;
  if (!has_child) return Action::respawn_now;
  return connected ? Action::none : Action::restart_now;
}

}  // namespace clockpolicy

}  // namespace tether
