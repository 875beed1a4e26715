#include "supervisor.hpp"

#include <csignal>
#include <ctime>

#include "backoff.hpp"
#include "child.hpp"
#include "events.hpp"
#include "lifecycle.hpp"
#include "linkpolicy.hpp"
#include "localtunnel.hpp"
#include "log.hpp"
#include "logring.hpp"
#include "scanner.hpp"
#include "uvpp.hpp"

namespace tether {

using lifecycle::State;
using lifecycle::Step;

namespace {

constexpr size_t kFirstLines = 3;
constexpr size_t kMaxReason = 300;

std::string exit_text(int64_t status, int term_signal) {
  return term_signal ? "killed by " + signal_name(term_signal) : "exit status " + std::to_string(status);
}

std::string seconds_text(uint64_t ms) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

std::string cut(std::string s) {
  if (s.size() > kMaxReason) s = s.substr(0, kMaxReason) + "...";
  return s;
}

// A local tunnel's config.yml may have changed since the last spawn: its
// id and hostnames are read again. "" or the first error, with file:line.
std::string reread_local(TunnelSpec& spec) {
  LocalTunnel lt;
  std::vector<ConfigError> errors;
  if (!load_local_tunnel(spec.config_file, &lt, &errors)) return errors.front().str();
  spec.local_tunnel = lt.tunnel;
  spec.hostname.clear();
  spec.more_hostnames.clear();
  for (const auto& r : lt.ingress) {
    if (spec.hostname.empty()) spec.hostname = r.hostname;
    else spec.more_hostnames.push_back(r.hostname);
  }
  return "";
}

// Why a tunnel whose token is refused is given up, and how to get it back.
std::string bad_credentials(const std::string& credentials, const std::string& id) {
  return "bad credentials (" + credentials + "); fix the token, then 'restart " + id + "'";
}

}  // namespace

struct Supervisor::Tunnel {
  Tunnel(uv_loop_t* loop, TunnelSpec s)
      : spec(std::move(s)),
        backoff_timer(loop),
        health_timer(loop),
        stable_timer(loop),
        kill_timer(loop),
        grace_timer(loop),
        spin_timer(loop) {}

  struct Waiter {
    ReplyFn done;
    std::unique_ptr<Timer> timer;
  };

  TunnelSpec spec;
  State state = State::created;  // lifecycle.hpp chooses every next one
  std::unique_ptr<Child> child;
  std::string url;           // quick: the current child's URL
  std::vector<int> conns;    // registered connIndex values
  int conn_index = 0;        // of the last registration or unregistration
  uint64_t started_ms = 0;   // uv_now() at spawn
  int pid = 0;               // of the last child, dead or alive, for the state file
  uint64_t start_ticks = 0;  // its /proc start time
  int restarts = 0;
  int attempt = 0;  // backoff attempt since the last stable run
  uint64_t url_changes = 0;
  int metrics_port = 0;
  RestartWindow window;
  std::vector<std::string> first_lines;  // of the current child, to explain an early exit
  std::string last_error, last_exit;
  std::string credentials_error;  // the edge's Unauthorized message, until a registration
  bool token_rejected = false;    // cloudflared could not decode the token: no retry helps
  std::string ended;              // how the last child ended ("exit status 1")
  int64_t exit_status = 0;
  int exit_signal = 0;
  LogRing logs;
  Timer backoff_timer, health_timer, stable_timer, kill_timer;
  std::vector<Waiter> url_waiters;  // start/restart replies
  std::vector<ReplyFn> stop_waiters;
  std::string restart_reason;  // for the `restarted` event of the next spawn

  // Network-aware healing (linkpolicy.hpp decides, this carries it out).
  Timer grace_timer;          // back online: registered in time?
  Timer spin_timer;           // spinning: when to resume
  bool paused = false;        // the group is SIGSTOPped (offline or spinning)
  bool spawned_once = false;  // the first spawn says "starting", later ones "restarted"
  bool awaiting = false;      // back online, no registration yet
  bool http2 = false;         // the current child runs --protocol http2: QUIC blocked
  bool clock_error = false;   // certificates looked expired or not yet valid
  std::string spinning;       // status text while paused for spinning
  SpinDetector spin;
  QuicBlockDetector quic;
};

Supervisor::Supervisor(uv_loop_t* loop, const Config& cfg, EventBus& events, TokenLookup tokens)
    : loop_(loop), cfg_(cfg), events_(events), tokens_(std::move(tokens)), rng_(std::random_device{}()) {}

Supervisor::~Supervisor() = default;

void Supervisor::changed() {
  if (on_change_) on_change_();
}

void Supervisor::start(const TunnelSpec& spec, bool wait, ReplyFn done) {
  auto it = tunnels_.find(spec.id);
  if (it != tunnels_.end()) {
    Tunnel& t = *it->second;
    std::string url = public_url(t);
    done(Reply::Err("exists", "tunnel " + spec.id + " already exists (" + state_name(lifecycle::visible(t.state)) +
                                  (url.empty() ? "" : ", " + url) + "); stop it first"));
    return;
  }
  auto owned = std::make_unique<Tunnel>(loop_, spec);
  Tunnel& t = *owned;
  tunnels_.emplace(spec.id, std::move(owned));
  log_info("tunnel %s: starting (%s)", spec.id.c_str(), spec.kind == TunnelKind::quick ? "quick" : "named");
  handle(t, lifecycle::Event::start, "");
  changed();
  if (wait) {
    wait_for_url(t, std::move(done));
  } else {
    done(Reply::Ok(spec.id + " pending"));
  }
}

// "OK <id> <url>" for a tunnel that is up; a named tunnel without a host
// name (no zone, no hostname) is "OK <id> connected" rather than a blank URL.
Reply Supervisor::up_reply(const Tunnel& t) const {
  std::string url = public_url(t);
  size_t hosts = t.spec.more_hostnames.size() + 1;
  // Many routes: the first URL and how many there are (see 'status').
  Reply r = Reply::Ok(t.spec.id + " " + (url.empty() ? "connected" : url) +
                      (hosts > 1 && !url.empty() ? " (" + std::to_string(hosts) + " routes)" : ""));
  r.data["url"] = url.empty() ? nlohmann::json() : nlohmann::json(url);
  if (hosts > 1 && !url.empty()) r.data["routes"] = hosts;
  return r;
}

void Supervisor::wait_for_url(Tunnel& t, ReplyFn done) {
  bool ready = t.spec.kind == TunnelKind::quick ? !t.url.empty() : !t.conns.empty();
  if (ready) {
    done(up_reply(t));
    return;
  }
  if (cfg_.watchdog.start_wait_s == 0) {
    done(Reply::Ok(t.spec.id + " pending"));
    return;
  }
  Tunnel::Waiter w;
  w.done = std::move(done);
  w.timer = std::make_unique<Timer>(loop_);
  Timer* timer = w.timer.get();
  std::string id = t.spec.id;
  t.url_waiters.push_back(std::move(w));
  timer->start(static_cast<uint64_t>(cfg_.watchdog.start_wait_s) * 1000, [this, id, timer] {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) return;
    auto& ws = it->second->url_waiters;
    for (auto w = ws.begin(); w != ws.end(); ++w) {
      if (w->timer.get() != timer) continue;
      Reply r = Reply::Ok(id + " pending");
      if (!it->second->last_error.empty()) r.lines.push_back("last error: " + it->second->last_error);
      r.data["url"] = nullptr;
      ReplyFn reply = std::move(w->done);
      ws.erase(w);  // destroys the timer: nothing of it is used after this
      reply(r);
      return;
    }
  });
}

void Supervisor::answer_waiters(Tunnel& t, const Reply& r) {
  auto waiters = std::move(t.url_waiters);
  t.url_waiters.clear();
  for (auto& w : waiters) w.done(r);
}

std::vector<std::string> Supervisor::command_line(const Tunnel& t, const std::string& exe) const {
  std::vector<std::string> argv = {exe, "tunnel", "--no-autoupdate"};
  if (t.http2) argv.insert(argv.end(), {"--protocol", "http2"});
  else if (cfg_.cloudflared.protocol != "auto") argv.insert(argv.end(), {"--protocol", cfg_.cloudflared.protocol});
  if (t.metrics_port) argv.insert(argv.end(), {"--metrics", "127.0.0.1:" + std::to_string(t.metrics_port)});
  argv.insert(argv.end(), cfg_.cloudflared.extra_args.begin(), cfg_.cloudflared.extra_args.end());
  if (!t.spec.config_file.empty()) argv.insert(argv.end(), {"--config", t.spec.config_file});
  if (t.spec.kind == TunnelKind::quick)
    argv.insert(argv.end(), {"--url", "http://localhost:" + std::to_string(t.spec.port)});
  else argv.push_back("run");
  return argv;
}

// Starts the child; the state is already `starting` (apply). A child that
// cannot be started is an exit at once.
void Supervisor::spawn(Tunnel& t, const std::string& reason) {
  bool first = !t.spawned_once;
  t.spawned_once = true;
  t.http2 = cfg_.cloudflared.protocol == "auto" && quic_fallback_.active(uv_now(loop_));
  t.paused = false;
  t.awaiting = false;
  t.spinning.clear();
  t.spin.configure(static_cast<unsigned>(cfg_.network.spin_lines_per_s),
                   static_cast<unsigned>(cfg_.network.spin_after_s));
  t.spin.reset();
  t.quic.configure(static_cast<unsigned>(cfg_.network.quic_fallback_after));
  t.quic.reset();
  t.url.clear();
  t.conns.clear();
  t.first_lines.clear();
  t.credentials_error.clear();
  t.token_rejected = false;
  std::string exe = find_executable(cfg_.cloudflared.path);
  std::string err;
  std::vector<std::string> extra_env = go_environment(t.spec.go);
  if (exe.empty()) {
    err = "cloudflared not found ('" + cfg_.cloudflared.path + "')";
  } else if (!t.spec.config_file.empty()) {
    err = reread_local(t.spec);
  } else if (t.spec.kind == TunnelKind::named) {
    std::string token = tokens_ ? tokens_(t.spec, &err) : "";
    if (!token.empty()) extra_env.push_back("TUNNEL_TOKEN=" + token);
  }
  t.metrics_port = cfg_.cloudflared.metrics ? pick_free_port() : 0;
  auto child = std::make_unique<Child>(loop_);
  std::string id = t.spec.id;
  if (err.empty()) {
    child->spawn(
        command_line(t, exe), child_environment(extra_env, cfg_.cloudflared.pass_env),
        [this, id](std::string_view line) {
          auto it = tunnels_.find(id);
          if (it != tunnels_.end()) on_line(*it->second, line);
        },
        [this, id](int64_t status, int sig) {
          auto it = tunnels_.find(id);
          if (it != tunnels_.end()) on_exit(*it->second, status, sig);
        },
        &err);
  }
  if (!err.empty()) {
    log_error("tunnel %s: %s", id.c_str(), err.c_str());
    t.last_error = err;
    t.last_exit = "not started: " + err;
    events_.publish(id, EventKind::exited, "not started: " + err, {{"reason", err}});
    handle(t, lifecycle::Event::spawn_failed, err);
    return;
  }
  t.child = std::move(child);
  t.started_ms = uv_now(loop_);
  int pid = t.child->pid();
  t.pid = pid;
  t.start_ticks = t.child->start_ticks();
  if (reason.empty() || first) {
    events_.publish(id, EventKind::starting, "pid " + std::to_string(pid), {{"pid", pid}});
  } else {
    ++t.restarts;
    events_.publish(id, EventKind::restarted,
                    "restart " + std::to_string(t.restarts) + ", pid " + std::to_string(pid) + " (" + reason + ")",
                    {{"pid", pid}, {"restarts", t.restarts}, {"reason", reason}});
  }
  log_info("tunnel %s: cloudflared pid %d%s", id.c_str(), pid,
           t.metrics_port ? (", metrics 127.0.0.1:" + std::to_string(t.metrics_port)).c_str() : "");
  changed();
}

lifecycle::Facts Supervisor::facts(const Tunnel& t, lifecycle::Event e) const {
  lifecycle::Facts f;
  f.online = online_;
  f.shutting_down = shutting_down_;
  f.child_alive = t.child && t.child->running();
  f.connected = !t.conns.empty();
  f.up = f.connected || !t.url.empty();
  f.named = t.spec.kind == TunnelKind::named;
  f.credentials_error = !t.credentials_error.empty();
  f.token_rejected = t.token_rejected;
  if (e == lifecycle::Event::exited || e == lifecycle::Event::spawn_failed) {
    // Asked of a copy: only the table decides whether this exit counts.
    RestartWindow probe = t.window;
    const auto& w = cfg_.watchdog;
    f.restarts_used_up = probe.record(uv_now(loop_), w.max_restarts, static_cast<uint64_t>(w.restart_window_s) * 1000);
  }
  const std::string& action = cfg_.network.offline_action;
  f.offline_action = action == "pause"  ? lifecycle::OfflineAction::pause
                     : action == "stop" ? lifecycle::OfflineAction::stop
                                        : lifecycle::OfflineAction::leave;
  return f;
}

void Supervisor::handle(Tunnel& t, lifecycle::Event e, const std::string& why) {
  apply(t, e, lifecycle::next(t.state, e, facts(t, e)), why);
}

// Carries out one step of the table, in a fixed order. `why` is the
// reason a spawn, a restart or a failure gives. The tunnel may be gone
// afterwards (remove is last).
void Supervisor::apply(Tunnel& t, lifecycle::Event e, const Step& step, const std::string& why) {
  using namespace lifecycle;
  const std::string id = t.spec.id;
  const auto& w = cfg_.watchdog;
  const State from = t.state;
  t.state = step.state;
  // The reason the next spawn gives, chosen when the child's end is decided.
  if (step.state == State::restarting && (from != State::restarting || e == lifecycle::Event::restart))
    t.restart_reason = why;
  if (step.state == State::offline_ending && from != State::offline_ending) t.restart_reason = "network back";
  std::string last = why;  // what a failure or a backoff is about
  if (step.has(kRecordExit)) {
    t.last_exit = t.ended;
    log_info("tunnel %s: cloudflared ended (%s)%s", id.c_str(), t.ended.c_str(),
             visible(t.state) == TunnelState::offline ? " while offline" : "");
  }
  if (step.has(kReportCrash)) {
    // Exit 0 too: cloudflared exits 0 on a misplaced flag, with its usage
    // text as the only explanation.
    std::string reason =
        t.exit_status == 0 && !t.exit_signal && !t.first_lines.empty() ? t.first_lines.front() : t.last_error;
    t.last_exit = t.ended + (reason.empty() ? "" : ": " + reason);
    log_warn("tunnel %s: cloudflared %s", id.c_str(), t.last_exit.c_str());
    nlohmann::json fields = {{"reason", reason}};
    if (t.exit_signal) fields["signal"] = signal_name(t.exit_signal);
    else fields["status"] = t.exit_status;
    events_.publish(id, EventKind::exited, t.last_exit, fields);
    last = t.last_exit;
  }
  if (step.has(kCountRestart))
    t.window.record(uv_now(loop_), w.max_restarts, static_cast<uint64_t>(w.restart_window_s) * 1000);
  if (step.has(kFailRestarts))
    give_up(t, "gave up after " + std::to_string(w.max_restarts) + " restarts within " +
                   std::to_string(w.restart_window_s) + "s (last: " + last + ")");
  if (step.has(kFailCredentials)) give_up(t, bad_credentials(t.credentials_error, id));
  if (step.has(kResetAttempts)) t.attempt = 0;
  bool alive = t.child && t.child->running();
  if (step.has(kTerminate)) terminate(t);
  if (step.has(kKill) && alive) t.child->signal_group(SIGKILL);
  if (step.has(kPause) && alive) {
    if (!t.paused) t.child->signal_group(SIGSTOP);
    t.paused = true;
  }
  if (step.has(kResume) && alive) {
    if (t.paused) t.child->signal_group(SIGCONT);
    t.paused = false;
  }
  if (step.has(kCancelBackoff)) t.backoff_timer.stop();
  if (step.has(kArmBackoff)) arm_backoff(t, last);
  if (step.has(kAnnounceOffline)) announce_offline(t, e, step);
  if (step.has(kAnnounceOnline)) events_.publish(id, EventKind::online, "network back", {});
  if (step.has(kSpawn)) spawn(t, why);
  if (step.has(kAwaitReconnect)) await_reconnect(t);
  if (step.has(kNotifyConnected))
    events_.publish(id, EventKind::connected, "connIndex " + std::to_string(t.conn_index),
                    {{"conn_index", t.conn_index}});
  if (step.has(kNotifyDisconnected))
    events_.publish(id, EventKind::disconnected, "no registered connection", {{"conn_index", t.conn_index}});
  if (step.has(kAnswerUrl)) {
    Reply r = Reply::Ok(id + " " + t.url);
    r.data["url"] = t.url;
    answer_waiters(t, r);
  }
  if (step.has(kAnswerUp)) answer_waiters(t, up_reply(t));
  sync_timers(t);
  if (step.has(kCheckShutdown)) check_shutdown_done();
  if (step.has(kRemove)) {
    std::string detail = e == lifecycle::Event::exited ? t.ended
                         : step.state == State::failed ? "was failed"
                                                       : "was waiting to respawn";
    remove(id, detail);
  }
}

// The timers that belong to the state: the health timer runs while a live
// child has no connection, the stable timer while running; the others end
// with the states they serve.
void Supervisor::sync_timers(Tunnel& t) {
  using namespace lifecycle;
  bool alive = t.child && t.child->running();
  if (health_watched(t.state) && alive && t.conns.empty() && cfg_.watchdog.unhealthy_after_s > 0) {
    if (!t.health_timer.active()) {
      std::string id = t.spec.id;
      t.health_timer.start(static_cast<uint64_t>(cfg_.watchdog.unhealthy_after_s) * 1000, [this, id] {
        auto it = tunnels_.find(id);
        if (it != tunnels_.end()) unhealthy(*it->second);
      });
    }
  } else {
    t.health_timer.stop();
  }
  if (stable_watched(t.state)) {
    if (!t.stable_timer.active()) {
      std::string id = t.spec.id;
      t.stable_timer.start(static_cast<uint64_t>(cfg_.watchdog.stable_after_s) * 1000, [this, id] {
        auto it = tunnels_.find(id);
        if (it == tunnels_.end()) return;
        it->second->attempt = 0;
        log_debug("tunnel %s: stable, backoff reset", id.c_str());
      });
    }
  } else {
    t.stable_timer.stop();
  }
  if (t.state != State::backoff) t.backoff_timer.stop();
  if (!kill_allowed(t.state)) t.kill_timer.stop();
  if (!reconnect_allowed(t.state)) t.grace_timer.stop();
}

void Supervisor::arm_backoff(Tunnel& t, const std::string& reason) {
  const auto& w = cfg_.watchdog;
  ++t.attempt;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  uint64_t delay = backoff_delay_ms(t.attempt, static_cast<uint64_t>(w.backoff_initial_ms),
                                    static_cast<uint64_t>(w.backoff_max_ms), unit(rng_));
  events_.publish(t.spec.id, EventKind::backoff, "respawn in " + seconds_text(delay),
                  {{"delay_ms", delay}, {"attempt", t.attempt}, {"reason", reason}});
  std::string id = t.spec.id;
  t.restart_reason = "after " + reason;
  // The loop's clock was read before this exit was processed; without an
  // update the respawn could come sooner than `delay` after the exit event.
  uv_update_time(loop_);
  t.backoff_timer.start(delay, [this, id] {
    auto it = tunnels_.find(id);
    if (it != tunnels_.end()) handle(*it->second, lifecycle::Event::backoff_due, it->second->restart_reason);
  });
}

// Offline: what became of the child is in the event. The registered
// connections are kept (and shown as 0): a short outage may leave them
// alive, and the child's `Unregistered` after it resumes says otherwise.
void Supervisor::announce_offline(Tunnel& t, lifecycle::Event e, const Step& step) {
  const std::string& action = cfg_.network.offline_action;
  std::string detail = offline_why_;
  if (e != lifecycle::Event::network_lost) {
    detail += "; waiting for the route";
  } else {
    t.grace_timer.stop();
    t.spin_timer.stop();
    t.awaiting = false;
    t.spinning.clear();
    if (step.has(lifecycle::kPause) && t.child)
      detail += "; cloudflared pid " + std::to_string(t.child->pid()) + " paused";
    if (step.has(lifecycle::kTerminate)) detail += "; cloudflared stopped";
  }
  events_.publish(t.spec.id, EventKind::offline, detail, {{"reason", offline_why_}, {"action", action}});
}

// cloudflared's own re-dial after an outage waits a random 0-20 s (or
// more): a tunnel not registered in reconnect_grace_s gets a new process.
void Supervisor::await_reconnect(Tunnel& t) {
  t.spin.rearm();
  t.awaiting = true;
  std::string id = t.spec.id;
  t.grace_timer.start(static_cast<uint64_t>(cfg_.network.reconnect_grace_s) * 1000, [this, id] {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end() || !it->second->awaiting) return;
    it->second->awaiting = false;
    if (!it->second->conns.empty()) return;  // its connection lived through the outage
    restart_now(*it->second,
                "not registered " + std::to_string(cfg_.network.reconnect_grace_s) + "s after the network came back");
  });
}

void Supervisor::on_line(Tunnel& t, std::string_view raw) {
  std::string line = redacted(std::string(raw));
  t.logs.push(line);
  if (t.first_lines.size() < kFirstLines && !line.empty()) t.first_lines.push_back(cut(line));
  LineInfo info = scan_line(line);
  if (info.is_error()) t.last_error = cut(std::string(info.message));
  const std::string& id = t.spec.id;
  auto ending = [&t] { return lifecycle::visible(t.state) == TunnelState::stopping; };
  if (!ending() && t.child) {
    watch_line(t, info, line);
    if (!t.child || ending()) return;  // restarted or paused for good
  }
  switch (info.kind) {
    case LineInfo::Kind::url:
      if (t.spec.kind != TunnelKind::quick || info.url == t.url) break;
      t.url = info.url;
      ++t.url_changes;
      events_.publish(id, EventKind::url, t.url, {{"url", t.url}});
      handle(t, lifecycle::Event::url, "");
      break;
    case LineInfo::Kind::registered: {
      bool first = t.conns.empty();
      if (std::find(t.conns.begin(), t.conns.end(), info.conn_index) == t.conns.end())
        t.conns.push_back(info.conn_index);
      t.conn_index = info.conn_index;
      t.credentials_error.clear();
      t.clock_error = false;
      t.quic.connected();
      if (t.awaiting) {
        t.awaiting = false;
        t.grace_timer.stop();
      }
      if (first) handle(t, lifecycle::Event::registered, "");
      break;
    }
    case LineInfo::Kind::unregistered: {
      auto c = std::find(t.conns.begin(), t.conns.end(), info.conn_index);
      if (c == t.conns.end()) break;
      t.conns.erase(c);
      t.conn_index = info.conn_index;
      if (t.conns.empty()) handle(t, lifecycle::Event::unregistered, "");
      break;
    }
    case LineInfo::Kind::unauthorized:
      if (!info.record) t.token_rejected = true;
      if (!t.credentials_error.empty()) break;
      t.credentials_error = cut(std::string(info.message));
      log_warn("tunnel %s: the edge refuses its credentials: %s", id.c_str(), t.credentials_error.c_str());
      events_.publish(id, EventKind::credentials, "bad credentials: " + t.credentials_error,
                      {{"error", t.credentials_error}});
      break;
    case LineInfo::Kind::shutdown:
      if (!ending())
        log_warn("tunnel %s: cloudflared is shutting down on its own (signal from elsewhere?)", id.c_str());
      break;
    case LineInfo::Kind::dial_failed:
    case LineInfo::Kind::conn_failed:
    case LineInfo::Kind::none: break;
  }
  // Back online, a named tunnel whose child reports its last connection
  // gone will sit in cloudflared's random re-dial delay: a new process
  // keeps the hostname and dials at once. A quick one keeps its URL only in
  // the same process, so it gets reconnect_grace_s first.
  bool failure = info.kind == LineInfo::Kind::dial_failed || info.kind == LineInfo::Kind::conn_failed ||
                 info.kind == LineInfo::Kind::unregistered;
  if (failure && t.awaiting && t.spec.kind == TunnelKind::named && t.conns.empty() && t.child)
    restart_now(t, "lost its connection while the network was away");
}

void Supervisor::on_exit(Tunnel& t, int64_t status, int term_signal) {
  t.ended = exit_text(status, term_signal);
  t.exit_status = status;
  t.exit_signal = term_signal;
  t.child.reset();
  t.conns.clear();
  t.url.clear();  // a quick tunnel's URL dies with its child
  t.health_timer.stop();
  t.stable_timer.stop();
  t.kill_timer.stop();
  t.grace_timer.stop();
  t.spin_timer.stop();
  t.paused = false;
  t.awaiting = false;
  t.spinning.clear();
  handle(t, lifecycle::Event::exited, t.restart_reason);
}

// ---- Network-aware healing ---------------------------------------------
// linkpolicy.hpp decides; what follows only carries the decisions out.

void Supervisor::set_online(bool online, const std::string& why) {
  if (online == online_) return;
  online_ = online;
  offline_why_ = online ? "" : why;
  // A network change is the moment to try QUIC again.
  quic_fallback_.clear();
  log_info("network %s (%s): %zu tunnel%s", online ? "back" : "gone", why.c_str(), tunnels_.size(),
           tunnels_.size() == 1 ? "" : "s");
  std::vector<std::string> all = ids();
  for (const auto& id : all) {
    auto it = tunnels_.find(id);
    if (it != tunnels_.end())
      handle(*it->second, online ? lifecycle::Event::network_back : lifecycle::Event::network_lost, "network back");
  }
  changed();
}

// A new child at once, backoff or not. A child without a registered
// connection has nothing to unregister (and cloudflared in its re-dial
// backoff waits out its whole grace period on SIGTERM): SIGKILL.
void Supervisor::restart_now(Tunnel& t, const std::string& reason) {
  if (!lifecycle::healable(t.state)) return;
  t.awaiting = false;
  t.grace_timer.stop();
  t.spin_timer.stop();
  log_info("tunnel %s: restarting now: %s", t.spec.id.c_str(), reason.c_str());
  handle(t, lifecycle::Event::heal, reason);
}

// Paused for the current backoff delay, then resumed; logged once per
// episode (the detector says which verdict is the first).
void Supervisor::spin_pause(Tunnel& t, bool first) {
  const auto& w = cfg_.watchdog;
  ++t.attempt;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  uint64_t delay = backoff_delay_ms(t.attempt, static_cast<uint64_t>(w.backoff_initial_ms),
                                    static_cast<uint64_t>(w.backoff_max_ms), unit(rng_));
  unsigned rate = t.spin.rate();
  t.child->signal_group(SIGSTOP);
  t.paused = true;
  t.spinning = "paused for " + seconds_text(delay) + " (" + std::to_string(rate) + " error lines/s)";
  if (first) {
    log_warn("tunnel %s: cloudflared is spinning (%u error lines/s); pausing it for %s at a time", t.spec.id.c_str(),
             rate, seconds_text(delay).c_str());
    events_.publish(t.spec.id, EventKind::spinning, t.spinning, {{"lines_per_s", rate}, {"delay_ms", delay}});
  }
  std::string id = t.spec.id;
  t.spin_timer.start(delay, [this, id] {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) return;
    Tunnel& t = *it->second;
    if (!t.child || !t.paused || lifecycle::visible(t.state) == TunnelState::offline) return;
    t.child->signal_group(SIGCONT);
    t.paused = false;
    t.spinning = "resumed after a pause (" + std::to_string(t.spin.rate()) + " error lines/s before)";
    t.spin.rearm();
  });
}

// QUIC dials keep timing out while a route exists: UDP to the edge is
// dropped. Every tunnel on `auto` that is not connected moves to HTTP/2 now.
void Supervisor::quic_blocked(Tunnel& t) {
  quic_fallback_.declare(uv_now(loop_));
  log_warn(
      "tunnel %s: %u QUIC dials timed out while online: UDP to the edge looks blocked; using HTTP/2 for %ds "
      "or until the network changes",
      t.spec.id.c_str(), t.quic.count(), cfg_.network.quic_retry_s);
  std::vector<std::string> all = ids();
  for (const auto& id : all) {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) continue;
    Tunnel& o = *it->second;
    if (!lifecycle::waiting_for_edge(o.state, !o.conns.empty()) || o.http2) continue;
    events_.publish(id, EventKind::protocol, "http2 (quic blocked)",
                    {{"protocol", "http2"}, {"reason", "quic blocked"}});
    restart_now(o, "QUIC blocked, switching to HTTP/2");
  }
}

// What a line means for healing: spinning, QUIC blocked, the clock, and a
// named tunnel that lost its connection while the network was away.
void Supervisor::watch_line(Tunnel& t, const LineInfo& info, const std::string& line) {
  if (info.is_error()) {
    if (!t.clock_error && clockpolicy::is_clock_error(line)) t.clock_error = true;
    if (!t.paused) {
      SpinDetector::Verdict v = t.spin.line(uv_now(loop_));
      if (v != SpinDetector::Verdict::no) {
        spin_pause(t, v == SpinDetector::Verdict::started);
        return;
      }
    }
  }
  if (info.kind == LineInfo::Kind::dial_failed && info.quic_timeout && !t.http2 &&
      cfg_.cloudflared.protocol == "auto" && t.conns.empty() && t.quic.dial_timeout(online_)) {
    quic_blocked(t);
    return;
  }
}

void Supervisor::clock_stepped() {
  std::vector<std::string> all = ids();
  for (const auto& id : all) {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) continue;
    Tunnel& t = *it->second;
    if (!lifecycle::healable(t.state)) continue;
    bool alive = t.child && t.child->running();
    clockpolicy::Action a = clockpolicy::on_step(t.clock_error, alive, !t.conns.empty());
    t.clock_error = false;
    if (a == clockpolicy::Action::none) continue;
    log_info("tunnel %s: the clock was set; %s now", id.c_str(), alive ? "restarting" : "respawning");
    restart_now(t, "the clock was set");
  }
}

void Supervisor::give_up(Tunnel& t, const std::string& why) {
  log_error("tunnel %s: %s", t.spec.id.c_str(), why.c_str());
  t.last_exit = why;
  events_.publish(t.spec.id, EventKind::failed, why, {{"reason", why}});
  answer_waiters(t, Reply::Err("failed", "tunnel " + t.spec.id + " " + why));
}

// No registered connection for unhealthy_after_s: a fresh process resets
// cloudflared's own backoff, which can leave it idle for minutes after the
// network comes back (docs/cloudflared.md §10). Bad credentials do not get
// better by restarting, so such a tunnel is reported and left alone instead
// (the table's choice).
void Supervisor::unhealthy(Tunnel& t) {
  std::string why = "no registered connection for " + std::to_string(cfg_.watchdog.unhealthy_after_s) + "s";
  if (t.credentials_error.empty()) log_warn("tunnel %s: unhealthy, %s; restarting it", t.spec.id.c_str(), why.c_str());
  handle(t, lifecycle::Event::unhealthy, "unhealthy: " + why);
}

// SIGTERM (and SIGCONT, in case it was stopped) to the whole group; SIGKILL
// after the grace period. What the exit means is the state's (on_exit()).
void Supervisor::terminate(Tunnel& t) {
  if (!t.child || !t.child->running() || t.kill_timer.active()) return;
  t.child->signal_group(SIGTERM);
  t.child->signal_group(SIGCONT);
  std::string id = t.spec.id;
  t.kill_timer.start(static_cast<uint64_t>(cfg_.watchdog.stop_grace_s) * 1000, [this, id] {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end() || !it->second->child) return;
    log_warn("tunnel %s: still running %ds after SIGTERM; sending SIGKILL", id.c_str(), cfg_.watchdog.stop_grace_s);
    it->second->child->signal_group(SIGKILL);
  });
}

void Supervisor::stop(const std::string& id, ReplyFn done) {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) {
    done(no_such_tunnel(id));
    return;
  }
  it->second->stop_waiters.push_back(std::move(done));
  handle(*it->second, lifecycle::Event::stop, "");
  if (exists(id)) changed();
}

void Supervisor::remove(const std::string& id, const std::string& detail) {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return;
  std::unique_ptr<Tunnel> t = std::move(it->second);
  tunnels_.erase(it);
  answer_waiters(*t, Reply::Err("stopped", "tunnel " + id + " was stopped before it was up"));
  events_.publish(id, EventKind::stopped, detail);
  log_info("tunnel %s: stopped (%s)", id.c_str(), detail.c_str());
  changed();
  for (auto& w : t->stop_waiters) w(Reply::Ok("stopped " + id));
  // A tunnel stopped for good may be the last child an agent shutdown waits for.
  check_shutdown_done();
}

bool Supervisor::update_routes(const TunnelSpec& spec) {
  auto it = tunnels_.find(spec.id);
  if (it == tunnels_.end()) return false;
  it->second->spec = spec;
  changed();
  return true;
}

void Supervisor::restart(const std::string& id, ReplyFn done, const TunnelSpec* new_spec) {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) {
    done(no_such_tunnel(id));
    return;
  }
  Tunnel& t = *it->second;
  Step step = lifecycle::next(t.state, lifecycle::Event::restart, facts(t, lifecycle::Event::restart));
  if (step.has(lifecycle::kReplyBusy)) {
    done(Reply::Err("busy", "tunnel " + id + " is being stopped"));
    return;
  }
  if (new_spec) t.spec = *new_spec;
  if (step.state == State::restarting) {
    // The reply is about the new child: the old URL and connections die
    // with the old one.
    t.url.clear();
    t.conns.clear();
  }
  apply(t, lifecycle::Event::restart, step, "restart requested");
  auto again = tunnels_.find(id);
  if (again != tunnels_.end()) wait_for_url(*again->second, std::move(done));
}

void Supervisor::killall(ReplyFn done) {
  std::vector<std::string> all = ids();
  if (all.empty()) {
    done(Reply::Ok("stopped 0 tunnels"));
    return;
  }
  auto left = std::make_shared<size_t>(all.size());
  size_t total = all.size();
  for (const auto& id : all) {
    stop(id, [left, total, done](Reply) {
      if (--*left == 0) done(Reply::Ok("stopped " + std::to_string(total) + " tunnels"));
    });
  }
}

void Supervisor::shutdown(std::function<void()> done) {
  shutting_down_ = true;
  shutdown_done_ = std::move(done);
  std::vector<std::string> all = ids();
  for (const auto& id : all) {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) continue;
    answer_waiters(*it->second, Reply::Err("shutdown", "the agent is shutting down"));
    handle(*it->second, lifecycle::Event::shutdown, "");
  }
  check_shutdown_done();
}

void Supervisor::kill_now() {
  for (auto& kv : tunnels_)
    if (kv.second->child) kv.second->child->signal_group(SIGKILL);
}

void Supervisor::check_shutdown_done() {
  if (!shutting_down_ || !shutdown_done_) return;
  for (auto& kv : tunnels_)
    if (kv.second->child) return;
  auto done = std::move(shutdown_done_);
  shutdown_done_ = nullptr;
  done();
}

void Supervisor::for_each(const RecordFn& fn) const {
  for (const auto& kv : tunnels_) {
    const Tunnel& t = *kv.second;
    // A dead child's pid stays: its start time tells it from a reuse, and
    // not writing the exit saves the flash one write per crash.
    fn(t.spec, t.state != State::stopping, t.pid, t.start_ticks);
  }
}

const TunnelSpec* Supervisor::spec(const std::string& id) const {
  auto it = tunnels_.find(id);
  return it == tunnels_.end() ? nullptr : &it->second->spec;
}

int Supervisor::pid(const std::string& id) const {
  auto it = tunnels_.find(id);
  return it == tunnels_.end() || !it->second->child ? 0 : it->second->child->pid();
}

std::vector<std::string> Supervisor::ids() const {
  std::vector<std::string> out;
  for (const auto& kv : tunnels_) out.push_back(kv.first);
  return out;
}

std::string Supervisor::public_url(const Tunnel& t) const {
  if (t.spec.kind == TunnelKind::quick) return t.url;
  return t.spec.hostname.empty() ? "" : "https://" + t.spec.hostname;
}

TunnelInfo Supervisor::snapshot(const Tunnel& t) const {
  TunnelInfo i;
  i.id = t.spec.id;
  i.kind = t.spec.kind;
  i.state = state_name(lifecycle::visible(t.state));
  i.url = public_url(t);
  if (t.spec.kind == TunnelKind::named && !t.spec.hostname.empty()) {
    i.hostnames = {t.spec.hostname};
    i.hostnames.insert(i.hostnames.end(), t.spec.more_hostnames.begin(), t.spec.more_hostnames.end());
  }
  i.config_file = t.spec.config_file;
  i.local_tunnel = t.spec.local_tunnel;
  i.pid = t.child ? t.child->pid() : 0;
  i.uptime_s = t.child ? static_cast<int64_t>((uv_now(loop_) - t.started_ms) / 1000) : -1;
  i.restarts = t.restarts;
  i.connections = static_cast<int>(t.conns.size());
  i.last_exit = t.last_exit;
  i.last_error = t.last_error;
  i.credentials_error = t.credentials_error;
  i.metrics_port = t.child ? t.metrics_port : 0;
  i.next_restart_ms = t.backoff_timer.active() ? static_cast<int64_t>(t.backoff_timer.due_in()) : -1;
  i.url_changes = t.url_changes;
  i.origin = t.spec.section.empty() ? "runtime" : "config";
  i.protocol = t.http2 ? "http2" : cfg_.cloudflared.protocol;
  i.quic_blocked = t.http2;
  if (lifecycle::visible(t.state) == TunnelState::offline) {
    i.network = "offline (" + offline_why_ + ")";
    if (t.paused) i.network += ", cloudflared paused";
    else if (!t.child) i.network += ", waiting for the route";
    i.connections = 0;
  }
  if (t.child) i.spinning = t.spinning;
  i.clock_unsynced = t.clock_error && clock_unsynced_ && clock_unsynced_();
  return i;
}

std::vector<TunnelInfo> Supervisor::infos() const {
  std::vector<TunnelInfo> out;
  out.reserve(tunnels_.size());
  for (const auto& kv : tunnels_) out.push_back(snapshot(*kv.second));
  return out;
}

bool Supervisor::info(const std::string& id, TunnelInfo* out) const {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return false;
  *out = snapshot(*it->second);
  return true;
}

bool Supervisor::logs(const std::string& id, size_t n, std::vector<std::string>* out) const {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return false;
  *out = it->second->logs.tail(n);
  return true;
}

}  // namespace tether
