#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "linesplit.hpp"
#include "logring.hpp"
#include "scanner.hpp"

using namespace tether;
using Kind = LineInfo::Kind;

namespace {

struct Found {
  std::vector<std::string> urls;
  std::vector<int> registered, unregistered;
  int shutdowns = 0, unauthorized = 0;
};

// Runs a capture file through the same splitter and scanner the agent uses,
// per scenario. The file is read in odd-sized chunks so lines straddle reads.
std::map<std::string, Found> scan_capture(const std::string& name) {
  std::ifstream in(std::string(TETHER_SOURCE_DIR) + "/test/data/" + name, std::ios::binary);
  REQUIRE(in);
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::map<std::string, Found> out;
  std::string scenario;
  LineSplitter split(4096);
  auto on_line = [&](std::string_view line, bool) {
    if (line.substr(0, 12) == "# scenario: ") {
      scenario = std::string(line.substr(12, line.find(" |") - 12));
      out[scenario];
      return;
    }
    if (line.substr(0, 2) == "# " || scenario.empty()) return;
    LineInfo info = scan_line(line);
    Found& f = out[scenario];
    switch (info.kind) {
      case Kind::url: f.urls.push_back(info.url); break;
      case Kind::registered: f.registered.push_back(info.conn_index); break;
      case Kind::unregistered: f.unregistered.push_back(info.conn_index); break;
      case Kind::shutdown: ++f.shutdowns; break;
      case Kind::unauthorized: ++f.unauthorized; break;
      case Kind::dial_failed:
      case Kind::conn_failed:
      case Kind::none: break;
    }
  };
  for (size_t pos = 0; pos < data.size(); pos += 777) split.feed(std::string_view(data).substr(pos, 777), on_line);
  split.finish(on_line);
  return out;
}

}  // namespace

TEST_CASE("quick captures: exactly the URLs they contain, never api.trycloudflare.com") {
  auto found = scan_capture("cloudflared-quick.log");
  REQUIRE(found.size() == 13);
  const std::vector<std::string> with_url = {"quick-url-box-edge-unreachable-sigterm", "quick-registered-sigterm",
                                             "quick-edge-unreachable-75s", "quick-metrics-port-in-use",
                                             "quick-no-edge-dns-failure"};
  for (auto& [scenario, f] : found) {
    INFO(scenario);
    bool expect = std::find(with_url.begin(), with_url.end(), scenario) != with_url.end();
    if (expect) REQUIRE(f.urls == std::vector<std::string>{"https://abc-def.trycloudflare.com"});
    else REQUIRE(f.urls.empty());
  }
  // The DNS failure names api.trycloudflare.com in a plain line: not a URL.
  REQUIRE(found["quick-service-default-dns-failure"].urls.empty());
  REQUIRE(found["quick-registered-sigterm"].registered == std::vector<int>{0});
  REQUIRE(found["quick-registered-sigterm"].unregistered == std::vector<int>{0});
  REQUIRE(found["quick-registered-sigterm"].shutdowns == 1);
  REQUIRE(found["quick-url-box-edge-unreachable-sigterm"].registered.empty());
}

TEST_CASE("named captures: exactly the connection events they contain") {
  auto found = scan_capture("cloudflared-named.log");
  REQUIRE(found.size() == 24);
  auto& four = found["named-4-connections-edge-drop-reregister-sigterm"];
  REQUIRE(four.registered == std::vector<int>{0, 1, 2, 3, 1});
  REQUIRE(four.unregistered == std::vector<int>{1, 0, 1, 3, 2});
  REQUIRE(four.shutdowns == 1);
  REQUIRE(found["named-silent-edge-loss-reconnect"].registered == std::vector<int>{0, 0});
  REQUIRE(found["named-silent-edge-loss-reconnect"].unregistered == std::vector<int>{0, 0});
  REQUIRE(found["named-silent-edge-loss-274s"].registered == std::vector<int>{0, 0});
  REQUIRE(found["named-silent-edge-loss-backoff-variant"].registered == std::vector<int>{0});
  REQUIRE(found["named-unauthorized-retry-forever"].unauthorized == 16);
  REQUIRE(found["named-unauthorized-retry-forever"].registered.empty());
  REQUIRE(found["named-double-sigterm"].registered == std::vector<int>{0});
  REQUIRE(found["named-double-sigterm"].unregistered.empty());
  REQUIRE(found["named-sighup"].shutdowns == 0);
  size_t registrations = 0, urls = 0;
  for (auto& [scenario, f] : found) {
    registrations += f.registered.size();
    urls += f.urls.size();
  }
  REQUIRE(registrations == 16);
  REQUIRE(urls == 0);
}

TEST_CASE("records and plain lines") {
  auto info = scan_line("2026-11-22T04:54:11Z ERR no more connections active and exiting");
  REQUIRE(info.record);
  REQUIRE(info.level == 'E');
  REQUIRE(info.message == "no more connections active and exiting");
  REQUIRE(info.is_error());

  info = scan_line(
      "failed to request quick Tunnel: Post \"https://api.trycloudflare.com/tunnel\": dial tcp: "
      "lookup api.trycloudflare.com on 10.255.255.53:53: connect: network is unreachable");
  REQUIRE_FALSE(info.record);
  REQUIRE(info.kind == Kind::none);
  REQUIRE(info.is_error());

  info = scan_line("2026-11-22T04:25:02Z INF Version 2023.7.3");
  REQUIRE(info.record);
  REQUIRE_FALSE(info.is_error());
  REQUIRE_FALSE(scan_line("").is_error());
}

TEST_CASE("an undecodable token is a credentials error, its help pointer is not the error") {
  auto info = scan_line("Provided Tunnel token is not valid.");
  REQUIRE(info.kind == Kind::unauthorized);
  REQUIRE_FALSE(info.record);
  REQUIRE(info.is_error());
  info = scan_line("See 'cloudflared tunnel run --help'.");
  REQUIRE(info.hint);
  REQUIRE_FALSE(info.is_error());
}

TEST_CASE("the URL only from an INF record, exact host") {
  REQUIRE(scan_line("2026-11-22T04:25:02Z INF |  https://a-b-c.trycloudflare.com      |").url ==
          "https://a-b-c.trycloudflare.com");
  REQUIRE(scan_line("2026-11-22T04:25:02Z INF |  https://api.trycloudflare.com  |").kind == Kind::none);
  REQUIRE(scan_line("|  https://a-b-c.trycloudflare.com  |").kind == Kind::none);
  REQUIRE(scan_line("2026-11-22T04:25:02Z ERR https://a-b-c.trycloudflare.com").kind == Kind::none);
  REQUIRE(scan_line("2026-11-22T04:25:02Z INF https://a-b.trycloudflare.com.evil.example").kind == Kind::none);
}

TEST_CASE("connection lines carry their connIndex; HTTP/2 loss counts as down") {
  auto info = scan_line(
      "2026-11-22T04:55:32Z INF Registered tunnel connection connIndex=3 connection=x event=0 "
      "ip=127.0.0.4 location=lax01 protocol=quic");
  REQUIRE(info.kind == Kind::registered);
  REQUIRE(info.conn_index == 3);
  info = scan_line("2026-11-22T04:55:32Z INF Lost connection with the edge connIndex=2");
  REQUIRE(info.kind == Kind::unregistered);
  REQUIRE(info.conn_index == 2);
}

TEST_CASE("Unauthorized at ERR or WRN") {
  REQUIRE(scan_line("2026-11-22T04:55:32Z ERR Register tunnel error from server side error=\"Unauthorized: "
                    "Invalid tunnel secret\" connIndex=0 event=0 ip=127.0.0.1")
              .kind == Kind::unauthorized);
  REQUIRE(scan_line("2026-11-22T04:55:32Z WRN Serve tunnel error error=\"Unauthorized: Failed to get tunnel\"").kind ==
          Kind::unauthorized);
  REQUIRE(scan_line("2026-11-22T04:55:32Z INF Unauthorized is just a word here").kind == Kind::none);
}

TEST_CASE("the log ring keeps the last lines in order, within its bytes") {
  LogRing ring;
  REQUIRE(ring.tail(5).empty());
  for (int i = 0; i < 1000; ++i) ring.push("line " + std::to_string(i));
  REQUIRE(ring.bytes() <= LogRing::kMaxBytes);
  REQUIRE(ring.tail(2) == std::vector<std::string>{"line 998", "line 999"});
  auto all = ring.tail(100000);
  REQUIRE(all.size() == ring.size());
  for (size_t i = 0; i < all.size(); ++i) REQUIRE(all[i] == "line " + std::to_string(1000 - all.size() + i));
  size_t bytes = 0;
  for (const auto& l : all) bytes += l.size() + 1;
  REQUIRE(bytes == ring.bytes());
}

TEST_CASE("the log ring cuts long lines and survives wrap-around with odd sizes") {
  LogRing big;
  for (int i = 0; i < 100; ++i) big.push(std::string(2000, 'x'));
  REQUIRE(big.bytes() <= LogRing::kMaxBytes);
  REQUIRE(big.tail(1)[0] == std::string(LogRing::kMaxLine, 'x') + "...");
  LogRing odd;
  std::vector<std::string> pushed;
  for (int i = 0; i < 500; ++i) {
    pushed.push_back(std::string(static_cast<size_t>(i * 37 % 300), static_cast<char>('a' + i % 26)));
    odd.push(pushed.back());
    auto t = odd.tail(3);
    REQUIRE(t.back() == pushed.back());
    if (t.size() == 3) REQUIRE(t[0] == pushed[pushed.size() - 3]);
  }
  LogRing empty_lines;
  empty_lines.push("");
  empty_lines.push("a\nb");
  REQUIRE(empty_lines.tail(5) == std::vector<std::string>{"", "a b"});
}

TEST_CASE("connection failures: QUIC dial timeouts, refused dials, lost connections") {
  LineInfo t = scan_line(
      "2026-12-04T13:34:42Z ERR Failed to create new quic connection error=\"failed to dial to edge with quic: "
      "timeout: no recent network activity\" connIndex=0 event=0 ip=198.51.100.2");
  REQUIRE(t.kind == Kind::dial_failed);
  REQUIRE(t.quic_timeout);
  LineInfo u = scan_line(
      "2026-12-04T13:33:20Z ERR Failed to create new quic connection error=\"failed to dial to edge with quic: "
      "INTERNAL_ERROR (local): write udp [::]:37074->192.0.2.1:7844: sendmsg: network is unreachable\" "
      "connIndex=0 event=0 ip=192.0.2.1");
  REQUIRE(u.kind == Kind::dial_failed);
  REQUIRE_FALSE(u.quic_timeout);
  REQUIRE(scan_line("2026-12-04T13:35:27Z ERR Unable to establish connection with Cloudflare edge error=\"DialContext "
                    "error: dial tcp 127.0.0.4:7844: connect: connection refused\" connIndex=0 event=0 ip=127.0.0.4")
              .kind == Kind::dial_failed);
  REQUIRE(scan_line("2026-12-04T13:26:04Z WRN Connection terminated error=\"x\" connIndex=1").kind ==
          Kind::conn_failed);
  REQUIRE(scan_line("2026-12-04T13:26:04Z WRN Serve tunnel error error=\"x\" connIndex=1").kind == Kind::conn_failed);
  // Unauthorized wins: the same message prefix carries a credentials error.
  REQUIRE(
      scan_line("2026-12-04T13:27:43Z ERR Failed to serve quic connection error=Unauthorized:_x connIndex=0").kind ==
      Kind::unauthorized);
  REQUIRE(scan_line("2026-12-04T13:27:43Z INF Retrying connection in up to 2s connIndex=0").kind == Kind::none);
}
