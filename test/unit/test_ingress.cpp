#include <catch2/catch.hpp>

#include "ingress.hpp"

using namespace tether;

TEST_CASE("a route line names a host, a service and options") {
  Route r;
  std::string err;
  REQUIRE(parse_route("video.example.com -> http://localhost:8080", &r, &err));
  REQUIRE(r.hostname == "video.example.com");
  REQUIRE(r.service == "http://localhost:8080");
  REQUIRE_FALSE(r.no_tls_verify);

  REQUIRE(parse_route("  ui.example.com->https://127.0.0.1:8443  noTLSVerify httpHostHeader=ui.local connectTimeout=5 ",
                      &r, &err));
  REQUIRE(r.hostname == "ui.example.com");
  REQUIRE(r.service == "https://127.0.0.1:8443");
  REQUIRE(r.no_tls_verify);
  REQUIRE(r.http_host_header == "ui.local");
  REQUIRE(r.connect_timeout_s == 5);
}

TEST_CASE("bad route lines say what is wrong and how to write them") {
  Route r;
  std::string err;
  REQUIRE_FALSE(parse_route("video.example.com http://localhost:8080", &r, &err));
  REQUIRE(err.find("needs '->'") != std::string::npos);
  REQUIRE(err.find("HOST -> SERVICE") != std::string::npos);
  REQUIRE_FALSE(parse_route("video.example.com -> ", &r, &err));
  REQUIRE(err == "route video.example.com has no service; write HOST -> SERVICE [noTLSVerify] "
                 "[httpHostHeader=NAME] [connectTimeout=SECONDS]");
  REQUIRE_FALSE(parse_route("Video.example.com -> http://localhost:1", &r, &err));
  REQUIRE(err.find("lower case") != std::string::npos);
  REQUIRE_FALSE(parse_route("v.example.com -> http://localhost:1 fast", &r, &err));
  REQUIRE(err.find("unknown or malformed option 'fast'") != std::string::npos);
  REQUIRE_FALSE(parse_route("v.example.com -> http://localhost:1 connectTimeout=0", &r, &err));
  REQUIRE_FALSE(parse_route("v.example.com -> http://localhost:1 connectTimeout=abc", &r, &err));
}

TEST_CASE("every service form cloudflared serves is accepted") {
  std::string err;
  for (const char* ok : {"http://localhost:8080", "http://localhost", "https://10.0.0.1:443/base", "tcp://localhost:5760",
                         "ssh://localhost:22", "unix:/run/video.sock", "unix+tls:/run/ui.sock", "http_status:404",
                         "http://[::1]:8080"}) {
    INFO(ok);
    REQUIRE(valid_service(ok, &err));
  }
}

TEST_CASE("services cloudflared cannot serve are refused with the forms it can") {
  std::string err;
  for (const char* bad : {"localhost:8080", "ftp://x:21", "tcp://localhost", "ssh://localhost:22/x", "unix:relative",
                          "http_status:99", "http_status:abc", "http://localhost:0", "http://localhost:70000",
                          "http://:80", ""}) {
    INFO(bad);
    REQUIRE_FALSE(valid_service(bad, &err));
    REQUIRE(err.find("use http://HOST:PORT") != std::string::npos);
  }
}

TEST_CASE("host names follow DNS rules") {
  std::string err;
  REQUIRE(valid_hostname("drone-7.example.com", &err));
  REQUIRE_FALSE(valid_hostname("example", &err));
  REQUIRE_FALSE(valid_hostname("-a.example.com", &err));
  REQUIRE_FALSE(valid_hostname("a..example.com", &err));
  REQUIRE_FALSE(valid_hostname("a_b.example.com", &err));
  REQUIRE_FALSE(valid_hostname(std::string(64, 'a') + ".example.com", &err));
  REQUIRE(err.find("63") != std::string::npos);
}

TEST_CASE("ingress rules keep the order and end with the catch-all") {
  Route a, b;
  std::string err;
  REQUIRE(parse_route("video.example.com -> http://localhost:8080", &a, &err));
  REQUIRE(parse_route("ui.example.com -> https://localhost:8443 noTLSVerify connectTimeout=3", &b, &err));
  nlohmann::json rules = ingress_rules({a, b});
  REQUIRE(rules.dump() ==
          R"([{"hostname":"video.example.com","service":"http://localhost:8080"},)"
          R"({"hostname":"ui.example.com","originRequest":{"connectTimeout":3,"noTLSVerify":true},)"
          R"("service":"https://localhost:8443"},{"service":"http_status:404"}])");
}
