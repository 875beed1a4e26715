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

TEST_CASE("replies of the wrong type are unreadable, never an exception") {
  CfReply r = parse_cf_reply(200, R"({"success":"true","errors":[],"result":{"status":"active"}})", CfShape::object);
  REQUIRE_FALSE(r.ok);
  REQUIRE_FALSE(r.readable);
  REQUIRE(r.error.message == "unreadable reply (HTTP 200, not a Cloudflare JSON envelope)");

  r = parse_cf_reply(400, R"({"success":false,"errors":[{"code":1000,"message":null}]})", CfShape::any);
  REQUIRE(r.readable);
  REQUIRE(r.error.code == 1000);
  REQUIRE(r.error.message == "(no message)");

  r = parse_cf_reply(400, R"({"success":false,"errors":[{"code":"1000","message":7}]})", CfShape::any);
  REQUIRE(r.error.code == 0);
  REQUIRE(r.error.message == "(no message)");

  r = parse_cf_reply(200, R"({"success":true,"errors":"none","result":[]})", CfShape::array);
  REQUIRE_FALSE(r.readable);

  r = parse_cf_reply(200, R"({"success":true,"errors":[],"result":{"id":"x"}})", CfShape::array);
  REQUIRE_FALSE(r.ok);
  REQUIRE_FALSE(r.readable);
  REQUIRE(r.error.message == "unreadable reply (HTTP 200, its result is not a list)");

  r = parse_cf_reply(200, R"({"success":true,"errors":[],"result":"tok"})", CfShape::string);
  REQUIRE(r.ok);
  REQUIRE(r.result == "tok");
}

TEST_CASE("Cloudflare's error text is capped") {
  std::string body = R"({"success":false,"errors":[{"code":9,"message":")" + std::string(5000, 'x') + R"("}]})";
  CfReply r = parse_cf_reply(400, body, CfShape::any);
  REQUIRE(r.error.message.size() == kMaxErrorText + 3);
}

TEST_CASE("retry delays: retry-after, minutes for a bare 429, backoff otherwise") {
  auto no_jitter = [] { return 0.5; };
  Backoff b = cf_call_backoff(no_jitter);
  REQUIRE(cf_retry_delay_ms(429, 3000, b) == 3000);
  REQUIRE(cf_retry_delay_ms(429, 900000, b) == 300000);
  b.reset();
  REQUIRE(cf_retry_delay_ms(429, 0, b) == 60000);
  REQUIRE(cf_retry_delay_ms(429, 0, b) == 120000);
  REQUIRE(cf_retry_delay_ms(429, 0, b) == 240000);
  REQUIRE(cf_retry_delay_ms(429, 0, b) == 300000);
  for (int i = 0; i < 36; ++i) cf_retry_delay_ms(429, 0, b);
  REQUIRE(b.attempts() == 40);
  REQUIRE(cf_retry_delay_ms(429, 0, b) == 300000);
  b.reset();
  uint64_t d = cf_retry_delay_ms(503, 0, b);
  REQUIRE(d >= 400);
  REQUIRE(d <= 600);
  for (int i = 0; i < 8; ++i) cf_retry_delay_ms(503, 0, b);
  REQUIRE(cf_retry_delay_ms(503, 0, b) <= 8000);
}
