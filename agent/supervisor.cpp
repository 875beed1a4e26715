#include "supervisor.hpp"

#include <csignal>
#include <ctime>

#include "backoff.hpp"
#include "child.hpp"
#include "events.hpp"
#include "log.hpp"
#include "linkpolicy.hpp"
#include "logring.hpp"
#include "scanner.hpp"
#include "uvpp.hpp"

namespace tether {
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

// Why a tunnel whose token is refused is given up, and how to get it back.
std::string bad_credentials(const std::string& credentials, const std::string& id) {
  return "bad credentials (" + credentials + "); fix the token, then 'restart " + id + "'";
}

}  // namespace

Reply no_such_tunnel(const std::string& id) {
  return Reply::Err("notfound", "no tunnel '" + id + "' (see 'list')");
}

const char* state_name(TunnelState s) {
  switch (s) {
    case TunnelState::starting: return "starting";
    case TunnelState::running: return "running";
    case TunnelState::degraded: return "degraded";
    case TunnelState::backoff: return "backoff";
    case TunnelState::stopping: return "stopping";
    case TunnelState::failed: return "failed";
    case TunnelState::offline: return "offline";
  }
  return "?";
}

bool TunnelSpec::operator==(const TunnelSpec& o) const {
  return id == o.id && kind == o.kind && port == o.port && hostname == o.hostname && token_env == o.token_env &&
         section == o.section;
}

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
  TunnelState state = TunnelState::starting;
  std::unique_ptr<Child> child;
  std::string url;               // quick: the current child's URL
  std::vector<int> conns;        // registered connIndex values
  uint64_t started_ms = 0;       // uv_now() at spawn
  int pid = 0;                   // of the last child, dead or alive, for the state file
  uint64_t start_ticks = 0;      // its /proc start time
  int restarts = 0;
  int attempt = 0;               // backoff attempt since the last stable run
  uint64_t url_changes = 0;
  int metrics_port = 0;
  RestartWindow window;
  std::vector<std::string> first_lines;  // of the current child, to explain an early exit
  std::string last_error, last_exit, credentials;
  bool token_rejected = false;  // cloudflared could not decode the token: no retry helps
  LogRing logs;
  Timer backoff_timer, health_timer, stable_timer, kill_timer;
  std::vector<Waiter> url_waiters;   // start/restart replies
  std::vector<ReplyFn> stop_waiters;
  // What the next exit of the child means. Unexpected exits go through
  // backoff; a restart respawns at once; a stop removes the tunnel; at agent
  // shutdown, or once given up, the tunnel stays as it is.
  // offline: ended because the network went away (offline_action = stop);
  // it waits in `offline` for the route.
  enum class After { backoff, respawn, remove, keep, offline } after_exit = After::backoff;
  std::string restart_reason;

  // Network-aware healing (linkpolicy.hpp decides, this carries it out).
  Timer grace_timer;              // back online: registered in time?
  Timer spin_timer;               // spinning: when to resume
  bool paused = false;            // the group is SIGSTOPped (offline or spinning)
  bool spawned_once = false;      // the first spawn says "starting", later ones "restarted"
  bool awaiting = false;          // back online, no registration yet
  bool http2 = false;             // the current child runs --protocol http2: QUIC blocked
  bool clock_error = false;       // certificates looked expired or not yet valid
  std::string spinning;           // status text while paused for spinning
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
    done(Reply::Err("exists", "tunnel " + spec.id + " already exists (" + state_name(t.state) +
                                  (url.empty() ? "" : ", " + url) + "); stop it first"));
    return;
  }
  auto owned = std::make_unique<Tunnel>(loop_, spec);
  Tunnel& t = *owned;
  tunnels_.emplace(spec.id, std::move(owned));
  log_info("tunnel %s: starting (%s)", spec.id.c_str(), spec.kind == TunnelKind::quick ? "quick" : "named");
  spawn(t, "");
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
  Reply r = Reply::Ok(t.spec.id + " " + (url.empty() ? "connected" : url));
  r.data["url"] = url.empty() ? nlohmann::json() : nlohmann::json(url);
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
  if (t.spec.kind == TunnelKind::quick)
    argv.insert(argv.end(), {"--url", "http://localhost:" + std::to_string(t.spec.port)});
  else
    argv.push_back("run");
  return argv;
}

void Supervisor::spawn(Tunnel& t, const std::string& reason) {
  if (!online_ && !shutting_down_) {
    // Nothing could connect: wait for the route instead (set_online).
    t.backoff_timer.stop();
    if (t.state != TunnelState::offline)
      events_.publish(t.spec.id, "offline", offline_why_ + "; waiting for the route",
                      {{"reason", offline_why_}, {"action", cfg_.network.offline_action}});
    enter(t, TunnelState::offline);
    return;
  }
  bool first = !t.spawned_once;
  t.spawned_once = true;
  t.http2 = cfg_.cloudflared.protocol == "auto" && quic_fallback_.active(uv_now(loop_));
  t.paused = false;
  t.awaiting = false;
  t.spinning.clear();
  t.spin.configure(static_cast<unsigned>(cfg_.network.spin_lines_per_s), static_cast<unsigned>(cfg_.network.spin_after_s));
  t.spin.reset();
  t.quic.configure(static_cast<unsigned>(cfg_.network.quic_fallback_after));
  t.quic.reset();
  t.url.clear();
  t.conns.clear();
  t.first_lines.clear();
  t.credentials.clear();
  t.token_rejected = false;
  std::string exe = find_executable(cfg_.cloudflared.path);
  std::string err;
  std::vector<std::string> extra_env;
  if (exe.empty()) {
    err = "cloudflared not found ('" + cfg_.cloudflared.path + "')";
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
    // Nothing runs: the same path as a child that died at once.
    log_error("tunnel %s: %s", id.c_str(), err.c_str());
    t.last_error = err;
    t.last_exit = "not started: " + err;
    events_.publish(id, "exited", "not started: " + err, {{"reason", err}});
    schedule_respawn(t, err);
    return;
  }
  t.child = std::move(child);
  t.started_ms = uv_now(loop_);
  int pid = t.child->pid();
  t.pid = pid;
  t.start_ticks = t.child->start_ticks();
  if (reason.empty() || first) {
    events_.publish(id, "starting", "pid " + std::to_string(pid), {{"pid", pid}});
  } else {
    ++t.restarts;
    events_.publish(id, "restarted", "restart " + std::to_string(t.restarts) + ", pid " + std::to_string(pid) +
                                         " (" + reason + ")",
                    {{"pid", pid}, {"restarts", t.restarts}, {"reason", reason}});
  }
  log_info("tunnel %s: cloudflared pid %d%s", id.c_str(), pid,
           t.metrics_port ? (", metrics 127.0.0.1:" + std::to_string(t.metrics_port)).c_str() : "");
  enter(t, TunnelState::starting);
  changed();
}

// Every state change goes through here, with the timers that belong to the
// new state: the health timer runs while alive without a connection, the
// stable timer while running.
void Supervisor::enter(Tunnel& t, TunnelState s) {
  t.state = s;
  bool watched = t.child && t.child->running() &&
                 (s == TunnelState::starting || s == TunnelState::running || s == TunnelState::degraded);
  if (watched && t.conns.empty() && cfg_.watchdog.unhealthy_after_s > 0) {
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
  if (s == TunnelState::running) {
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
  if (s != TunnelState::backoff) t.backoff_timer.stop();
  if (s != TunnelState::stopping && s != TunnelState::offline) t.kill_timer.stop();
  if (s != TunnelState::offline && s != TunnelState::starting && s != TunnelState::running &&
      s != TunnelState::degraded)
    t.grace_timer.stop();
}

void Supervisor::on_line(Tunnel& t, std::string_view raw) {
  std::string line = redacted(std::string(raw));
  t.logs.push(line);
  if (t.first_lines.size() < kFirstLines && !line.empty()) t.first_lines.push_back(cut(line));
  LineInfo info = scan_line(line);
  if (info.is_error()) t.last_error = cut(std::string(info.message));
  const std::string& id = t.spec.id;
  bool live = t.state != TunnelState::stopping;
  if (live && t.child) {
    watch_line(t, info, line);
    if (!t.child || t.state == TunnelState::stopping) return;  // restarted or paused for good
  }
  switch (info.kind) {
    case LineInfo::Kind::url:
      if (t.spec.kind != TunnelKind::quick || info.url == t.url) break;
      t.url = info.url;
      ++t.url_changes;
      events_.publish(id, "url", t.url, {{"url", t.url}});
      if (!live) break;
      if (t.state == TunnelState::starting) enter(t, TunnelState::running);
      answer_waiters(t, [&] {
        Reply r = Reply::Ok(id + " " + t.url);
        r.data["url"] = t.url;
        return r;
      }());
      break;
    case LineInfo::Kind::registered: {
      bool first = t.conns.empty();
      if (std::find(t.conns.begin(), t.conns.end(), info.conn_index) == t.conns.end())
        t.conns.push_back(info.conn_index);
      t.credentials.clear();
      t.clock_error = false;
      t.quic.connected();
      if (t.awaiting) {
        t.awaiting = false;
        t.grace_timer.stop();
      }
      if (!first || !live || t.state == TunnelState::offline) break;
      events_.publish(id, "connected", "connIndex " + std::to_string(info.conn_index),
                      {{"conn_index", info.conn_index}});
      enter(t, TunnelState::running);
      if (t.spec.kind == TunnelKind::named) answer_waiters(t, up_reply(t));
      break;
    }
    case LineInfo::Kind::unregistered: {
      auto c = std::find(t.conns.begin(), t.conns.end(), info.conn_index);
      if (c == t.conns.end()) break;
      t.conns.erase(c);
      if (!t.conns.empty() || !live || t.state == TunnelState::offline) break;
      events_.publish(id, "disconnected", "no registered connection", {{"conn_index", info.conn_index}});
      if (t.state == TunnelState::running) enter(t, TunnelState::degraded);
      else enter(t, t.state);  // arms the health timer
      break;
    }
    case LineInfo::Kind::unauthorized:
      if (!info.record) t.token_rejected = true;
      if (!t.credentials.empty()) break;
      t.credentials = cut(std::string(info.message));
      log_warn("tunnel %s: the edge refuses its credentials: %s", id.c_str(), t.credentials.c_str());
      events_.publish(id, "credentials", "bad credentials: " + t.credentials, {{"error", t.credentials}});
      break;
    case LineInfo::Kind::shutdown:
      if (live) log_warn("tunnel %s: cloudflared is shutting down on its own (signal from elsewhere?)", id.c_str());
      break;
    case LineInfo::Kind::dial_failed:
    case LineInfo::Kind::conn_failed:
    case LineInfo::Kind::none:
      break;
  }
  // Back online, a named tunnel whose child reports its last connection
  // gone will sit in cloudflared's random re-dial delay: a new process
  // keeps the hostname and dials at once. A quick one keeps its URL only in
  // the same process, so it gets reconnect_grace_s first.
  bool failure = info.kind == LineInfo::Kind::dial_failed || info.kind == LineInfo::Kind::conn_failed ||
                 info.kind == LineInfo::Kind::unregistered;
  if (failure && t.awaiting && t.spec.kind == TunnelKind::named && t.conns.empty() && t.child && live &&
      t.state != TunnelState::offline)
    restart_now(t, "lost its connection while the network was away");
}

void Supervisor::on_exit(Tunnel& t, int64_t status, int term_signal) {
  std::string id = t.spec.id;
  std::string what = exit_text(status, term_signal);
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

  switch (t.after_exit) {
    case Tunnel::After::offline:
      t.after_exit = Tunnel::After::backoff;
      t.last_exit = what;
      log_info("tunnel %s: cloudflared stopped while offline (%s)", id.c_str(), what.c_str());
      if (online_) spawn(t, "network back");
      else enter(t, TunnelState::offline);
      return;
    case Tunnel::After::remove:
      t.last_exit = what;
      remove(id, what);
      return;
    case Tunnel::After::keep:
      log_info("tunnel %s: cloudflared stopped (%s)", id.c_str(), what.c_str());
      if (t.state != TunnelState::failed) t.last_exit = what;
      check_shutdown_done();
      return;
    case Tunnel::After::respawn:
      t.last_exit = what;
      t.after_exit = Tunnel::After::backoff;
      spawn(t, t.restart_reason);
      return;
    case Tunnel::After::backoff:
      break;
  }
  if (!online_) {
    // Offline, an exit is no crash: nothing is counted, nothing respawns
    // until the route is back.
    t.last_exit = what;
    log_info("tunnel %s: cloudflared ended while offline (%s)", id.c_str(), what.c_str());
    enter(t, TunnelState::offline);
    return;
  }
  // Unexpected. Exit 0 too: cloudflared exits 0 on a misplaced flag, with
  // its usage text as the only explanation.
  std::string reason = status == 0 && !term_signal && !t.first_lines.empty() ? t.first_lines.front()
                                                                              : t.last_error;
  t.last_exit = what + (reason.empty() ? "" : ": " + reason);
  log_warn("tunnel %s: cloudflared %s", id.c_str(), t.last_exit.c_str());
  nlohmann::json fields = {{"reason", reason}};
  if (term_signal) fields["signal"] = signal_name(term_signal);
  else fields["status"] = status;
  events_.publish(id, "exited", t.last_exit, fields);
  if (t.token_rejected) {
    give_up(t, bad_credentials(t.credentials, id));
    return;
  }
  schedule_respawn(t, t.last_exit);
}

void Supervisor::schedule_respawn(Tunnel& t, const std::string& reason) {
  const auto& w = cfg_.watchdog;
  if (t.window.record(uv_now(loop_), w.max_restarts, static_cast<uint64_t>(w.restart_window_s) * 1000)) {
    give_up(t, "gave up after " + std::to_string(w.max_restarts) + " restarts within " +
                   std::to_string(w.restart_window_s) + "s (last: " + reason + ")");
    return;
  }
  ++t.attempt;
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  uint64_t delay = backoff_delay_ms(t.attempt, static_cast<uint64_t>(w.backoff_initial_ms),
                                    static_cast<uint64_t>(w.backoff_max_ms), unit(rng_));
  enter(t, TunnelState::backoff);
  events_.publish(t.spec.id, "backoff", "respawn in " + seconds_text(delay),
                  {{"delay_ms", delay}, {"attempt", t.attempt}, {"reason", reason}});
  std::string id = t.spec.id;
  t.restart_reason = reason;
  // The loop's clock was read before this exit was processed; without an
  // update the respawn could come sooner than `delay` after the exit event.
  uv_update_time(loop_);
  t.backoff_timer.start(delay, [this, id] {
    auto it = tunnels_.find(id);
    if (it != tunnels_.end()) spawn(*it->second, "after " + it->second->restart_reason);
  });
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
    if (it == tunnels_.end()) continue;
    if (online) come_back(*it->second);
    else go_offline(*it->second);
  }
  changed();
}

void Supervisor::go_offline(Tunnel& t) {
  if (t.state == TunnelState::stopping || t.state == TunnelState::failed || t.state == TunnelState::offline) return;
  const std::string& action = cfg_.network.offline_action;
  t.backoff_timer.stop();
  t.grace_timer.stop();
  t.spin_timer.stop();
  t.awaiting = false;
  t.spinning.clear();
  // The registered connections are kept (and shown as 0): a short outage
  // may leave them alive, and the child's `Unregistered` after it resumes
  // says otherwise.
  std::string detail = offline_why_;
  bool alive = t.child && t.child->running();
  enter(t, TunnelState::offline);
  if (alive && action == "pause") {
    if (!t.paused) t.child->signal_group(SIGSTOP);
    t.paused = true;
    detail += "; cloudflared pid " + std::to_string(t.child->pid()) + " paused";
  } else if (alive && action == "stop") {
    t.after_exit = Tunnel::After::offline;
    terminate(t);
    detail += "; cloudflared stopped";
  } else if (alive && t.paused) {
    t.child->signal_group(SIGCONT);  // paused for spinning; `none` leaves it running
    t.paused = false;
  }
  events_.publish(t.spec.id, "offline", detail, {{"reason", offline_why_}, {"action", action}});
}

void Supervisor::come_back(Tunnel& t) {
  if (t.state != TunnelState::offline) return;
  events_.publish(t.spec.id, "online", "network back", {});
  t.attempt = 0;  // the failures were the network's, not the child's
  if (!t.child) {
    spawn(t, "network back");
    return;
  }
  if (t.after_exit == Tunnel::After::offline) {
    // offline_action = stop, and the child has not ended yet.
    t.after_exit = Tunnel::After::respawn;
    t.restart_reason = "network back";
    enter(t, TunnelState::stopping);
    return;
  }
  if (t.paused) t.child->signal_group(SIGCONT);
  t.paused = false;
  t.spin.rearm();
  enter(t, t.url.empty() && t.conns.empty() ? TunnelState::starting : TunnelState::running);
  // cloudflared's own re-dial after an outage waits a random 0-20 s (or
  // more): a tunnel not registered in reconnect_grace_s gets a new process.
  t.awaiting = true;
  std::string id = t.spec.id;
  t.grace_timer.start(static_cast<uint64_t>(cfg_.network.reconnect_grace_s) * 1000, [this, id] {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end() || !it->second->awaiting) return;
    it->second->awaiting = false;
    if (!it->second->conns.empty()) return;  // its connection lived through the outage
    restart_now(*it->second, "not registered " + std::to_string(cfg_.network.reconnect_grace_s) +
                                  "s after the network came back");
  });
}

// A new child at once, backoff or not. A child without a registered
// connection has nothing to unregister (and cloudflared in its re-dial
// backoff waits out its whole grace period on SIGTERM): SIGKILL.
void Supervisor::restart_now(Tunnel& t, const std::string& reason) {
  t.awaiting = false;
  t.grace_timer.stop();
  t.spin_timer.stop();
  t.attempt = 0;
  log_info("tunnel %s: restarting now: %s", t.spec.id.c_str(), reason.c_str());
  if (!t.child || !t.child->running()) {
    t.after_exit = Tunnel::After::backoff;
    spawn(t, reason);
    return;
  }
  t.after_exit = Tunnel::After::respawn;
  t.restart_reason = reason;
  bool connected = !t.conns.empty();
  enter(t, TunnelState::stopping);
  if (connected) {
    terminate(t);
  } else {
    t.child->signal_group(SIGKILL);
  }
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
    events_.publish(t.spec.id, "spinning", t.spinning, {{"lines_per_s", rate}, {"delay_ms", delay}});
  }
  std::string id = t.spec.id;
  t.spin_timer.start(delay, [this, id] {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) return;
    Tunnel& t = *it->second;
    if (!t.child || !t.paused || t.state == TunnelState::offline) return;
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
  log_warn("tunnel %s: %u QUIC dials timed out while online: UDP to the edge looks blocked; using HTTP/2 for %ds "
           "or until the network changes",
           t.spec.id.c_str(), t.quic.count(), cfg_.network.quic_retry_s);
  std::vector<std::string> all = ids();
  for (const auto& id : all) {
    auto it = tunnels_.find(id);
    if (it == tunnels_.end()) continue;
    Tunnel& o = *it->second;
    bool waiting = o.state == TunnelState::starting || o.state == TunnelState::degraded ||
                   (o.state == TunnelState::running && o.conns.empty()) || o.state == TunnelState::backoff;
    if (!waiting || o.http2) continue;
    events_.publish(id, "protocol", "http2 (quic blocked)", {{"protocol", "http2"}, {"reason", "quic blocked"}});
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
    if (t.state == TunnelState::stopping || t.state == TunnelState::failed || t.state == TunnelState::offline)
      continue;
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
  enter(t, TunnelState::failed);
  t.last_exit = why;
  events_.publish(t.spec.id, "failed", why, {{"reason", why}});
  answer_waiters(t, Reply::Err("failed", "tunnel " + t.spec.id + " " + why));
}

// No registered connection for unhealthy_after_s: a fresh process resets
// cloudflared's own backoff, which can leave it idle for minutes after the
// network comes back (docs/cloudflared.md §10). Bad credentials do not get better by
// restarting, so such a tunnel is reported and left alone instead.
void Supervisor::unhealthy(Tunnel& t) {
  std::string why = "no registered connection for " + std::to_string(cfg_.watchdog.unhealthy_after_s) + "s";
  if (!t.credentials.empty()) {
    t.after_exit = Tunnel::After::keep;
    give_up(t, bad_credentials(t.credentials, t.spec.id));
    terminate(t);
    return;
  }
  log_warn("tunnel %s: unhealthy, %s; restarting it", t.spec.id.c_str(), why.c_str());
  t.after_exit = Tunnel::After::respawn;
  t.restart_reason = "unhealthy: " + why;
  enter(t, TunnelState::stopping);
  terminate(t);
}

// SIGTERM (and SIGCONT, in case it was stopped) to the whole group; SIGKILL
// after the grace period. What happens next is decided by on_exit().
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
  Tunnel& t = *it->second;
  t.stop_waiters.push_back(std::move(done));
  t.after_exit = Tunnel::After::remove;
  if (t.child && t.child->running()) {
    enter(t, TunnelState::stopping);
    terminate(t);
    changed();
    return;
  }
  remove(id, t.state == TunnelState::failed ? "was failed" : "was waiting to respawn");
}

void Supervisor::remove(const std::string& id, const std::string& detail) {
  auto it = tunnels_.find(id);
  if (it == tunnels_.end()) return;
  std::unique_ptr<Tunnel> t = std::move(it->second);
  tunnels_.erase(it);
  answer_waiters(*t, Reply::Err("stopped", "tunnel " + id + " was stopped before it was up"));
  events_.publish(id, "stopped", detail);
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
  if (new_spec) t.spec = *new_spec;
  if (t.after_exit == Tunnel::After::remove) {
    done(Reply::Err("busy", "tunnel " + id + " is being stopped"));
    return;
  }
  t.attempt = 0;
  if (t.child && t.child->running()) {
    // The reply is about the new child: the old URL and connections die
    // with the old one.
    t.url.clear();
    t.conns.clear();
    t.after_exit = Tunnel::After::respawn;
    t.restart_reason = "restart requested";
    enter(t, TunnelState::stopping);
    terminate(t);
  } else {
    t.after_exit = Tunnel::After::backoff;
    spawn(t, "restart requested");
  }
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
  for (auto& kv : tunnels_) {
    Tunnel& t = *kv.second;
    answer_waiters(t, Reply::Err("shutdown", "the agent is shutting down"));
    t.backoff_timer.stop();
    if (t.after_exit != Tunnel::After::remove) t.after_exit = Tunnel::After::keep;
    if (t.child && t.child->running()) {
      if (t.state != TunnelState::failed) enter(t, TunnelState::stopping);
      terminate(t);
    }
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
    fn(t.spec, t.after_exit != Tunnel::After::remove, t.pid, t.start_ticks);
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
  i.state = state_name(t.state);
  i.url = public_url(t);
  i.pid = t.child ? t.child->pid() : 0;
  i.uptime_s = t.child ? static_cast<int64_t>((uv_now(loop_) - t.started_ms) / 1000) : -1;
  i.restarts = t.restarts;
  i.connections = static_cast<int>(t.conns.size());
  i.last_exit = t.last_exit;
  i.last_error = t.last_error;
  i.credentials = t.credentials;
  i.metrics_port = t.child ? t.metrics_port : 0;
  i.next_restart_ms = t.backoff_timer.active() ? static_cast<int64_t>(t.backoff_timer.due_in()) : -1;
  i.url_changes = t.url_changes;
  i.origin = t.spec.section.empty() ? "runtime" : "config";
  i.protocol = t.http2 ? "http2" : cfg_.cloudflared.protocol;
  i.quic_blocked = t.http2;
  if (t.state == TunnelState::offline) {
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
