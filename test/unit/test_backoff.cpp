#include <catch2/catch.hpp>

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
  REQUIRE(backoff_delay_ms(1, 500, 60000, 0.0) == 500);   // not 400
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
