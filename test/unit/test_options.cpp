#include <catch2/catch.hpp>

#include "options.hpp"

using namespace tether;

TEST_CASE("defaults") {
  Options o;
  REQUIRE(parse_options({}, &o).empty());
  REQUIRE(o.config == "/etc/tether/tether.ini");
  REQUIRE_FALSE(o.config_given);
}

TEST_CASE("every flag, in both spellings") {
  Options o;
  REQUIRE(parse_options({"-c", "a.ini", "--socket", "/tmp/s", "--state-dir=/tmp/st", "--cloudflared", "/opt/cf",
                         "--log-level=debug", "--pidfile", "/tmp/p", "--log-file", "/tmp/l", "--check-config"},
                        &o)
              .empty());
  REQUIRE(o.config == "a.ini");
  REQUIRE(o.config_given);
  REQUIRE(o.socket == "/tmp/s");
  REQUIRE(o.state_dir == "/tmp/st");
  REQUIRE(o.cloudflared == "/opt/cf");
  REQUIRE(o.log_level == "debug");
  REQUIRE(o.pidfile == "/tmp/p");
  REQUIRE(o.log_file == "/tmp/l");
  REQUIRE(o.check_config);
  Options o2;
  REQUIRE(parse_options({"--config=b.ini", "--version", "-h"}, &o2).empty());
  REQUIRE(o2.config == "b.ini");
  REQUIRE(o2.version);
  REQUIRE(o2.help);
}

TEST_CASE("bad command lines say what is wrong") {
  Options o;
  REQUIRE(parse_options({"--bogus"}, &o) == "unknown option '--bogus' (try --help)");
  REQUIRE(parse_options({"--socket"}, &o) == "--socket needs a value");
}

TEST_CASE("flags override the file") {
  Options o;
  parse_options({"--socket", "/tmp/x.sock", "--log-level", "warn", "--cloudflared", "/bin/cf"}, &o);
  Config c;
  REQUIRE(apply_options(o, &c).empty());
  REQUIRE(c.agent.socket == "/tmp/x.sock");
  REQUIRE(c.agent.log_level == LogLevel::warn);
  REQUIRE(c.cloudflared.path == "/bin/cf");
  Options bad;
  parse_options({"--log-level", "loud"}, &bad);
  REQUIRE(apply_options(bad, &c).find("'loud' is not one of") != std::string::npos);
}
