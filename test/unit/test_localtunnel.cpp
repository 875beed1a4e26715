#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "localtunnel.hpp"

using namespace tether;

namespace {

LocalTunnel read_ok(const std::string& text) {
  LocalTunnel t;
  std::vector<ConfigError> errs;
  bool ok = parse_local_tunnel(text, "c.yml", &t, &errs);
  for (const auto& e : errs) UNSCOPED_INFO(e.str());
  REQUIRE(ok);
  return t;
}

std::vector<std::string> errors_of(const std::string& text) {
  LocalTunnel t;
  std::vector<ConfigError> errs;
  REQUIRE_FALSE(parse_local_tunnel(text, "c.yml", &t, &errs));
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.str());
  return out;
}

void expect_error(const std::string& text, const std::string& expected) {
  auto errs = errors_of(text);
  INFO(text);
  REQUIRE(errs.size() == 1);
  REQUIRE(errs[0] == expected);
}

const std::string kSubset =
    " (tether reads block mappings, '- ' lists and plain or quoted one-line scalars; see docs/cloudflared.md §15)";

}  // namespace

TEST_CASE("the config.yml that 'cloudflared tunnel create' users write") {
  LocalTunnel t = read_ok(
      "tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef\n"
      "credentials-file: /root/.cloudflared/6ff42ae2-765d-4adf-8112-31c55c1551ef.json\n"
      "\n"
      "ingress:\n"
      "  - hostname: video.example.com\n"
      "    service: http://localhost:8080\n"
      "  - hostname: ssh.example.com   # the flight computer\n"
      "    service: ssh://localhost:22\n"
      "    originRequest:\n"
      "      connectTimeout: 10s\n"
      "      noTLSVerify: true\n"
      "  - service: http_status:404\n");
  REQUIRE(t.tunnel == "6ff42ae2-765d-4adf-8112-31c55c1551ef");
  REQUIRE(t.credentials_file == "/root/.cloudflared/6ff42ae2-765d-4adf-8112-31c55c1551ef.json");
  REQUIRE(t.ingress.size() == 2);
  REQUIRE(t.ingress[0].hostname == "video.example.com");
  REQUIRE(t.ingress[0].service == "http://localhost:8080");
  REQUIRE(t.ingress[0].line == 5);
  REQUIRE(t.ingress[1].hostname == "ssh.example.com");
  REQUIRE(t.ingress[1].service == "ssh://localhost:22");
}

TEST_CASE("other cloudflared settings are left alone, quotes and list styles are read") {
  LocalTunnel t = read_ok(
      "\xEF\xBB\xBF---\r\n"
      "# managed by hand\r\n"
      "tunnel: \"drone-7\"\r\n"
      "protocol: quic\r\n"
      "originRequest:\r\n"
      "  connectTimeout: 30s\r\n"
      "warp-routing:\r\n"
      "  enabled: false\r\n"
      "ingress:\r\n"
      "- hostname: 'ui.example.com'\r\n"
      "  path: ^/api\r\n"
      "  service: \"http://localhost:80\"\r\n"
      "- hostname: '*'\r\n"
      "  service: http_status:404\r\n");
  REQUIRE(t.tunnel == "drone-7");
  REQUIRE(t.credentials_file.empty());
  REQUIRE(t.ingress.size() == 1);
  REQUIRE(t.ingress[0].hostname == "ui.example.com");
  REQUIRE(t.ingress[0].service == "http://localhost:80");
  REQUIRE(read_ok("tunnel: x\n").ingress.empty());
  REQUIRE(read_ok("tunnel: 'it''s'\n").tunnel == "it's");
  REQUIRE(read_ok("tunnel: \"a\\\"b\"\n").tunnel == "a\"b");
}

TEST_CASE("what the reader cannot read is an error with file:line") {
  expect_error("ingress:\n  - service: http_status:404\n",
               "c.yml: no 'tunnel:' line; cloudflared needs the tunnel's id (from 'cloudflared tunnel create')");
  expect_error("tunnel: x\ningress: [{service: http_status:404}]\n",
               "c.yml:2: 'ingress:' must be followed by its rules on the lines below, one '- ' each" + kSubset);
  expect_error("tunnel: &id x\n", "c.yml:1: 'tunnel': '&id x' is not a one-line scalar" + kSubset);
  expect_error("tunnel: |\n  x\n", "c.yml:1: 'tunnel': '|' is not a one-line scalar" + kSubset);
  expect_error("tunnel: 'x\n", "c.yml:1: 'tunnel': a quoted value must end on the same line with its quote");
  expect_error("tunnel: \"a\\nb\"\n", "c.yml:1: 'tunnel': only \\\" and \\\\ escapes are read" + kSubset);
  expect_error("tunnel:\n", "c.yml:1: 'tunnel' has no value");
  expect_error("tunnel: x\n\tprotocol: quic\n", "c.yml:2: a tab in the indentation (YAML indents with spaces only)");
  REQUIRE(errors_of("  tunnel: x\n") ==
          std::vector<std::string>{"c.yml:1: indented line outside any block" + kSubset,
                                   "c.yml: no 'tunnel:' line; cloudflared needs the tunnel's id (from 'cloudflared "
                                   "tunnel create')"});
  expect_error("tunnel: x\n  y\n", "c.yml:2: 'tunnel': a value continued on the next line" + kSubset);
  expect_error("tunnel: x\njust words\n", "c.yml:2: expected 'key: value', got 'just words'" + kSubset);
  expect_error("tunnel: x\n---\ntunnel: y\n", "c.yml:2: a second YAML document; cloudflared reads only one");
  expect_error("tunnel: x\ntunnel: y\n", "c.yml:2: 'tunnel:' appears twice");
  expect_error(std::string("tunnel: x\0\n", 11), "c.yml:1: line contains a NUL byte");
}

TEST_CASE("ingress rules are checked as cloudflared checks them") {
  expect_error("tunnel: x\ningress:\n  - hostname: a.example.com\n    service: http://localhost:80\n",
               "c.yml:3: the last ingress rule must match everything (no hostname, no path), e.g. "
               "'- service: http_status:404'; cloudflared refuses the file otherwise");
  expect_error("tunnel: x\ningress:\n  - hostname: a.example.com\n  - service: http_status:404\n",
               "c.yml:3: ingress rule without 'service:'");
  expect_error("tunnel: x\ningress:\n  - service: http_status:404\n    path: /x\n",
               "c.yml:3: the last ingress rule must match everything (no hostname, no path), e.g. "
               "'- service: http_status:404'; cloudflared refuses the file otherwise");
  expect_error("tunnel: x\ningress:\n  - service: http_status:404\n - service: http_status:503\n",
               "c.yml:4: expected a rule starting with '- ' at column 3" + kSubset);
  expect_error("tunnel: x\ningress:\n  - service: http_status:404\n   path: x\n",
               "c.yml:4: indented neither as a rule's key nor inside one" + kSubset);
  expect_error("tunnel: x\ningress:\n  - service: http_status:404\n  hostname: a.example.com\n",
               "c.yml:4: expected a rule starting with '- ' at column 3" + kSubset);
  expect_error("tunnel: x\ningress:\n  -\n  - service: http_status:404\n",
               "c.yml:3: a rule must begin on its '- ' line, e.g. '- hostname: NAME' with 'service: URL' below it");
}

TEST_CASE("a missing config.yml is an error about the file") {
  LocalTunnel t;
  std::vector<ConfigError> errs;
  REQUIRE_FALSE(load_local_tunnel("/nonexistent/config.yml", &t, &errs));
  REQUIRE(errs.size() == 1);
  REQUIRE(errs[0].str() == "/nonexistent/config.yml: cannot open: No such file or directory");
}
