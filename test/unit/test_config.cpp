#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "config.hpp"

using namespace tether;

namespace {

std::vector<std::string> errors_of(const std::string& text) {
  Config c;
  std::vector<ConfigError> errs;
  parse_config(text, "t.ini", &c, &errs);
  std::vector<std::string> out;
  for (const auto& e : errs) out.push_back(e.str());
  return out;
}

Config parsed(const std::string& text) {
  Config c;
  std::vector<ConfigError> errs;
  bool ok = parse_config(text, "t.ini", &c, &errs);
  for (const auto& e : errs) UNSCOPED_INFO(e.str());
  REQUIRE(ok);
  return c;
}

// The one error of `text`, which must be exactly that.
void expect_error(const std::string& text, const std::string& expected) {
  auto errs = errors_of(text);
  INFO(text);
  REQUIRE(errs.size() == 1);
  REQUIRE(errs[0] == expected);
}

}  // namespace

TEST_CASE("an empty file gives the documented defaults") {
  Config c = parsed("");
  REQUIRE(c.agent.socket == "/run/tether/tether.sock");
  REQUIRE(c.agent.socket_mode == 0660);
  REQUIRE(c.agent.state_dir == "/run/tether");
  REQUIRE(c.agent.log_level == LogLevel::info);
  REQUIRE(c.agent.pidfile.empty());
  REQUIRE(c.agent.allow_uids.empty());
  REQUIRE(c.cloudflared.path == "cloudflared");
  REQUIRE(c.cloudflared.protocol == "auto");
  REQUIRE(c.cloudflared.extra_args.empty());
  REQUIRE(c.cloudflared.metrics);
  REQUIRE(c.watchdog.backoff_initial_ms == 500);
  REQUIRE(c.watchdog.backoff_max_ms == 60000);
  REQUIRE(c.watchdog.stable_after_s == 60);
  REQUIRE(c.watchdog.unhealthy_after_s == 120);
  REQUIRE(c.watchdog.stop_grace_s == 10);
  REQUIRE(c.watchdog.start_wait_s == 30);
  REQUIRE(c.watchdog.max_restarts == 0);
  REQUIRE(c.watchdog.restart_window_s == 600);
  REQUIRE(c.cloudflare.api_base == "https://api.cloudflare.com/client/v4");
  REQUIRE(c.cloudflare.api_token_env == "CLOUDFLARE_API_TOKEN");
  REQUIRE(c.cloudflare.env_file == "/etc/tether/tunnels.env");
  REQUIRE(c.cloudflare.request_timeout_s == 15);
  REQUIRE(c.notify.telegram_api_base == "https://api.telegram.org");
  REQUIRE_FALSE(c.telegram.enabled);
  REQUIRE(c.telegram.poll_timeout_s == 50);
  REQUIRE(c.network.require == "default-route");
  REQUIRE(c.network.offline_action == "pause");
  REQUIRE(c.network.reconnect_grace_s == 10);
  REQUIRE(c.network.spin_lines_per_s == 200);
  REQUIRE(c.network.spin_after_s == 3);
  REQUIRE(c.network.quic_fallback_after == 3);
  REQUIRE(c.network.quic_retry_s == 3600);
  REQUIRE(c.tunnels.empty());
}

TEST_CASE("the [network] section: every key, and its errors with file:line") {
  Config c = parsed(
      "[network]\nrequire = any-route\noffline_action = stop\nreconnect_grace_s = 0\nspin_lines_per_s = 50\n"
      "spin_after_s = 2\nquic_fallback_after = 5\nquic_retry_s = 600\n");
  REQUIRE(c.network.require == "any-route");
  REQUIRE(c.network.offline_action == "stop");
  REQUIRE(c.network.reconnect_grace_s == 0);
  REQUIRE(c.network.spin_lines_per_s == 50);
  REQUIRE(c.network.spin_after_s == 2);
  REQUIRE(c.network.quic_fallback_after == 5);
  REQUIRE(c.network.quic_retry_s == 600);
  expect_error("[network]\nrequire = default\n",
               "t.ini:2: [network] require: 'default' is not one of: default-route, any-route, none");
  expect_error("[network]\n\noffline_action = kill\n",
               "t.ini:3: [network] offline_action: 'kill' is not one of: pause, stop, none");
  expect_error("[network]\nreconnect_grace_s = -1\n",
               "t.ini:2: [network] reconnect_grace_s: -1 is out of range (expected 0-3600 s)");
  expect_error("[network]\nspin_after_s = 0\n", "t.ini:2: [network] spin_after_s: 0 is out of range (expected 1-60 s)");
  expect_error("[network]\nquic_retry_s = soon\n",
               "t.ini:2: [network] quic_retry_s: 'soon' is not a number (expected 60-86400 s)");
  expect_error("[network]\nwatch = yes\n",
               "t.ini:2: unknown key 'watch' in [network] (known: offline_action, quic_fallback_after, "
               "quic_retry_s, reconnect_grace_s, require, spin_after_s, spin_lines_per_s)");
}

TEST_CASE("the shipped example config is valid and all defaults") {
  Config c;
  std::vector<ConfigError> errs;
  REQUIRE(load_config(TETHER_SOURCE_DIR "/conf/tether.ini", &c, &errs));
  REQUIRE(c.agent.socket == "/run/tether/tether.sock");
  REQUIRE(c.tunnels.empty());
}

TEST_CASE("every key is read") {
  Config c = parsed(
      "[agent]\nsocket = /tmp/t.sock\nsocket_mode = 0600\nstate_dir = /tmp/st\nlog_level = debug\n"
      "pidfile = /tmp/t.pid\nallow_uids = 1000, root\nmax_clients = 8\n"
      "[cloudflared]\npath = /usr/local/bin/cloudflared\nprotocol = http2\n"
      "extra_args = --edge-ip-version 4  --region us\nmetrics = no\n"
      "[watchdog]\nbackoff_initial_ms = 100\nbackoff_max_ms = 2000\nstable_after_s = 5\n"
      "unhealthy_after_s = 0\nstop_grace_s = 3\nstart_wait_s = 7\nmax_restarts = 4\nrestart_window_s = 60\n"
      "[cloudflare]\napi_base = http://127.0.0.1:9/client/v4\napi_token_env = CF_TOKEN\n"
      "api_token_file = /etc/tether/api.token\naccount_id = 0123456789abcdef0123456789abcdef\n"
      "zone = example.com\nenv_file = /tmp/t.env\nrequest_timeout_s = 3\n"
      "[notify]\nwebhook = https://hooks.example.com/x\ntelegram_bot_token_env = NOTIFY_BOT\n"
      "telegram_chat_id = -1001234\ntelegram_api_base = http://127.0.0.1:8/\n"
      "[telegram]\nbot_token_env = BOT\nallowed_chat_ids = -100123, 42\nallowed_user_ids = 7\n"
      "api_base = http://127.0.0.1:7\npoll_timeout_s = 2\n"
      "[tunnel cam]\ntype = quick\nport = 8080\nautostart = yes\n"
      "[tunnel drone-7]\nservice = http://localhost:8000\n");
  REQUIRE(c.agent.socket == "/tmp/t.sock");
  REQUIRE(c.agent.socket_mode == 0600);
  REQUIRE(c.agent.log_level == LogLevel::debug);
  REQUIRE(c.agent.allow_uids == std::vector<uid_t>{1000, 0});
  REQUIRE(c.agent.max_clients == 8);
  REQUIRE(c.cloudflared.protocol == "http2");
  REQUIRE(c.cloudflared.extra_args == std::vector<std::string>{"--edge-ip-version", "4", "--region", "us"});
  REQUIRE_FALSE(c.cloudflared.metrics);
  REQUIRE(c.watchdog.backoff_initial_ms == 100);
  REQUIRE(c.watchdog.unhealthy_after_s == 0);
  REQUIRE(c.watchdog.max_restarts == 4);
  REQUIRE(c.cloudflare.zone == "example.com");
  REQUIRE(c.cloudflare.request_timeout_s == 3);
  REQUIRE(c.cloudflare.account_id == "0123456789abcdef0123456789abcdef");
  REQUIRE(c.notify.telegram_chat_id == "-1001234");
  REQUIRE(c.telegram.enabled);
  REQUIRE(c.telegram.allowed_chat_ids == std::vector<int64_t>{-100123, 42});
  REQUIRE(c.tunnels.size() == 2);
  const TunnelConfig* cam = c.find_tunnel("cam");
  REQUIRE(cam);
  REQUIRE(cam->kind == TunnelKind::quick);
  REQUIRE(cam->port == 8080);
  REQUIRE(cam->autostart);
  const TunnelConfig* d7 = c.find_tunnel("drone-7");
  REQUIRE(d7->kind == TunnelKind::named);
  REQUIRE(d7->routes == std::vector<Route>{{"drone-7.example.com", "http://localhost:8000", {}, 46}});
  REQUIRE(d7->token_env == "CF_TUNNEL_TOKEN_DRONE_7");
  REQUIRE(d7->line == 46);
}

TEST_CASE("comments, CRLF, blank lines and inline comments") {
  Config c = parsed("; top\r\n# hash\r\n\r\n[agent]\r\nlog_level = warn ; inline\r\n");
  REQUIRE(c.agent.log_level == LogLevel::warn);
}

TEST_CASE("unknown section names its line and the known ones") {
  expect_error("[agent]\n\n[agnet]\nsocket = /x\n",
               "t.ini:3: unknown section [agnet] (known: agent, cloudflare, cloudflared, network, notify, "
               "telegram, watchdog, tunnel NAME)");
}

TEST_CASE("unknown key names its line") {
  expect_error("[watchdog]\nbackof_initial_ms = 5\n",
               "t.ini:2: unknown key 'backof_initial_ms' in [watchdog] (known: backoff_initial_ms, "
               "backoff_max_ms, max_restarts, restart_window_s, stable_after_s, start_wait_s, "
               "stop_grace_s, unhealthy_after_s)");
  expect_error("[tunnel a]\ntype = quick\nport = 1\ncolour = red\n",
               "t.ini:4: unknown key 'colour' in [tunnel a] (known: adopt, autostart, config, gc_percent, hostname, "
               "max_procs, memory_limit, port, route, service, token_env, type)");
}

TEST_CASE("bad number") {
  expect_error("[watchdog]\nstop_grace_s = ten\n",
               "t.ini:2: [watchdog] stop_grace_s: 'ten' is not a number (expected 0-600 s)");
  expect_error("[watchdog]\nstart_wait_s = 5s\n",
               "t.ini:2: [watchdog] start_wait_s: '5s' is not a number (expected 0-3600 s)");
  expect_error("[watchdog]\nmax_restarts = -1\n",
               "t.ini:2: [watchdog] max_restarts: -1 is out of range (expected 0-1000000)");
  expect_error("[watchdog]\nbackoff_initial_ms = 99999999999999999999\n",
               "t.ini:2: [watchdog] backoff_initial_ms: '99999999999999999999' is not a number "
               "(expected 1-3600000 ms)");
}

TEST_CASE("bad enum and bad boolean") {
  expect_error("[agent]\nlog_level = loud\n",
               "t.ini:2: [agent] log_level: 'loud' is not one of: debug, info, warn, error");
  expect_error("[cloudflared]\nprotocol = udp\n",
               "t.ini:2: [cloudflared] protocol: 'udp' is not one of: auto, quic, http2");
  expect_error("[tunnel a]\ntype = fast\n", "t.ini:2: [tunnel a] type: 'fast' is not one of: local, named, quick");
  expect_error("[cloudflared]\nmetrics = maybe\n",
               "t.ini:2: [cloudflared] metrics: 'maybe' is not a boolean (expected true or false)");
}

TEST_CASE("out-of-range port") {
  expect_error("[tunnel web]\ntype = quick\nport = 70000\n",
               "t.ini:3: [tunnel web] port: 70000 is out of range (expected 1-65535)");
  expect_error("[tunnel web]\ntype = quick\nport = 0\n",
               "t.ini:3: [tunnel web] port: 0 is out of range (expected 1-65535)");
}

TEST_CASE("missing required key") {
  expect_error("[agent]\n[tunnel web]\ntype = quick\n",
               "t.ini:2: [tunnel web]: missing required key 'port' (type = quick exposes a local port)");
  auto errs = errors_of("[telegram]\nbot_token_env = BOT\n");
  REQUIRE(errs.size() == 2);
  REQUIRE(errs[0] ==
          "t.ini:1: [telegram]: missing required key 'allowed_chat_ids' (a bot that anyone can "
          "command is refused)");
  REQUIRE(errs[1] ==
          "t.ini:1: [telegram]: missing required key 'allowed_user_ids' (a bot that anyone can "
          "command is refused)");
}

TEST_CASE("syntax errors and overlong lines") {
  expect_error("[agent]\nthis is not a pair\n",
               "t.ini:2: expected 'key = value' or '[section]', got 'this is not a pair'");
  expect_error("[agent\n", "t.ini:1: section header without ']'");
  expect_error("[agent]\nsocket = /" + std::string(300, 'x') + "\n", "t.ini:2: line is longer than 198 characters");
  expect_error("log_level = info\n",
               "t.ini:1: 'log_level' is outside any section (put it under [agent], [cloudflared], ...)");
}

TEST_CASE("duplicates: keys, sections, ports") {
  expect_error("[agent]\nlog_level = info\nlog_level = debug\n",
               "t.ini:3: [agent] duplicate key 'log_level' (first set at line 2)");
  expect_error("[agent]\n[agent]\n", "t.ini:2: section [agent] appears twice (first at line 1)");
  expect_error("[tunnel a]\ntype = quick\nport = 80\n[tunnel b]\ntype = quick\nport = 80\n",
               "t.ini:4: [tunnel b]: port 80 is already used by [tunnel a]");
}

TEST_CASE("invalid tunnel names") {
  expect_error("[tunnel Drone]\n",
               "t.ini:1: [tunnel Drone]: tunnel name 'Drone' must start with a letter and use only a-z, "
               "0-9 and '-' (at most 63)");
  expect_error("[tunnel]\n",
               "t.ini:1: [tunnel]: tunnel name '' must start with a letter and use only a-z, 0-9 and '-' "
               "(at most 63)");
  REQUIRE(errors_of("[tunnel 7up]\n").size() == 1);
}

TEST_CASE("keys that do not fit the tunnel type") {
  expect_error("[tunnel a]\nport = 80\n",
               "t.ini:2: [tunnel a]: 'port' only applies to type = quick (named tunnels route by 'service')");
  expect_error("[tunnel a]\ntype = quick\nport = 80\nhostname = a.example.com\n",
               "t.ini:4: [tunnel a]: 'hostname' only applies to type = named");
  expect_error("[tunnel a]\ntype = quick\nport = 80\nadopt = true\n",
               "t.ini:4: [tunnel a]: 'adopt' only applies to type = named");
}

TEST_CASE("services cloudflared can route to, host names inside the zone") {
  for (const char* ok :
       {"http://localhost:8080", "https://10.0.0.2", "tcp://localhost:22", "ssh://localhost:22", "unix:///run/app.sock",
        "unix:/run/app.sock", "unix+tls:/run/ui.sock", "http_status:404", "http://localhost:80/"})
    REQUIRE(service_problem(ok).empty());
  REQUIRE(service_problem("unix:run/app.sock") == "'unix:run/app.sock' names no socket path (e.g. unix:/run/app.sock)");
  REQUIRE(service_problem("ftp://x") ==
          "'ftp' is not a scheme cloudflared serves (http, https, unix, unix+tls, tcp, ssh, rdp, smb; or "
          "http_status:NNN)");
  REQUIRE(service_problem("http://localhost/app") ==
          "'http://localhost/app' has a path; cloudflared routes to a host and port only (drop '/app')");
  REQUIRE(service_problem("http://") == "'http://' names no host (e.g. http://localhost:8080)");
  REQUIRE(service_problem("http_status:42") ==
          "'http_status:42' is not an HTTP status (http_status:100 to "
          "http_status:599)");
  expect_error("[tunnel a]\nservice = localhost:80\n",
               "t.ini:2: [tunnel a] service: 'localhost:80' is not a service URL (e.g. http://localhost:8080, "
               "tcp://localhost:22 or http_status:404)");
  expect_error("[cloudflare]\nzone = example.com\n[tunnel a]\nhostname = a.example.net\n",
               "t.ini:4: [tunnel a]: hostname 'a.example.net' is not inside [cloudflare] zone 'example.com'; use a "
               "name ending in .example.com");
  REQUIRE(parsed("[cloudflare]\nzone = example.com\n[tunnel a]\nhostname = A.Drones.Example.com\n")
              .tunnels[0]
              .routes[0]
              .hostname == "A.Drones.Example.com");
}

TEST_CASE("a byte order mark is skipped, a NUL byte is an error, uids fit in 32 bits") {
  REQUIRE(parsed("\xEF\xBB\xBF[agent]\nmax_clients = 8\n").agent.max_clients == 8);
  expect_error(std::string("[agent]\nmax_clients = 8\0 9\n", 27),
               "t.ini:2: line contains a NUL byte; save the file as plain text");
  expect_error("[agent]\nallow_uids = 4294967296\n",
               "t.ini:2: [agent] allow_uids: '4294967296' is not a uid (0 to 4294967294)");
  expect_error("[agent]\nallow_uids = 4294967295\n",
               "t.ini:2: [agent] allow_uids: '4294967295' is not a uid (0 to 4294967294)");
}

TEST_CASE("pass_env names variables or prefixes") {
  REQUIRE(parsed("[cloudflared]\npass_env = MY_VAR, TUNNEL_EDGE_*\n").cloudflared.pass_env ==
          std::vector<std::string>{"MY_VAR", "TUNNEL_EDGE_*"});
  expect_error("[cloudflared]\npass_env = A-B\n",
               "t.ini:2: [cloudflared] pass_env: 'A-B' is not a variable name (letters, digits and '_'; a final "
               "'*' matches a prefix)");
  expect_error("[cloudflared]\npass_env = *\n",
               "t.ini:2: [cloudflared] pass_env: '*' is not a variable name (letters, digits and '_'; a final "
               "'*' matches a prefix)");
}

TEST_CASE("adopt is a boolean of named tunnels, off by default") {
  REQUIRE_FALSE(parsed("[tunnel a]\n").tunnels[0].adopt);
  REQUIRE(parsed("[tunnel a]\nadopt = true\n").tunnels[0].adopt);
  expect_error("[tunnel a]\nadopt = maybe\n",
               "t.ini:2: [tunnel a] adopt: 'maybe' is not a boolean (expected true or false)");
}

TEST_CASE("values that would be unsafe or nonsensical") {
  expect_error("[cloudflared]\nextra_args = --token abc\n",
               "t.ini:2: [cloudflared] extra_args: '--token' would put a secret on the command line, "
               "readable by every user (tether passes tunnel tokens in the environment)");
  expect_error("[cloudflared]\nextra_args = --url http://x\n",
               "t.ini:2: [cloudflared] extra_args: '--url' is set by tether itself; remove it from extra_args");
  expect_error("[watchdog]\nbackoff_initial_ms = 5000\nbackoff_max_ms = 1000\n",
               "t.ini:3: [watchdog] backoff_max_ms (1000) is below backoff_initial_ms (5000)");
  expect_error("[agent]\nsocket_mode = 999\n",
               "t.ini:2: [agent] socket_mode: '999' is not an octal file mode (e.g. 0660)");
  expect_error("[agent]\nallow_uids = nosuchuser-xyz\n",
               "t.ini:2: [agent] allow_uids: 'nosuchuser-xyz' is neither a uid nor a known user name");
  expect_error("[cloudflare]\napi_base = ftp://x\n",
               "t.ini:2: [cloudflare] api_base: 'ftp://x' is not an http:// or https:// URL");
  expect_error("[notify]\ntelegram_chat_id = 5\n",
               "t.ini:1: [notify]: telegram_chat_id and telegram_bot_token_env go together; set both or neither");
}

TEST_CASE("every error is reported, not just the first") {
  auto errs = errors_of("[agent]\nlog_level = x\n[watchdog]\nstop_grace_s = y\n[nope]\n");
  REQUIRE(errs.size() == 3);
  REQUIRE(errs[0].rfind("t.ini:2:", 0) == 0);
  REQUIRE(errs[1].rfind("t.ini:4:", 0) == 0);
  REQUIRE(errs[2].rfind("t.ini:5:", 0) == 0);
}

TEST_CASE("a missing file is an error about the file") {
  Config c;
  std::vector<ConfigError> errs;
  REQUIRE_FALSE(load_config("/nonexistent/tether.ini", &c, &errs));
  REQUIRE(errs.size() == 1);
  REQUIRE(errs[0].str() == "/nonexistent/tether.ini: cannot open: No such file or directory");
}

TEST_CASE("tunnel name rules and token variable names") {
  REQUIRE(valid_tunnel_name("drone-7"));
  REQUIRE(valid_tunnel_name("a"));
  REQUIRE_FALSE(valid_tunnel_name("7drone"));
  REQUIRE_FALSE(valid_tunnel_name("-a"));
  REQUIRE_FALSE(valid_tunnel_name("a_b"));
  REQUIRE_FALSE(valid_tunnel_name(std::string(64, 'a')));
  REQUIRE(valid_tunnel_name(std::string(63, 'a')));
  REQUIRE(default_token_env("drone-7") == "CF_TUNNEL_TOKEN_DRONE_7");
}

// Inputs the fuzzer found (fuzz/regressions/config).
TEST_CASE("tunnel names of any valid length, whatever inih does with long section names") {
  std::string name(63, 'a');
  Config c = parsed("[tunnel " + name + "]\ntype = quick\nport = 8080\n");
  REQUIRE(c.tunnels.size() == 1);
  REQUIRE(c.tunnels[0].name == name);
  REQUIRE(c.tunnels[0].port == 8080);
}

TEST_CASE("blanks inside a section header") {
  Config c = parsed("[tunnel   a]\ntype = quick\nport = 1\n");
  REQUIRE(c.find_tunnel("a")->port == 1);
  expect_error("[tunnel a]\ntype = quick\nport = 1\n[tunnel  a]\n",
               "t.ini:4: section [tunnel a] appears twice (first at line 1)");
  auto errs = errors_of("[ ]\n=\n");
  REQUIRE_FALSE(errs.empty());
  REQUIRE(errs[0].rfind("t.ini:1: unknown section []", 0) == 0);
}

TEST_CASE("routes: several in order, with originRequest options") {
  Config c = parsed(
      "[cloudflare]\nzone = example.com\n"
      "[tunnel drone]\n"
      "route = video.example.com -> http://localhost:8080\n"
      "route = ui.example.com -> https://localhost:8443 noTLSVerify=true httpHostHeader=localhost:8443 "
      "connectTimeout=1m30s\n"
      "route = ssh.example.com -> ssh://localhost:22 connectTimeout=10s\n"
      "route = sock.example.com -> unix:/run/app.sock\n"
      "route = gone.example.com -> http_status:410\n");
  const auto& r = c.tunnels[0].routes;
  REQUIRE(r.size() == 5);
  REQUIRE(r[0] == Route{"video.example.com", "http://localhost:8080", {}, 4});
  REQUIRE(r[0].line == 4);
  REQUIRE(r[1].hostname == "ui.example.com");
  REQUIRE(r[1].origin == OriginRequest{true, "localhost:8443", 90});
  REQUIRE(r[2].origin.connect_timeout_s == 10);
  REQUIRE(r[3].service == "unix:/run/app.sock");
  REQUIRE(r[4].service == "http_status:410");
  REQUIRE(r[4].line == 8);
  // Without a zone, a route names its own host; the shorthand names none.
  REQUIRE(parsed("[tunnel a]\nroute = a.example.net -> tcp://localhost:22\n").tunnels[0].routes.size() == 1);
  REQUIRE(parsed("[tunnel a]\nservice = http://localhost:8000\n").tunnels[0].routes.empty());
}

TEST_CASE("the hostname/service shorthand is one route") {
  Config c = parsed(
      "[cloudflare]\nzone = example.com\n[tunnel a]\n[tunnel b]\nservice = tcp://localhost:22\n"
      "hostname = b.example.com\n");
  REQUIRE(c.tunnels[0].routes == std::vector<Route>{{"a.example.com", "http://localhost:80", {}, 3}});
  REQUIRE(c.tunnels[0].routes[0].line == 3);
  REQUIRE(c.tunnels[1].routes == std::vector<Route>{{"b.example.com", "tcp://localhost:22", {}, 6}});
  REQUIRE(c.tunnels[1].routes[0].line == 6);
}

TEST_CASE("route errors name file:line and what to write") {
  expect_error("[tunnel a]\nroute = a.example.com http://localhost:80\n",
               "t.ini:2: [tunnel a] route: 'a.example.com http://localhost:80' is not 'HOST -> SERVICE' (e.g. route = "
               "video.example.com -> http://localhost:8080)");
  expect_error("[tunnel a]\nroute = a_b.example.com -> http://localhost:80\n",
               "t.ini:2: [tunnel a] route: 'a_b.example.com' is not a host name (labels of letters, digits and '-', "
               "separated by '.', e.g. video.example.com)");
  expect_error("[tunnel a]\nroute = localhost -> http://localhost:80\n",
               "t.ini:2: [tunnel a] route: 'localhost' is not a host name (labels of letters, digits and '-', "
               "separated by '.', e.g. video.example.com)");
  expect_error("[tunnel a]\nroute = -a.example.com -> http://localhost:80\n",
               "t.ini:2: [tunnel a] route: '-a.example.com' is not a host name (labels of letters, digits and '-', "
               "separated by '.', e.g. video.example.com)");
  expect_error("[tunnel a]\nroute = a.example.com -> ftp://localhost:21\n",
               "t.ini:2: [tunnel a] route: 'ftp' is not a scheme cloudflared serves (http, https, unix, unix+tls, "
               "tcp, ssh, rdp, smb; or http_status:NNN)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 noTLSVerify=maybe\n",
               "t.ini:2: [tunnel a] route: noTLSVerify: 'maybe' is not a boolean (expected true or false)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 connectTimeout=500ms\n",
               "t.ini:2: [tunnel a] route: connectTimeout: '500ms' is not a duration in whole seconds (e.g. 30s, 2m "
               "or 1m30s)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 connectTimeout=2h\n",
               "t.ini:2: [tunnel a] route: connectTimeout: '2h' is out of range (1s to 1h)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 connectTimeout=30\n",
               "t.ini:2: [tunnel a] route: connectTimeout: '30' is not a duration in whole seconds (e.g. 30s, 2m "
               "or 1m30s)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 httpHostHeader=a/b\n",
               "t.ini:2: [tunnel a] route: httpHostHeader: 'a/b' is not a host name with an optional port (e.g. "
               "localhost:8080)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 keepAlive=1\n",
               "t.ini:2: [tunnel a] route: unknown option 'keepAlive' (known: connectTimeout, httpHostHeader, "
               "noTLSVerify)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 noTLSVerify\n",
               "t.ini:2: [tunnel a] route: 'noTLSVerify' is not option=value (noTLSVerify=true, "
               "httpHostHeader=NAME, connectTimeout=30s)");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80 noTLSVerify=true noTLSVerify=false\n",
               "t.ini:2: [tunnel a] route: option 'noTLSVerify' is given twice");
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80\n  route = b.example.com -> http://x:1\n",
               "t.ini:3: [tunnel a] route: continuation lines are not supported; write the value on one line");
}

TEST_CASE("routes and the shorthand do not mix; the error is at the second kind") {
  expect_error("[tunnel a]\nroute = a.example.com -> http://localhost:80\nservice = http://localhost:81\n",
               "t.ini:3: [tunnel a]: 'service' cannot be mixed with 'route' (line 2); write every route as "
               "'route = HOST -> SERVICE'");
  expect_error(
      "[tunnel a]\nhostname = a.example.com\nroute = b.example.com -> http://localhost:80\n"
      "route = c.example.com -> http://localhost:81\n",
      "t.ini:3: [tunnel a]: 'route' cannot be mixed with 'hostname'/'service' (line 2); write every route "
      "as 'route = HOST -> SERVICE'");
}

TEST_CASE("a hostname is routed once: in its tunnel, across tunnels, inside the zone") {
  expect_error(
      "[tunnel a]\nroute = x.example.com -> http://localhost:80\nroute = X.example.com -> http://localhost:81\n",
      "t.ini:3: [tunnel a]: hostname 'X.example.com' is already routed by [tunnel a] (line 2); a hostname "
      "can have only one route");
  expect_error(
      "[cloudflare]\nzone = example.com\n[tunnel a]\n[tunnel b]\nroute = a.example.com -> http://localhost:80\n",
      "t.ini:5: [tunnel b]: hostname 'a.example.com' is already routed by [tunnel a] (line 3); a hostname "
      "can have only one route");
  expect_error(
      "[cloudflare]\nzone = example.com\n[tunnel a]\nroute = a.example.com -> http://localhost:80\n"
      "route = b.example.org -> http://localhost:81\n",
      "t.ini:5: [tunnel a]: hostname 'b.example.org' is not inside [cloudflare] zone 'example.com'; use a "
      "name ending in .example.com");
}

TEST_CASE("route is for named tunnels") {
  expect_error("[tunnel a]\ntype = quick\nport = 80\nroute = a.example.com -> http://localhost:80\n",
               "t.ini:4: [tunnel a]: 'route' only applies to type = named");
  expect_error("[tunnel a]\ntype = named\nconfig = /etc/cloudflared/config.yml\n",
               "t.ini:3: [tunnel a]: 'config' only applies to type = local");
}

TEST_CASE("Go runtime knobs: [cloudflared] for all, a tunnel's own win") {
  Config c = parsed(
      "[cloudflared]\nmemory_limit = 64MiB\nmax_procs = 2\ngc_percent = 50\n"
      "[tunnel a]\n[tunnel b]\nmemory_limit = 20MiB\ngc_percent = off\n[tunnel c]\ntype = quick\n"
      "port = 80\nmax_procs = 1\n");
  REQUIRE(c.cloudflared.go == GoKnobs{"64MiB", 2, "50"});
  REQUIRE(c.tunnels[0].go == GoKnobs{"64MiB", 2, "50"});
  REQUIRE(c.tunnels[1].go == GoKnobs{"20MiB", 2, "off"});
  REQUIRE(c.tunnels[2].go == GoKnobs{"64MiB", 1, "50"});
  REQUIRE(go_environment(c.tunnels[1].go) == std::vector<std::string>{"GOMEMLIMIT=20MiB", "GOMAXPROCS=2", "GOGC=off"});
  REQUIRE(go_environment(GoKnobs{}).empty());
  REQUIRE(parsed("[tunnel a]\n").tunnels[0].go == GoKnobs{});
  for (const char* ok : {"off", "1048576", "1024KiB", "1GiB", "2TiB", "1048576B"})
    REQUIRE(parsed(std::string("[cloudflared]\nmemory_limit = ") + ok + "\n").cloudflared.go.memory_limit == ok);
  expect_error("[cloudflared]\nmemory_limit = 64MB\n",
               "t.ini:2: [cloudflared] memory_limit: '64MB' is not a Go memory limit (a number with B, KiB, MiB, "
               "GiB or TiB, e.g. 64MiB; or off)");
  expect_error("[tunnel a]\nmemory_limit = 512KiB\n",
               "t.ini:2: [tunnel a] memory_limit: '512KiB' is below 1MiB; the Go collector would never stop (e.g. "
               "64MiB)");
  expect_error("[cloudflared]\nmax_procs = 0\n",
               "t.ini:2: [cloudflared] max_procs: 0 is out of range (expected 1-1024)");
  expect_error("[cloudflared]\ngc_percent = -1\n",
               "t.ini:2: [cloudflared] gc_percent: -1 is out of range (expected 1-100000 percent, or off)");
  expect_error("[cloudflared]\ngc_percent = lots\n",
               "t.ini:2: [cloudflared] gc_percent: 'lots' is not a number (expected 1-100000 percent, or off)");
}

namespace {

std::string temp_yml(const std::string& text) {
  char path[] = "/tmp/tether-cfg-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  close(fd);
  return path;
}

}  // namespace

TEST_CASE("type = local: its config.yml gives the tunnel and hostnames") {
  std::string yml = temp_yml(
      "tunnel: 6ff42ae2-765d-4adf-8112-31c55c1551ef\ningress:\n  - hostname: cam.example.com\n"
      "    service: http://localhost:8080\n  - hostname: ssh.example.com\n    service: ssh://localhost:22\n"
      "  - service: http_status:404\n");
  Config c = parsed("[cloudflare]\nzone = example.net\n[tunnel home]\ntype = local\nconfig = " + yml +
                    "\nautostart = yes\nmax_procs = 1\n");
  const TunnelConfig& t = c.tunnels[0];
  REQUIRE(t.kind == TunnelKind::named);
  REQUIRE(t.local);
  REQUIRE(t.config_file == yml);
  REQUIRE(t.local_tunnel == "6ff42ae2-765d-4adf-8112-31c55c1551ef");
  REQUIRE(t.routes.size() == 2);
  REQUIRE(t.routes[0].hostname == "cam.example.com");
  REQUIRE(t.routes[1].hostname == "ssh.example.com");
  REQUIRE(t.go.max_procs == 1);

  expect_error("[tunnel home]\ntype = local\nconfig = " + yml + "\n[tunnel b]\nroute = ssh.example.com -> tcp://x:22\n",
               "t.ini:5: [tunnel b]: hostname 'ssh.example.com' is already routed by [tunnel home] (line 3); a "
               "hostname can have only one route");
  expect_error("[tunnel home]\ntype = local\n",
               "t.ini:1: [tunnel home]: missing required key 'config' (type = local runs cloudflared with its own "
               "config.yml, e.g. config = /etc/cloudflared/config.yml)");
  expect_error("[tunnel home]\ntype = local\nconfig = etc/config.yml\n",
               "t.ini:3: [tunnel home] config: 'etc/config.yml' is not an absolute path (e.g. "
               "/etc/cloudflared/config.yml)");
  expect_error("[tunnel home]\ntype = local\nconfig = /nonexistent/config.yml\n",
               "t.ini:3: [tunnel home] config: /nonexistent/config.yml: cannot open: No such file or directory");
  expect_error("[tunnel home]\ntype = local\nconfig = " + yml + "\nhostname = a.example.com\n",
               "t.ini:4: [tunnel home]: 'hostname' only applies to type = named (a local tunnel's routes and "
               "credentials are in its config.yml)");
  expect_error("[tunnel home]\ntype = local\nconfig = " + yml + "\nroute = a.example.com -> http://x:1\n",
               "t.ini:4: [tunnel home]: 'route' only applies to type = named (a local tunnel's routes and "
               "credentials are in its config.yml)");
  expect_error("[cloudflared]\nextra_args = --config /etc/x.yml\n[tunnel home]\ntype = local\nconfig = " + yml + "\n",
               "t.ini:5: [tunnel home]: [cloudflared] extra_args has '--config', which would replace this tunnel's "
               "config; remove it from extra_args");
  std::string bad = temp_yml("tunnel: x\ningress:\n  - hostname: a.example.com\n    service: http://x:1\n");
  expect_error("[tunnel home]\ntype = local\nconfig = " + bad + "\n",
               "t.ini:3: [tunnel home] config: " + bad +
                   ":3: the last ingress rule must match everything (no "
                   "hostname, no path), e.g. '- service: http_status:404'; cloudflared refuses the file otherwise");
  unlink(yml.c_str());
  unlink(bad.c_str());
}
