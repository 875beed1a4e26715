#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "protocol.hpp"

using namespace tether;

TEST_CASE("a request is a verb and words, verb lower-cased") {
  auto r = parse_request("START 8080  nowait");
  REQUIRE(r.status == ParseStatus::ok);
  REQUIRE(r.request.verb == "start");
  REQUIRE(r.request.args == std::vector<std::string>{"8080", "nowait"});
  REQUIRE_FALSE(r.request.json);
}

TEST_CASE("tabs and runs of spaces separate words; leading and trailing space ignored") {
  auto r = parse_request(" \tlogs\t 8080   20 \t");
  REQUIRE(r.status == ParseStatus::ok);
  REQUIRE(r.request.verb == "logs");
  REQUIRE(r.request.args == std::vector<std::string>{"8080", "20"});
}

TEST_CASE("arguments keep their case") {
  auto r = parse_request("provision Drone-7 service=http://LOCALHOST:80");
  REQUIRE(r.request.args == std::vector<std::string>{"Drone-7", "service=http://LOCALHOST:80"});
}

TEST_CASE("blank lines are empty, not errors") {
  REQUIRE(parse_request("").status == ParseStatus::empty);
  REQUIRE(parse_request("   \t ").status == ParseStatus::empty);
}

TEST_CASE("the json prefix, any case") {
  auto r = parse_request("JSON list");
  REQUIRE(r.status == ParseStatus::ok);
  REQUIRE(r.request.json);
  REQUIRE(r.request.verb == "list");
  auto alone = parse_request("json");
  REQUIRE(alone.status == ParseStatus::invalid);
  REQUIRE(alone.error.find("json needs a command") != std::string::npos);
}

TEST_CASE("binary garbage is rejected with a usage message") {
  std::string garbage("pi\0ng\x01\x02", 7);
  auto r = parse_request(garbage);
  REQUIRE(r.status == ParseStatus::invalid);
  REQUIRE(r.error.find("control characters") != std::string::npos);
  REQUIRE(parse_request("\x7f").status == ParseStatus::invalid);
}

TEST_CASE("bytes above 0x7f are not control characters") {
  auto r = parse_request("start \xc3\xa9t\xc3\xa9");
  REQUIRE(r.status == ParseStatus::ok);
}

TEST_CASE("text replies: data lines then one status line") {
  Reply ok = Reply::Ok("2 tunnels");
  ok.lines = {"8080 quick running", "drone-7 named starting"};
  REQUIRE(format_text(ok) == "8080 quick running\ndrone-7 named starting\nOK 2 tunnels\n");
  REQUIRE(format_text(Reply::Ok()) == "OK\n");
  REQUIRE(format_text(Reply::Err("notfound", "no tunnel 9090")) == "ERR notfound no tunnel 9090\n");
}

TEST_CASE("data lines can never pose as a status line or break framing") {
  Reply r = Reply::Ok("done");
  r.lines = {"OK fake", "ERR fake", "two\nlines", "bell\x07"};
  REQUIRE(format_text(r) == " OK fake\n ERR fake\ntwo lines\nbell \nOK done\n");
  Reply e = Reply::Err("api", "multi\nline");
  REQUIRE(format_text(e) == "ERR api multi line\n");
}

TEST_CASE("json replies are one line") {
  Reply r = Reply::Ok("pong");
  auto s = format_json(r);
  REQUIRE(s.back() == '\n');
  REQUIRE(s.find('\n') == s.size() - 1);
  auto j = nlohmann::json::parse(s);
  REQUIRE(j["ok"] == true);
  REQUIRE(j["message"] == "pong");
}

TEST_CASE("json replies carry structured data, or the lines when there is none") {
  Reply list = Reply::Ok("1 tunnels");
  list.lines = {"8080 quick running"};
  list.data["tunnels"] = nlohmann::json::array({{{"id", "8080"}}});
  auto j = nlohmann::json::parse(format_json(list));
  REQUIRE(j["tunnels"][0]["id"] == "8080");
  REQUIRE_FALSE(j.contains("lines"));

  Reply logs = Reply::Ok("2 lines");
  logs.lines = {"a", "b"};
  j = nlohmann::json::parse(format_json(logs));
  REQUIRE(j["lines"] == nlohmann::json::array({"a", "b"}));
}

TEST_CASE("json errors") {
  auto j = nlohmann::json::parse(format_json(Reply::Err("usage", "start <port>")));
  REQUIRE(j["ok"] == false);
  REQUIRE(j["error"]["code"] == "usage");
  REQUIRE(j["error"]["message"] == "start <port>");
}

TEST_CASE("json survives invalid UTF-8 in child output") {
  Reply r = Reply::Ok("1 line");
  r.lines = {"bad \xff\xfe bytes"};
  REQUIRE_NOTHROW(nlohmann::json::parse(format_json(r)));
}

TEST_CASE("format_reply picks the form") {
  REQUIRE(format_reply(Reply::Ok("x"), false) == "OK x\n");
  REQUIRE(format_reply(Reply::Ok("x"), true).front() == '{');
}

TEST_CASE("printable escapes and cuts client words for messages") {
  REQUIRE(printable("frob") == "frob");
  REQUIRE(printable(std::string("a\0b", 3)) == "a\\x00b");
  REQUIRE(printable("it's") == "it\\x27s");
  REQUIRE(printable(std::string(100, 'x'), 10) == std::string(10, 'x') + "...");
}
