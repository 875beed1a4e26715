// The pure decisions of network-aware healing: when a child is spinning,
// when QUIC counts as blocked, and what the clock has to do with a TLS
// failure. No loop and no clock of their own (the supervisor passes
// uv_now() in milliseconds), so every rule is a unit test; the supervisor
// only carries the decisions out.
#pragma once

#include <cstdint>
#include <string_view>

namespace tether {

// A child that prints error lines faster than `lines_per_s` for `for_s`
// seconds in a row is spinning (cloudflared re-dials a single static edge
// with no pause: thousands of lines a second). Seconds are counted in
// whole buckets of uv_now() / 1000.
class SpinDetector {
 public:
  enum class Verdict { no, started, again };  // started: the first of an episode

  void configure(unsigned lines_per_s, unsigned for_s) {
    threshold_ = lines_per_s;
    for_s_ = for_s;
  }
  // One error line at now_ms. Fires at most once until rearm().
  Verdict line(uint64_t now_ms);
  // After the child was paused and resumed: it must spin for for_s again.
  void rearm();
  // The child is gone: the next one starts a new episode.
  void reset();
  bool in_episode() const { return episode_; }
  // Lines in the last complete second (or the current one, if more).
  unsigned rate() const { return count_ > last_ ? count_ : last_; }

 private:
  unsigned threshold_ = 0, for_s_ = 0;
  uint64_t second_ = 0;
  unsigned count_ = 0, last_ = 0, streak_ = 0;
  bool fired_ = false, episode_ = false;
};

// QUIC dials that time out again and again while a route exists mean UDP
// to the edge is dropped somewhere (cloudflared's own fallback needs 9
// failures and several edge addresses). Counted per child.
class QuicBlockDetector {
 public:
  explicit QuicBlockDetector(unsigned after = 3) : after_(after) {}
  void configure(unsigned after) { after_ = after; }
  // A QUIC dial timed out; online: the agent sees a route. True once, when
  // the count reaches `after` (0: never).
  bool dial_timeout(bool online);
  // A connection registered: QUIC (or whatever it used) works.
  void connected() { count_ = 0; }
  void reset() { count_ = 0; }
  unsigned count() const { return count_; }

 private:
  unsigned after_;
  unsigned count_ = 0;
};

// Agent-wide: once QUIC is declared blocked, children spawn with
// --protocol http2 until the network changes or `retry_ms` have passed.
class QuicFallback {
 public:
  void configure(uint64_t retry_ms) { retry_ms_ = retry_ms; }
  void declare(uint64_t now_ms) {
    active_ = true;
    since_ = now_ms;
  }
  void clear() { active_ = false; }
  bool active(uint64_t now_ms) const { return active_ && now_ms - since_ < retry_ms_; }

 private:
  uint64_t retry_ms_ = 3600 * 1000;
  uint64_t since_ = 0;
  bool active_ = false;
};

// Boards without a real-time clock boot in 1970 (or at the last fake-hwclock
// save): every certificate looks expired or not yet valid and cloudflared's
// TLS fails until NTP steps the clock.
namespace clockpolicy {

// The kernel's own word: adjtimex() status with STA_UNSYNC set.
bool unsynchronised(int adjtimex_status);
// A cloudflared line that blames a certificate's validity period.
bool is_clock_error(std::string_view line);
// The tunnel's trouble is the clock: such an error while unsynchronised.
inline bool suspect(bool unsynced, bool saw_clock_error) { return unsynced && saw_clock_error; }

// When the clock steps (timerfd cancelled), what a tunnel that saw a
// clock error needs: a respawn now instead of after its backoff delay, or
// a restart of a child that is still not connected.
enum class Action { none, respawn_now, restart_now };
Action on_step(bool saw_clock_error, bool has_child, bool connected);

}  // namespace clockpolicy

}  // namespace tether
