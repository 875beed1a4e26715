#include <sys/timex.h>

#include <catch2/catch.hpp>

#include "linkpolicy.hpp"

using namespace tether;
using Verdict = SpinDetector::Verdict;

namespace {

// n lines spread evenly over the second starting at sec*1000.
Verdict burst(SpinDetector& d, uint64_t sec, unsigned n) {
  Verdict last = Verdict::no;
  for (unsigned i = 0; i < n; ++i) {
    Verdict v = d.line(sec * 1000 + i * 1000 / n);
    if (v != Verdict::no) last = v;
  }
  return last;
}

}  // namespace

TEST_CASE("a child spinning above the rate for the whole window is caught once") {
  SpinDetector d;
  d.configure(100, 3);
  REQUIRE(burst(d, 10, 500) == Verdict::no);
  REQUIRE(burst(d, 11, 500) == Verdict::no);
  REQUIRE(burst(d, 12, 500) == Verdict::started);
  REQUIRE(d.in_episode());
  REQUIRE(d.rate() == 500);
  REQUIRE(burst(d, 13, 500) == Verdict::no);  // fired already: no second verdict
}

TEST_CASE("a quiet second breaks the streak; slow error lines never count") {
  SpinDetector d;
  d.configure(100, 3);
  REQUIRE(burst(d, 1, 500) == Verdict::no);
  REQUIRE(burst(d, 2, 500) == Verdict::no);
  REQUIRE(burst(d, 3, 10) == Verdict::no);  // calm
  REQUIRE(burst(d, 4, 500) == Verdict::no);
  REQUIRE(burst(d, 5, 500) == Verdict::no);
  REQUIRE(burst(d, 7, 500) == Verdict::no);  // a silent second in between
  for (uint64_t s = 20; s < 40; ++s) REQUIRE(burst(d, s, 50) == Verdict::no);
}

TEST_CASE("spinning again after a pause is the same episode until a calm second") {
  SpinDetector d;
  d.configure(100, 2);
  burst(d, 1, 300);
  REQUIRE(burst(d, 2, 300) == Verdict::started);
  d.rearm();  // paused for the backoff delay, then resumed
  burst(d, 10, 300);
  REQUIRE(burst(d, 11, 300) == Verdict::again);
  d.rearm();
  burst(d, 20, 5);
  burst(d, 21, 5);  // calm: the episode is over
  REQUIRE_FALSE(d.in_episode());
  burst(d, 22, 300);
  REQUIRE(burst(d, 23, 300) == Verdict::started);
  d.reset();
  REQUIRE_FALSE(d.in_episode());
}

TEST_CASE("a threshold of 0 turns the detector off") {
  SpinDetector d;
  d.configure(0, 3);
  for (uint64_t s = 0; s < 10; ++s) REQUIRE(burst(d, s, 5000) == Verdict::no);
}

TEST_CASE("QUIC is declared blocked after repeated dial timeouts while online only") {
  QuicBlockDetector q(3);
  REQUIRE_FALSE(q.dial_timeout(false));  // offline: a timeout says nothing about UDP
  REQUIRE_FALSE(q.dial_timeout(false));
  REQUIRE_FALSE(q.dial_timeout(false));
  REQUIRE_FALSE(q.dial_timeout(true));
  REQUIRE_FALSE(q.dial_timeout(true));
  q.connected();  // a registration in between: QUIC works
  REQUIRE(q.count() == 0);
  REQUIRE_FALSE(q.dial_timeout(true));
  REQUIRE_FALSE(q.dial_timeout(true));
  REQUIRE(q.dial_timeout(true));
  REQUIRE_FALSE(q.dial_timeout(true));  // once
  QuicBlockDetector off(0);
  for (int i = 0; i < 20; ++i) REQUIRE_FALSE(off.dial_timeout(true));
}

TEST_CASE("the HTTP/2 fallback lasts until cleared or for the retry period") {
  QuicFallback f;
  f.configure(3600 * 1000);
  REQUIRE_FALSE(f.active(5));
  f.declare(1000);
  REQUIRE(f.active(1000));
  REQUIRE(f.active(1000 + 3599 * 1000));
  REQUIRE_FALSE(f.active(1000 + 3600 * 1000));
  f.declare(10);
  f.clear();  // the network changed
  REQUIRE_FALSE(f.active(11));
}

TEST_CASE("clock policy: an unsynchronised clock and a certificate-validity error") {
  using namespace clockpolicy;
  REQUIRE(unsynchronised(STA_UNSYNC));
  REQUIRE(unsynchronised(STA_UNSYNC | STA_PLL));
  REQUIRE_FALSE(unsynchronised(STA_PLL));
  REQUIRE(is_clock_error(
      "2026-12-04T13:24:23Z ERR Failed to create new quic connection error=\"failed to dial to edge with quic: "
      "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time "
      "1970-01-01T00:00:42Z is before 2026-01-01T00:00:00Z\" connIndex=0 event=0 ip=198.41.200.13"));
  REQUIRE_FALSE(
      is_clock_error("ERR Failed to create new quic connection error=\"timeout: no recent network activity\""));
  REQUIRE(suspect(true, true));
  REQUIRE_FALSE(suspect(false, true));  // a synchronised clock: the certificate really is bad
  REQUIRE_FALSE(suspect(true, false));
  REQUIRE(on_step(true, false, false) == Action::respawn_now);  // waiting in backoff
  REQUIRE(on_step(true, true, false) == Action::restart_now);   // alive, still failing
  REQUIRE(on_step(true, true, true) == Action::none);           // connected after all
  REQUIRE(on_step(false, false, false) == Action::none);
}
