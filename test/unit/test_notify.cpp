#include <catch2/catch.hpp>
#include <string>

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
  auto ev = [](std::string kind, nlohmann::json fields = nlohmann::json::object()) {
    return Event{"t", "8080", kind, "d", fields};
  };
  REQUIRE(notice_kind(ev("url")) == "url");
  REQUIRE(notice_kind(ev("failed")) == "failed");
  REQUIRE(notice_kind(ev("exited")).empty());
  REQUIRE(notice_kind(ev("connected")).empty());
  REQUIRE(notice_kind(ev("backoff", {{"attempt", 2}})).empty());
  REQUIRE(notice_kind(ev("backoff", {{"attempt", 3}})) == "crashing");
  REQUIRE(notice_kind(ev("backoff", {{"attempt", 4}})).empty());
  REQUIRE(notice_kind(ev("backoff", {{"attempt", 20}})) == "crashing");
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
