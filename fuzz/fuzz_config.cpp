// tether.ini: bytes -> parse_config(text, "fuzz.ini", ...).
//
// Checks: true iff no errors; every error is one "fuzz.ini:[line:] message"
// line with a line number inside the file; a successful config holds only
// what the setters accept (valid tunnel names, one tunnel per name, quick
// ports 1..65535 and distinct, documented ranges); parsing is deterministic,
// and the same text with CRLF line endings gives the same result.
//
// allow_uids resolves user names with getpwnam(): slower, but harmless.
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "config.hpp"

using namespace tether;
using fuzz::show;
using fuzz::starts_with;

namespace {

const std::string kFile = "fuzz.ini";

bool env_name(const std::string& s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

bool http_url(const std::string& s) { return starts_with(s, "http://") || starts_with(s, "https://"); }

// Everything parse_config sets, as text, to compare two results.
std::string cf_go(const GoKnobs& go) {
  return go.memory_limit + " " + std::to_string(go.max_procs) + " " + go.gc_percent;
}

std::string summary(const Config& c) {
  std::string s;
  auto add = [&](const std::string& k, const std::string& v) { s += k + "=" + v + "\n"; };
  add("socket", c.agent.socket);
  add("socket_mode", std::to_string(c.agent.socket_mode));
  add("state_dir", c.agent.state_dir);
  add("log_level", log_level_name(c.agent.log_level));
  add("pidfile", c.agent.pidfile);
  for (uid_t u : c.agent.allow_uids) add("uid", std::to_string(u));
  add("max_clients", std::to_string(c.agent.max_clients));
  add("path", c.cloudflared.path);
  add("protocol", c.cloudflared.protocol);
  for (const auto& a : c.cloudflared.extra_args) add("arg", a);
  add("metrics", std::to_string(c.cloudflared.metrics));
  const auto& w = c.watchdog;
  for (int v : {w.backoff_initial_ms, w.backoff_max_ms, w.stable_after_s, w.unhealthy_after_s, w.stop_grace_s,
                w.start_wait_s, w.max_restarts, w.restart_window_s})
    add("watchdog", std::to_string(v));
  const auto& net = c.network;
  add("network", net.require + " " + net.offline_action);
  for (int v :
       {net.reconnect_grace_s, net.spin_lines_per_s, net.spin_after_s, net.quic_fallback_after, net.quic_retry_s})
    add("network", std::to_string(v));
  const auto& cf = c.cloudflare;
  for (const auto* v : {&cf.api_base, &cf.api_token_env, &cf.api_token_file, &cf.account_id, &cf.zone, &cf.env_file})
    add("cloudflare", *v);
  add("request_timeout_s", std::to_string(cf.request_timeout_s));
  const auto& n = c.notify;
  for (const auto* v : {&n.webhook, &n.telegram_bot_token_env, &n.telegram_chat_id, &n.telegram_api_base})
    add("notify", *v);
  const auto& tg = c.telegram;
  add("telegram", std::to_string(tg.enabled) + " " + tg.bot_token_env + " " + tg.bot_token_file + " " + tg.api_base +
                      " " + std::to_string(tg.poll_timeout_s));
  for (int64_t id : tg.allowed_chat_ids) add("chat", std::to_string(id));
  for (int64_t id : tg.allowed_user_ids) add("user", std::to_string(id));
  add("go", cf_go(c.cloudflared.go));
  for (const auto& t : c.tunnels) {
    add("tunnel", t.name + " " + std::to_string(static_cast<int>(t.kind)) + " " + std::to_string(t.port) + " " +
                      t.token_env + " " + std::to_string(t.autostart) + " " + std::to_string(t.line) + " " +
                      std::to_string(t.local) + " " + t.config_file + " " + t.local_tunnel + " " + cf_go(t.go));
    for (const auto& r : t.routes)
      add("route", r.hostname + " " + r.service + " " + std::to_string(r.origin.no_tls_verify) + " " +
                       r.origin.http_host_header + " " + std::to_string(r.origin.connect_timeout_s) + " " +
                       std::to_string(r.line));
  }
  return s;
}

struct Result {
  bool ok;
  std::vector<std::string> errors;
  std::string config;
};

Result parse(std::string_view text) {
  Config c;
  std::vector<ConfigError> errs;
  Result r;
  r.ok = parse_config(text, kFile, &c, &errs);
  for (const auto& e : errs) r.errors.push_back(e.str());

  size_t lines = 1;
  for (char ch : text) lines += ch == '\n';
  FUZZ_CHECK(r.ok == errs.empty(), std::to_string(errs.size()) + " errors, returned " + std::to_string(r.ok));
  for (const auto& e : errs) {
    std::string s = e.str();
    FUZZ_CHECK(e.file == kFile && starts_with(s, kFile + ":"), show(s));
    FUZZ_CHECK(e.line >= 0 && static_cast<size_t>(e.line) <= lines,
               show(s) + " in a file of " + std::to_string(lines) + " lines");
    FUZZ_CHECK(starts_with(s, e.line > 0 ? kFile + ":" + std::to_string(e.line) + ": " : kFile + ": "), show(s));
    FUZZ_CHECK(!e.message.empty(), show(s));
    FUZZ_CHECK(s.find('\n') == std::string::npos, "an error of more than one line: " + show(s));
  }
  if (!r.ok) return r;

  // A successful config holds only what the setters accept.
  FUZZ_CHECK(c.path == kFile, c.path);
  std::set<std::string> names;
  std::set<int> ports;
  for (const auto& t : c.tunnels) {
    FUZZ_CHECK(valid_tunnel_name(t.name), "tunnel name " + show(t.name));
    FUZZ_CHECK(names.insert(t.name).second, "two tunnels named " + show(t.name));
    FUZZ_CHECK(c.find_tunnel(t.name) == &t, t.name);
    FUZZ_CHECK(t.line >= 1 && static_cast<size_t>(t.line) <= lines, t.name + " at line " + std::to_string(t.line));
    for (const auto& r : t.routes) {
      FUZZ_CHECK(t.local || service_problem(r.service).empty(), show(r.service));
      FUZZ_CHECK(t.local || hostname_problem(r.hostname).empty(), show(r.hostname));
      FUZZ_CHECK(r.line >= 1 && static_cast<size_t>(r.line) <= lines,
                 r.hostname + " at line " + std::to_string(r.line));
    }
    // Keys of the other type are errors ("'port' only applies to type = quick").
    if (t.kind == TunnelKind::quick) {
      FUZZ_CHECK(t.port >= 1 && t.port <= 65535, t.name + " port " + std::to_string(t.port));
      FUZZ_CHECK(ports.insert(t.port).second, "port " + std::to_string(t.port) + " used twice");
      FUZZ_CHECK(t.routes.empty() && t.token_env.empty() && !t.local,
                 "quick tunnel " + t.name + " with routes, token_env " + show(t.token_env) + " or a config");
    } else {
      FUZZ_CHECK(t.port == 0, "named tunnel " + t.name + " with port " + std::to_string(t.port));
      FUZZ_CHECK(t.local ? t.token_env.empty() && starts_with(t.config_file, "/") : env_name(t.token_env),
                 t.name + " token_env " + show(t.token_env) + ", config " + show(t.config_file));
    }
  }
  FUZZ_CHECK(!c.agent.socket.empty() && c.agent.socket.size() < 108, show(c.agent.socket));
  FUZZ_CHECK(c.agent.socket_mode <= 0777, std::to_string(c.agent.socket_mode));
  FUZZ_CHECK(!c.agent.state_dir.empty(), "state_dir");
  FUZZ_CHECK(c.agent.max_clients >= 1 && c.agent.max_clients <= 4096, std::to_string(c.agent.max_clients));
  FUZZ_CHECK(!c.cloudflared.path.empty(), "cloudflared path");
  FUZZ_CHECK(c.cloudflared.protocol == "auto" || c.cloudflared.protocol == "quic" || c.cloudflared.protocol == "http2",
             show(c.cloudflared.protocol));
  for (const auto& a : c.cloudflared.extra_args)
    FUZZ_CHECK(!a.empty() && a != "--token" && !starts_with(a, "--token=") && a != "--url", show(a));
  const auto& w = c.watchdog;
  FUZZ_CHECK(w.backoff_initial_ms >= 1 && w.backoff_initial_ms <= w.backoff_max_ms && w.backoff_max_ms <= 86400000,
             std::to_string(w.backoff_initial_ms) + " " + std::to_string(w.backoff_max_ms));
  FUZZ_CHECK(w.stable_after_s >= 1 && w.unhealthy_after_s >= 0 && w.stop_grace_s >= 0 && w.start_wait_s >= 0 &&
                 w.max_restarts >= 0 && w.restart_window_s >= 1,
             "watchdog");
  const auto& net = c.network;
  FUZZ_CHECK(net.require == "default-route" || net.require == "any-route" || net.require == "none", show(net.require));
  FUZZ_CHECK(net.offline_action == "pause" || net.offline_action == "stop" || net.offline_action == "none",
             show(net.offline_action));
  FUZZ_CHECK(net.reconnect_grace_s >= 0 && net.spin_lines_per_s >= 0 && net.spin_after_s >= 1 &&
                 net.quic_fallback_after >= 0 && net.quic_retry_s >= 60,
             "network");
  FUZZ_CHECK(http_url(c.cloudflare.api_base), show(c.cloudflare.api_base));
  FUZZ_CHECK(env_name(c.cloudflare.api_token_env), show(c.cloudflare.api_token_env));
  FUZZ_CHECK(c.cloudflare.account_id.empty() || c.cloudflare.account_id.size() == 32, show(c.cloudflare.account_id));
  FUZZ_CHECK(!c.cloudflare.env_file.empty(), "env_file");
  FUZZ_CHECK(c.cloudflare.request_timeout_s >= 1 && c.cloudflare.request_timeout_s <= 300, "request_timeout_s");
  FUZZ_CHECK(c.notify.webhook.empty() || http_url(c.notify.webhook), show(c.notify.webhook));
  FUZZ_CHECK(c.notify.telegram_chat_id.empty() == c.notify.telegram_bot_token_env.empty(), "notify telegram");
  FUZZ_CHECK(http_url(c.notify.telegram_api_base), show(c.notify.telegram_api_base));
  if (c.telegram.enabled) {
    FUZZ_CHECK(!c.telegram.bot_token_env.empty() || !c.telegram.bot_token_file.empty(), "telegram token");
    FUZZ_CHECK(!c.telegram.allowed_chat_ids.empty() && !c.telegram.allowed_user_ids.empty(), "telegram ids");
  }
  FUZZ_CHECK(http_url(c.telegram.api_base), show(c.telegram.api_base));
  r.config = summary(c);
  return r;
}

std::string describe(const Result& r) {
  std::string s = r.ok ? "ok" : "failed";
  for (const auto& e : r.errors) s += "\n    " + e;
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result first = parse(text);
  Result again = parse(text);
  FUZZ_CHECK(first.ok == again.ok && first.errors == again.errors && first.config == again.config,
             "not deterministic: " + describe(first) + "\n  then " + describe(again));

  // CRLF line endings change nothing (for a text without CRs of its own).
  if (text.find('\r') == std::string_view::npos) {
    std::string crlf;
    for (char c : text) {
      if (c == '\n') crlf += '\r';
      crlf += c;
    }
    Result dos = parse(crlf);
    FUZZ_CHECK(first.ok == dos.ok && first.errors == dos.errors && first.config == dos.config,
               "LF: " + describe(first) + "\n  CRLF: " + describe(dos));
  }
  return 0;
}
