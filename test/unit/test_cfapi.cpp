#include <catch2/catch.hpp>

#include "cfapi.hpp"

using namespace tether;

TEST_CASE("query strings percent-encode values") {
  REQUIRE(query_string({{"name", "drone-7"}, {"is_deleted", "false"}}) == "name=drone-7&is_deleted=false");
  REQUIRE(query_string({{"name.exact", "a b&c=d/é"}}) == "name.exact=a%20b%26c%3Dd%2F%C3%A9");
  REQUIRE(query_string({}).empty());
}

TEST_CASE("errors read as step, Cloudflare code and message") {
  CfError e{"create tunnel", 409, 1013, "You already have a tunnel with this name."};
  REQUIRE(e.text() == "create tunnel: 1013 You already have a tunnel with this name.");
  CfError transport{"find zone", 0, 0, "cannot reach the API: Couldn't connect to server"};
  REQUIRE(transport.text() == "find zone: cannot reach the API: Couldn't connect to server");
  CfReply r;
  r.codes = {81053, 1000};
  REQUIRE(r.has_code(1000));
  REQUIRE_FALSE(r.has_code(81058));
}
