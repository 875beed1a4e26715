#include <catch2/catch.hpp>

#include "localconfig.hpp"
#include "testfiles.hpp"

using namespace tether;
using tether::test::TempDir;

namespace {

// As `cloudflared tunnel create` and the docs' examples leave it.
const char* kConfig = R"(# written by hand after 'cloudflared tunnel create drone-7'
tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef
credentials-file: "/root/.cloudflared/6ff42ae2-765d-4adf-8112-31c55c1551ef.json"
protocol: http2

ingress:
  - hostname: video.example.com
    service: http://localhost:8080
    originRequest:
      hostname: not-a-rule.example.com
      noTLSVerify: true
  - hostname: 'ssh.example.com'   # the flight computer
    service: ssh://localhost:22
  -
    hostname: ui.example.com
    service: http://localhost:80
  - service: http_status:404
warp-routing:
  enabled: false
)";

}  // namespace

TEST_CASE("a cloudflared config.yml gives the tunnel, its credentials and its host names") {
  LocalTunnel t;
  std::string err;
  REQUIRE(parse_local_config(kConfig, "/etc/cloudflared/config.yml", &t, &err));
  REQUIRE(t.tunnel == "6ff42ae2-765d-4adf-8112-31c55c1551ef");
  REQUIRE(t.credentials_file == "/root/.cloudflared/6ff42ae2-765d-4adf-8112-31c55c1551ef.json");
  REQUIRE(t.hostnames == std::vector<std::string>{"video.example.com", "ssh.example.com", "ui.example.com"});
}

TEST_CASE("what cannot be read is an error naming the file and line") {
  LocalTunnel t;
  std::string err;
  REQUIRE_FALSE(parse_local_config("ingress:\n  - service: http_status:404\n", "c.yml", &t, &err));
  REQUIRE(err == "c.yml:1: no 'tunnel:' key: is this the config.yml that 'cloudflared tunnel create' set up?");
  REQUIRE_FALSE(parse_local_config("tunnel: x\ningress:\n\t- hostname: a.example.com\n", "c.yml", &t, &err));
  REQUIRE(err == "c.yml:3: tabs cannot indent YAML; use spaces");
  REQUIRE_FALSE(parse_local_config("tunnel: \"x\n", "c.yml", &t, &err));
  REQUIRE(err == "c.yml:1: unterminated quoted value");
  REQUIRE_FALSE(parse_local_config("tunnel: x\njust words\n", "c.yml", &t, &err));
  REQUIRE(err == "c.yml:2: expected 'key: value' at the top level");
}

TEST_CASE("the file is read only when it is a regular file") {
  TempDir dir("localconfig");
  LocalTunnel t;
  std::string err;
  std::string path = dir.file("config.yml");
  tether::test::make_file(path, kConfig, 0644);
  REQUIRE(read_local_config(path, &t, &err));
  REQUIRE(t.hostnames.size() == 3);
  REQUIRE_FALSE(read_local_config(dir.path, &t, &err));
  REQUIRE(err == dir.path + ": not a regular file of at most 1 MiB");
  REQUIRE_FALSE(read_local_config(dir.path + "/missing.yml", &t, &err));
  REQUIRE(err == dir.path + "/missing.yml: No such file or directory");
}
