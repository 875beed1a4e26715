#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "framing.hpp"

using tether::RequestFramer;
using Kind = RequestFramer::Frame::Kind;

namespace {

// Every line next() hands out now, "<toolong>" for a toolong frame.
std::vector<std::string> take_all(RequestFramer& f) {
  std::vector<std::string> out;
  for (;;) {
    auto fr = f.next();
    if (fr.kind == Kind::none) return out;
    out.push_back(fr.kind == Kind::toolong ? "<toolong>" : fr.line);
  }
}

std::string numbered_lines(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += "l" + std::to_string(i) + "\n";
  return s;
}

}  // namespace

TEST_CASE("framing: whole lines come out in order, partial lines wait") {
  RequestFramer f(100, 64);
  f.feed("ping\r\nli");
  REQUIRE(take_all(f) == std::vector<std::string>{"ping"});
  f.feed("st\n\n");
  REQUIRE(take_all(f) == std::vector<std::string>{"list", ""});
  REQUIRE(f.wants_input());
  REQUIRE_FALSE(f.drained());
}

TEST_CASE("framing gate: at most max_queued lines are split out, the rest is held raw") {
  RequestFramer f(100, 8);
  f.feed(numbered_lines(100));
  REQUIRE(f.pending());
  REQUIRE(f.holding_input());
  REQUIRE_FALSE(f.wants_input());  // reading pauses while input is held
  std::vector<std::string> got = take_all(f);
  REQUIRE(got.size() == 100);
  for (int i = 0; i < 100; ++i) REQUIRE(got[static_cast<size_t>(i)] == "l" + std::to_string(i));
  REQUIRE_FALSE(f.holding_input());
  REQUIRE(f.wants_input());
}

TEST_CASE("framing gate: held input is split again only once fewer than half wait") {
  RequestFramer f(100, 8);
  f.feed(numbered_lines(20));
  // 8 queued; taking 4 leaves exactly half: nothing more is split yet.
  for (int i = 0; i < 4; ++i) REQUIRE(f.next().line == "l" + std::to_string(i));
  REQUIRE(f.holding_input());
  // One more leaves 3: the queue is filled up again.
  REQUIRE(f.next().line == "l4");
  REQUIRE(f.holding_input());  // 20 lines: 5 taken, 8 queued, 7 still raw
  std::vector<std::string> rest = take_all(f);
  REQUIRE(rest.size() == 15);
  REQUIRE(rest.back() == "l19");
}

TEST_CASE("framing gate: an over-long line is the last frame, nothing after it is taken") {
  RequestFramer f(8, 64);
  f.feed("ok\n" + std::string(20, 'x') + "\nafter\n");
  REQUIRE(take_all(f) == std::vector<std::string>{"ok", "<toolong>"});
  REQUIRE_FALSE(f.wants_input());
  REQUIRE_FALSE(f.holding_input());
  f.feed("more\n");
  REQUIRE(take_all(f).empty());
  f.end_of_input();
  REQUIRE(take_all(f).empty());  // and no unterminated last line either
}

TEST_CASE("framing gate: an endless line is cut before its newline arrives") {
  RequestFramer f(8, 64);
  f.feed(std::string(1 << 16, 'x'));
  REQUIRE(take_all(f) == std::vector<std::string>{"<toolong>"});
  REQUIRE_FALSE(f.wants_input());
}

TEST_CASE("framing gate: the unterminated last line is a request at end of input, once") {
  RequestFramer f(100, 64);
  f.feed("ping\nstatus 8080");
  REQUIRE(take_all(f) == std::vector<std::string>{"ping"});
  REQUIRE_FALSE(f.drained());
  f.end_of_input();
  REQUIRE_FALSE(f.wants_input());
  REQUIRE(take_all(f) == std::vector<std::string>{"status 8080"});
  REQUIRE(f.drained());
  REQUIRE(take_all(f).empty());
}

TEST_CASE("framing gate: at end of input the last line waits behind the queued ones") {
  RequestFramer f(100, 8);
  f.feed(numbered_lines(10) + "tail");
  f.end_of_input();
  std::vector<std::string> got = take_all(f);
  REQUIRE(got.size() == 11);
  REQUIRE(got[9] == "l9");
  REQUIRE(got[10] == "tail");
  REQUIRE(f.drained());
}

TEST_CASE("framing: end of input with nothing buffered is drained at once") {
  RequestFramer f(100, 64);
  f.end_of_input();
  REQUIRE(take_all(f).empty());
  REQUIRE(f.drained());
}

TEST_CASE("framing: clear drops queued lines, held input and the unterminated line") {
  RequestFramer f(100, 4);
  f.feed(numbered_lines(10) + "partial");
  f.clear();
  REQUIRE_FALSE(f.pending());
  REQUIRE_FALSE(f.holding_input());
  REQUIRE(f.wants_input());  // a watch stream still notices the client leaving
  f.end_of_input();
  REQUIRE(take_all(f).empty());
  REQUIRE(f.drained());
}
