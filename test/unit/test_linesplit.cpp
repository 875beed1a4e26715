#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "linesplit.hpp"

using tether::LineSplitter;

namespace {

struct Collected {
  std::vector<std::string> lines;
  std::vector<bool> truncated;
};

Collected feed_all(LineSplitter& s, const std::vector<std::string>& chunks, bool finish = false) {
  Collected c;
  auto on = [&](std::string_view l, bool t) {
    c.lines.emplace_back(l);
    c.truncated.push_back(t);
  };
  for (const auto& ch : chunks) s.feed(ch, on);
  if (finish) s.finish(on);
  return c;
}

}  // namespace

TEST_CASE("lines split on LF and CRLF, partial lines kept across reads") {
  LineSplitter s(100);
  auto c = feed_all(s, {"pi", "ng\r", "\nlist\nsta", "tus 8080\n"});
  REQUIRE(c.lines == std::vector<std::string>{"ping", "list", "status 8080"});
  REQUIRE(c.truncated == std::vector<bool>{false, false, false});
}

TEST_CASE("empty lines are delivered as empty") {
  LineSplitter s(100);
  auto c = feed_all(s, {"\n\r\nx\n"});
  REQUIRE(c.lines == std::vector<std::string>{"", "", "x"});
}

TEST_CASE("an unterminated last line is delivered only by finish") {
  LineSplitter s(100);
  REQUIRE(feed_all(s, {"ping"}).lines.empty());
  auto c = feed_all(s, {}, true);
  REQUIRE(c.lines == std::vector<std::string>{"ping"});
}

TEST_CASE("a line of exactly the limit passes, with or without CR") {
  LineSplitter s(4);
  auto c = feed_all(s, {"abcd\n", "wxyz\r", "\n"});
  REQUIRE(c.lines == std::vector<std::string>{"abcd", "wxyz"});
  REQUIRE(c.truncated == std::vector<bool>{false, false});
}

TEST_CASE("an over-long line is cut once, the rest skipped to its newline") {
  LineSplitter s(4);
  auto c = feed_all(s, {"abcdefgh", "ijkl", "mnop\nnext\n"});
  REQUIRE(c.lines == std::vector<std::string>{"abcd", "next"});
  REQUIRE(c.truncated == std::vector<bool>{true, false});
}

TEST_CASE("an over-long line arriving whole with its newline is cut") {
  LineSplitter s(4);
  auto c = feed_all(s, {"abcdefgh\nok\n"});
  REQUIRE(c.lines == std::vector<std::string>{"abcd", "ok"});
  REQUIRE(c.truncated == std::vector<bool>{true, false});
}

TEST_CASE("a CR inside a line is content, not a terminator") {
  LineSplitter s(100);
  auto c = feed_all(s, {"a\rb\n"});
  REQUIRE(c.lines == std::vector<std::string>{"a\rb"});
}

TEST_CASE("memory stays bounded by the limit for an endless line") {
  LineSplitter s(8);
  std::string big(1 << 20, 'x');
  auto c = feed_all(s, {big, big, "\nafter\n"});
  REQUIRE(c.lines.size() == 2);
  REQUIRE(c.lines[0] == "xxxxxxxx");
  REQUIRE(c.lines[1] == "after");
}
