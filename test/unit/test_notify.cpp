#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

#include "events.hpp"
#include "metrics.hpp"
#include "notify.hpp"
#include "tgtext.hpp"

using namespace tether;

TEST_CASE("html escaping makes any output safe for parse_mode HTML") {
  REQUIRE(html_escape("a < b && c > \"d\"") == "a &lt; b &amp;&amp; c &gt; &quot;d&quot;");
  REQUIRE(html_escape("<b>not bold</b>") == "&lt;b&gt;not bold&lt;/b&gt;");
  REQUIRE(html_escape("plain") == "plain");
}

TEST_CASE("messages are split under the limit at line ends, header repeated") {
  std::string body;
  for (int i = 0; i < 100; ++i) body += "line " + std::to_string(i) + " &amp; more\n";
  auto parts = split_message("<b>list</b>", body, 200);
  REQUIRE(parts.size() > 1);
  std::string joined;
  for (const auto& p : parts) {
    REQUIRE(p.rfind("<b>list</b>\n", 0) == 0);
    std::string rest = p.substr(12);
    REQUIRE(rest.find("&amp") != std::string::npos);  // escapes never cut
    REQUIRE(rest.back() != '\n');
    joined += rest + "\n";
  }
  REQUIRE(joined == body);
}

TEST_CASE("splitting never cuts a UTF-8 character or an escape, and counts characters") {
  std::string body;
  for (int i = 0; i < 50; ++i) body += "\xc3\xa9&lt;";  // é< : 2 characters each
  auto parts = split_message("", body, 11);
  std::string joined;
  for (const auto& p : parts) {
    REQUIRE(p.size() <= 11 * 4);
    REQUIRE((static_cast<unsigned char>(p[0]) & 0xC0) != 0x80);
    joined += p;
  }
  REQUIRE(joined == body);
  REQUIRE(split_message("<b>x</b>", "").size() == 1);
}

TEST_CASE("which events become notifications") {
  auto ev = [](EventKind kind, nlohmann::json fields = nlohmann::json::object()) {
    return Event{"t", "8080", kind, "d", fields};
  };
  REQUIRE(notice_kind(ev(EventKind::url)) == "url");
  REQUIRE(notice_kind(ev(EventKind::failed)) == "failed");
  REQUIRE(notice_kind(ev(EventKind::exited)).empty());
  REQUIRE(notice_kind(ev(EventKind::connected)).empty());
  REQUIRE(notice_kind(ev(EventKind::backoff, {{"attempt", 2}})).empty());
  REQUIRE(notice_kind(ev(EventKind::backoff, {{"attempt", 3}})) == "crashing");
  REQUIRE(notice_kind(ev(EventKind::backoff, {{"attempt", 4}})).empty());
  REQUIRE(notice_kind(ev(EventKind::backoff, {{"attempt", 20}})) == "crashing");
  REQUIRE(notice_kind(ev(EventKind::backoff)).empty());
}

TEST_CASE("a crash loop is noticed at the 3rd crash, then every 10th") {
  std::vector<int> noticed;
  for (int attempt = -1; attempt <= 45; ++attempt)
    if (crash_worth_notice(attempt)) noticed.push_back(attempt);
  REQUIRE(noticed == std::vector<int>{3, 10, 20, 30, 40});
}

TEST_CASE("event kinds keep their wire names") {
  const std::vector<std::pair<EventKind, std::string>> names = {
      {EventKind::starting, "starting"},         {EventKind::url, "url"},           {EventKind::connected, "connected"},
      {EventKind::disconnected, "disconnected"}, {EventKind::exited, "exited"},     {EventKind::backoff, "backoff"},
      {EventKind::restarted, "restarted"},       {EventKind::failed, "failed"},     {EventKind::stopped, "stopped"},
      {EventKind::credentials, "credentials"},   {EventKind::offline, "offline"},   {EventKind::online, "online"},
      {EventKind::spinning, "spinning"},         {EventKind::protocol, "protocol"},
  };
  for (const auto& [kind, name] : names) REQUIRE(event_kind_name(kind) == name);
  Event e{"2026-12-04T18:00:00.000Z", "8080", EventKind::backoff, "respawn in 1.0s", {{"attempt", 1}}};
  REQUIRE(e.text() == "EVENT 2026-12-04T18:00:00.000Z 8080 backoff respawn in 1.0s");
  REQUIRE(
      e.json().dump() ==
      R"({"attempt":1,"detail":"respawn in 1.0s","event":"backoff","id":"8080","time":"2026-12-04T18:00:00.000Z"})");
}

TEST_CASE("metrics: HELP and TYPE before samples, escaped labels") {
  MetricsSnapshot m;
  m.version = "0.1.0";
  TunnelInfo t;
  t.id = "8080";
  t.state = "running";
  t.restarts = 2;
  t.connections = 1;
  m.tunnels.push_back(t);
  m.notify.push_back({"webhook", 3, 1, 0});
  auto lines = render_metrics(m);
  auto has = [&](const std::string& l) { return std::find(lines.begin(), lines.end(), l) != lines.end(); };
  REQUIRE(has("# TYPE tether_tunnel_restarts_total counter"));
  REQUIRE(has("tether_tunnel_restarts_total{tunnel=\"8080\",kind=\"quick\"} 2"));
  REQUIRE(has("tether_tunnels{state=\"running\"} 1"));
  REQUIRE(has("tether_tunnels{state=\"failed\"} 0"));
  REQUIRE(has("tether_tunnel_up{tunnel=\"8080\",kind=\"quick\"} 1"));
  REQUIRE(has("tether_notifications_sent_total{channel=\"webhook\"} 3"));
  m.version = "a\"b\\c\nd";
  REQUIRE(render_metrics(m)[2] == "tether_build_info{version=\"a\\\"b\\\\c\\nd\"} 1");
}
