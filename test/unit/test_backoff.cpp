#include <catch2/catch.hpp>
#include <vector>

#include "backoff.hpp"

using namespace tether;

TEST_CASE("delays double from the initial value up to the cap") {
  // unit 0.5 is the middle of the jitter range: no jitter.
  REQUIRE(backoff_delay_ms(1, 500, 60000, 0.5) == 500);
  REQUIRE(backoff_delay_ms(2, 500, 60000, 0.5) == 1000);
  REQUIRE(backoff_delay_ms(3, 500, 60000, 0.5) == 2000);
  REQUIRE(backoff_delay_ms(8, 500, 60000, 0.5) == 60000);
  REQUIRE(backoff_delay_ms(1000, 500, 60000, 0.5) == 60000);
}

TEST_CASE("jitter is +-20% and never below the minimum nor above the cap") {
  REQUIRE(backoff_delay_ms(3, 500, 60000, 0.0) == 1600);
  REQUIRE(backoff_delay_ms(3, 500, 60000, 0.999999) == 2400);
  REQUIRE(backoff_delay_ms(1, 500, 60000, 0.0) == 500);  // not 400
  REQUIRE(backoff_delay_ms(1, 500, 60000, 1.0) == 600);
  REQUIRE(backoff_delay_ms(20, 500, 60000, 1.0) == 60000);  // not 72000
  REQUIRE(backoff_delay_ms(20, 500, 60000, 0.0) == 48000);
  for (int attempt = 1; attempt < 40; ++attempt)
    for (double u : {0.0, 0.25, 0.5, 0.75, 0.99}) {
      uint64_t d = backoff_delay_ms(attempt, 100, 3000, u);
      REQUIRE(d >= 100);
      REQUIRE(d <= 3000);
    }
}

TEST_CASE("equal initial and max give a fixed delay") {
  REQUIRE(backoff_delay_ms(1, 1000, 1000, 0.0) == 1000);
  REQUIRE(backoff_delay_ms(9, 1000, 1000, 0.99) == 1000);
}

TEST_CASE("a Backoff counts failures and doubles its delay until reset") {
  Backoff b(1000, 60000, [] { return 0.5; });
  REQUIRE(b.attempts() == 0);
  REQUIRE(b.next_delay_ms() == 1000);
  REQUIRE(b.next_delay_ms() == 2000);
  REQUIRE(b.next_delay_ms() == 4000);
  REQUIRE(b.attempts() == 3);
  for (int i = 0; i < 10; ++i) b.next_delay_ms();
  REQUIRE(b.next_delay_ms() == 60000);
  REQUIRE(b.attempts() == 14);
  b.reset();
  REQUIRE(b.attempts() == 0);
  REQUIRE(b.next_delay_ms() == 1000);
}

TEST_CASE("a Backoff takes its jitter from its unit source, one draw per delay") {
  std::vector<double> draws = {0.0, 0.999999, 0.5};
  size_t next = 0;
  Backoff b(500, 60000, [&] { return draws[next++]; });
  REQUIRE(b.next_delay_ms() == 500);   // 400, raised to the minimum
  REQUIRE(b.next_delay_ms() == 1200);  // 1000 + 20%
  REQUIRE(b.next_delay_ms() == 2000);
  REQUIRE(next == 3);
}

TEST_CASE("a Backoff without a unit source jitters within +-20%") {
  Backoff b(1000, 1000000);
  for (int i = 0; i < 100; ++i) {
    b.reset();
    for (int j = 0; j < 5; ++j) b.next_delay_ms();
    uint64_t d = b.next_delay_ms();  // 32 s before jitter
    REQUIRE(d >= 25600);
    REQUIRE(d <= 38400);
  }
}

TEST_CASE("restart window: never gives up with max_restarts 0") {
  RestartWindow w;
  for (uint64_t t = 0; t < 10000; ++t) REQUIRE_FALSE(w.record(t, 0, 600000));
  REQUIRE(w.count() <= 1);
}

TEST_CASE("restart window: gives up on the restart past the limit within the window") {
  RestartWindow w;
  REQUIRE_FALSE(w.record(0, 3, 1000));
  REQUIRE_FALSE(w.record(100, 3, 1000));
  REQUIRE_FALSE(w.record(200, 3, 1000));
  REQUIRE(w.record(300, 3, 1000));
}

TEST_CASE("restart window: old restarts fall out of the window") {
  RestartWindow w;
  REQUIRE_FALSE(w.record(0, 2, 1000));
  REQUIRE_FALSE(w.record(500, 2, 1000));
  REQUIRE_FALSE(w.record(1600, 2, 1000));  // the one at 0 and at 500 have expired
  REQUIRE_FALSE(w.record(1700, 2, 1000));
  REQUIRE(w.record(1800, 2, 1000));
}
