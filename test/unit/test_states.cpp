#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "tunnel.hpp"

using namespace tether;

// docs/DESIGN.md's "## Tunnel states" is the contract: exactly the names the
// code shows, no more, no less.
TEST_CASE("the tunnel states documented in docs/DESIGN.md are exactly the code's") {
  std::ifstream in(TETHER_SOURCE_DIR "/docs/DESIGN.md");
  REQUIRE(in);
  std::stringstream buf;
  buf << in.rdbuf();
  std::string text = buf.str();
  size_t start = text.find("\n## Tunnel states\n");
  REQUIRE(start != std::string::npos);
  size_t end = text.find("\n## ", start + 5);
  std::string section = text.substr(start, end - start);
  std::set<std::string> documented;
  std::regex item(R"(\n- `([a-z]+)`)");
  for (std::sregex_iterator it(section.begin(), section.end(), item), last; it != last; ++it)
    documented.insert((*it)[1]);
  std::set<std::string> code;
  for (TunnelState s : {TunnelState::starting, TunnelState::running, TunnelState::degraded, TunnelState::backoff,
                        TunnelState::stopping, TunnelState::failed, TunnelState::offline})
    code.insert(state_name(s));
  REQUIRE(documented == code);
}
