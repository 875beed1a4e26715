#include "agent.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <map>

#include "atomicfile.hpp"
#include "envfile.hpp"
#include "log.hpp"
#include "logfile.hpp"
#include "proc.hpp"
#include "provision_steps.hpp"
#include "tokens.hpp"
#include "version.hpp"

namespace tether {
namespace {

constexpr uint64_t kReapPollMs = 50;
constexpr size_t kMaxEnvFile = 1 << 20;

// Internal operations (restore, reload) have nobody to reply to: failures
// go to the log.
ReplyFn log_failure(const std::string& what) {
  return [what](const Reply& r) {
    if (!r.ok) log_warn("%s: %s %s", what.c_str(), r.code.c_str(), r.message.c_str());
  };
}

}  // namespace

Agent::Agent(uv_loop_t* loop, Config cfg, Options opts)
    : loop_(loop),
      cfg_(std::move(cfg)),
      opts_(std::move(opts)),
      supervisor_(loop, cfg_, events_,
                  [this](const TunnelSpec& spec, std::string* err) {
                    std::string stale = stale_env_token(spec.token_env, cfg_.cloudflare.env_file);
                    if (!stale.empty()) log_warn("tunnel %s: %s", spec.id.c_str(), stale.c_str());
                    return lookup_token(spec.token_env, cfg_.cloudflare.env_file, err);
                  }),
      http_(loop),
      provisioner_(loop, http_, cfg_, provisioner_tunnels()),
      notifier_(loop, http_, events_, cfg_.agent.state_dir),
      dispatcher_(dispatcher_targets()),
      control_(loop, dispatcher_, events_),
      sd_(loop),
      clock_(loop),
      state_timer_(loop),
      reap_timer_(loop),
      boot_id_(boot_id()),
      started_ns_(uv_hrtime()) {
  supervisor_.on_change([this] { state_changed(); });
  supervisor_.clock_probe([] { return ClockWatch::unsynchronised(); });
  events_.subscribe([this](const Event&) { publish_status(); });
}

Agent::~Agent() = default;

// The agent owns the supervisor, the provisioner and the dispatcher, so
// these callbacks never outlive what they capture.
Provisioner::Tunnels Agent::provisioner_tunnels() {
  Provisioner::Tunnels t;
  t.exists = [this](const std::string& name) { return supervisor_.exists(name); };
  t.stop = [this](const std::string& name, ReplyFn done) { supervisor_.stop(name, std::move(done)); };
  t.start = [this](const std::string& name) {
    TunnelSpec spec;
    std::string err;
    if (supervisor_.exists(name)) supervisor_.restart(name, log_failure("provision restart " + name));
    else if (tunnel_spec(name, &spec, &err)) supervisor_.start(spec, false, log_failure("provision start " + name));
  };
  return t;
}

Dispatcher::Targets Agent::dispatcher_targets() {
  Dispatcher::Targets t;
  t.config = [this]() -> const Config& { return cfg_; };
  t.tunnel_spec = [this](const std::string& id, TunnelSpec* out, std::string* err) {
    return tunnel_spec(id, out, err);
  };
  t.start = [this](const TunnelSpec& spec, bool wait, ReplyFn done) { supervisor_.start(spec, wait, std::move(done)); };
  t.stop = [this](const std::string& id, ReplyFn done) { supervisor_.stop(id, std::move(done)); };
  t.restart = [this](const std::string& id, ReplyFn done) { supervisor_.restart(id, std::move(done)); };
  t.killall = [this](ReplyFn done) { supervisor_.killall(std::move(done)); };
  t.infos = [this] { return supervisor_.infos(); };
  t.info = [this](const std::string& id, TunnelInfo* out) { return supervisor_.info(id, out); };
  t.logs = [this](const std::string& id, size_t n, std::vector<std::string>* out) {
    return supervisor_.logs(id, n, out);
  };
  t.reload = [this] { return reload(); };
  t.provision = [this](const std::string& name, const std::string& service, bool start, ReplyFn done) {
    provisioner_.provision(name, service, start, std::move(done));
  };
  t.deprovision = [this](const std::string& name, ReplyFn done) { provisioner_.deprovision(name, std::move(done)); };
  t.metrics = [this] { return metrics(); };
  return t;
}

int Agent::start(std::string* err) {
  // Before anything else: the socket, the pid file and the state file are
  // another agent's as long as it holds state_dir.
  if (!state_lock_.acquire(cfg_.agent.state_dir, err)) return -EWOULDBLOCK;
  int rc = control_.listen(cfg_.agent, err);
  if (rc < 0) return rc;
  sigterm_.init(loop_, this, uv_signal_init);
  sigint_.init(loop_, this, uv_signal_init);
  sighup_.init(loop_, this, uv_signal_init);
  sigusr1_.init(loop_, this, uv_signal_init);
  uv_signal_start(sigterm_.get(), on_signal, SIGTERM);
  uv_signal_start(sigint_.get(), on_signal, SIGINT);
  uv_signal_start(sighup_.get(), on_signal, SIGHUP);
  uv_signal_start(sigusr1_.get(), on_signal, SIGUSR1);
  write_pidfile();
  notifier_.configure(cfg_.notify);
  start_telegram();
  // Before restore(): a board that boots offline keeps its tunnels waiting.
  start_netwatch();
  int crc = clock_.start([this] { supervisor_.clock_stepped(); });
  if (crc < 0) log_warn("clock: cannot watch for clock changes: %s", uv_strerror(crc));
  log_info("tetherd started (pid %d, config %s)", static_cast<int>(getpid()),
           cfg_.path.empty() ? "built-in defaults" : cfg_.path.c_str());
  // The socket is ours, so no other agent writes these files: what a crash
  // or a power cut left half-written goes now.
  for (const std::string& file : {state_file_path(cfg_.agent.state_dir), cfg_.cloudflare.env_file})
    for (const std::string& tmp : remove_stale_temps(file))
      log_warn("removed %s, left by an interrupted write", tmp.c_str());
  restore();
  return 0;
}

void Agent::on_signal(uv_signal_t* h, int signum) {
  auto* self = static_cast<Agent*>(h->data);
  if (!self) return;
  if (signum == SIGUSR1) {
    self->reopen_log();
    return;
  }
  if (signum == SIGHUP) {
    std::string errors = self->reload();
    if (!errors.empty()) log_error("reload failed, keeping the running configuration:\n%s", errors.c_str());
    return;
  }
  log_info("received %s, %s", signum == SIGTERM ? "SIGTERM" : "SIGINT",
           self->stopping_ ? "killing every cloudflared now" : "stopping every tunnel");
  self->shutdown();
}

// logrotate has renamed the log file (and made a new one): continue in the
// new one. The line before the switch ends the old file, the next one
// starts the new file, so a reader of both sees every line once.
void Agent::reopen_log() {
  const std::string path = log_file_path();
  if (path.empty()) {
    log_info("received SIGUSR1: no --log-file to reopen");
    return;
  }
  log_info("received SIGUSR1: reopening %s", path.c_str());
  std::string err;
  if (log_file_open(path, &err) < 0) log_error("%s; still logging to the old file", err.c_str());
  else log_info("log file %s reopened", path.c_str());
}

// A previous agent may have been killed (-9, OOM, power loss on a board
// whose /run survived): its cloudflared process groups still run, serving
// the same tunnels. They are stopped before the tunnels are started again,
// so there is never a second connector per tunnel.
void Agent::restore() {
  std::string warning;
  std::vector<StateRecord> records = load_state(cfg_.agent.state_dir, &warning);
  if (!warning.empty()) log_error("%s", warning.c_str());
  std::vector<StateRecord> orphans;
  for (auto& r : records) {
    if (r.desired) restoring_.push_back(r);
    if (!r.pid) continue;
    // After a reboot the pid and even the start time can come back, for
    // another process: a board boots the same way every time.
    if (!r.boot_id.empty() && r.boot_id != boot_id_) {
      log_info("tunnel %s: pid %d was recorded before a reboot; not signalling it", r.spec.id.c_str(), r.pid);
      continue;
    }
    if (is_our_cloudflared_group(r.pid, r.start_ticks)) {
      log_warn("tunnel %s: stopping cloudflared process group %d left by a previous agent", r.spec.id.c_str(), r.pid);
      signal_own_group(r.pid, r.start_ticks, SIGTERM);
      signal_own_group(r.pid, r.start_ticks, SIGCONT);
      orphans.push_back(r);
    }
  }
  reap(std::move(orphans));
}

void Agent::reap(std::vector<StateRecord> orphans) {
  orphans_ = std::move(orphans);
  reap_started_ms_ = uv_now(loop_);
  poll_orphans();
}

// The orphans are not our children, so no exit callback tells us when they
// are gone: their process groups are polled instead, for the short time
// this takes at start-up.
void Agent::poll_orphans() {
  std::vector<StateRecord> left;
  for (auto& o : orphans_)
    if (!own_group_members(o.pid, o.start_ticks).empty()) left.push_back(o);
  orphans_ = std::move(left);
  if (orphans_.empty()) {
    auto records = std::move(restoring_);
    restoring_.clear();
    bring_back(records);
    return;
  }
  if (uv_now(loop_) - reap_started_ms_ >= static_cast<uint64_t>(cfg_.watchdog.stop_grace_s) * 1000)
    for (auto& o : orphans_) signal_own_group(o.pid, o.start_ticks, SIGKILL);
  reap_timer_.start(kReapPollMs, [this] { poll_orphans(); });
}

void Agent::bring_back(const std::vector<StateRecord>& records) {
  for (const auto& r : records) {
    TunnelSpec spec = r.spec;
    if (!spec.section.empty()) {
      const TunnelConfig* t = cfg_.find_tunnel(spec.section);
      if (!t) {
        log_info("tunnel %s: its section [tunnel %s] is gone from the configuration; not restored", spec.id.c_str(),
                 spec.section.c_str());
        continue;
      }
      Caller caller = spec.caller;
      spec = spec_for(*t);
      spec.caller = caller;
    } else {
      spec.go = cfg_.cloudflared.go;
    }
    if (supervisor_.exists(spec.id)) continue;
    log_info("tunnel %s: restored from the state file", spec.id.c_str());
    supervisor_.start(spec, false, log_failure("restore " + spec.id));
  }
  for (const auto& t : cfg_.tunnels) {
    TunnelSpec spec = spec_for(t);
    if (t.autostart && !supervisor_.exists(spec.id))
      supervisor_.start(spec, false, log_failure("autostart " + spec.id));
  }
  state_changed();
  publish_status();
  sd_.ready();
}

// One line for `systemctl status`: "3 tunnels: 2 running, 1 backoff".
void Agent::publish_status() {
  if (!sd_.enabled()) return;
  std::map<std::string, int> by_state;
  auto infos = supervisor_.infos();
  for (const auto& i : infos) ++by_state[i.state];
  std::string text = std::to_string(infos.size()) + (infos.size() == 1 ? " tunnel" : " tunnels");
  std::string sep = ": ";
  for (const auto& [state, n] : by_state) {
    text += sep + std::to_string(n) + " " + state;
    sep = ", ";
  }
  sd_.status(text);
}

// The pid file is for sysvinit's start-stop-daemon; written after the
// socket is ours, so a refused second agent never overwrites it.
void Agent::write_pidfile() {
  const std::string& path = cfg_.agent.pidfile;
  if (path.empty()) return;
  std::string err;
  if (write_file_atomic(path, std::to_string(getpid()) + "\n", 0644, &err) < 0)
    log_error("cannot write pid file: %s", err.c_str());
}

void Agent::remove_pidfile() {
  const std::string& path = cfg_.agent.pidfile;
  std::string text, err;
  if (path.empty() || read_file(path, &text, 64, &err) < 0) return;
  if (std::atol(text.c_str()) == static_cast<long>(getpid())) unlink(path.c_str());
}

TunnelSpec Agent::spec_for(const TunnelConfig& t) const {
  TunnelSpec spec;
  spec.section = t.name;
  spec.kind = t.kind;
  if (t.kind == TunnelKind::quick) {
    spec.port = t.port;
    spec.id = std::to_string(t.port);
  } else {
    spec.id = t.name;
    for (const auto& r : t.routes) {
      if (spec.hostname.empty()) spec.hostname = r.hostname;
      else spec.more_hostnames.push_back(r.hostname);
    }
    if (t.local) {
      spec.config_file = t.config_file;
      spec.local_tunnel = t.local_tunnel;
    } else {
      spec.token_env = t.token_env;
    }
  }
  spec.go = t.go;
  return spec;
}

bool Agent::tunnel_spec(const std::string& id, TunnelSpec* out, std::string* err) const {
  if (std::isdigit(static_cast<unsigned char>(id[0]))) {
    int port = std::stoi(id);
    for (const auto& t : cfg_.tunnels) {
      if (t.kind == TunnelKind::quick && t.port == port) {
        *out = spec_for(t);
        return true;
      }
    }
    out->id = id;
    out->kind = TunnelKind::quick;
    out->port = port;
    out->go = cfg_.cloudflared.go;
    return true;
  }
  if (const TunnelConfig* t = cfg_.find_tunnel(id)) {
    *out = spec_for(*t);
    if (t->kind == TunnelKind::quick || t->local) return true;
    if (lookup_token(t->token_env, cfg_.cloudflare.env_file, err).empty()) {
      *err = "tunnel " + id + ": " + *err;
      return false;
    }
    return true;
  }
  std::string token_env = default_token_env(id);
  if (lookup_token(token_env, cfg_.cloudflare.env_file, err).empty()) {
    *err = "no tunnel '" + id + "': no [tunnel " + id + "] section and " + *err + " (run 'provision " + id + "' first)";
    return false;
  }
  out->id = id;
  out->kind = TunnelKind::named;
  out->token_env = token_env;
  out->hostname = cfg_.cloudflare.zone.empty() ? "" : id + "." + cfg_.cloudflare.zone;
  out->go = cfg_.cloudflared.go;
  return true;
}

std::string Agent::reload() {
  if (cfg_.path.empty()) return "";
  Config fresh;
  std::vector<ConfigError> errors;
  if (!load_config(cfg_.path, &fresh, &errors)) {
    std::string out;
    for (const auto& e : errors) out += (out.empty() ? "" : "\n") + e.str();
    return out;
  }
  std::string bad = apply_options(opts_, &fresh);
  if (!bad.empty()) return bad;
  Config old = std::move(cfg_);
  cfg_ = std::move(fresh);
  log_set_level(cfg_.agent.log_level);
  control_.set_allowed_uids(cfg_.agent.allow_uids);
  control_.set_client_idle_s(cfg_.agent.client_idle_s);
  notifier_.configure(cfg_.notify);
  if (!telegram_ != !cfg_.telegram.enabled || (telegram_ && telegram_->config() != cfg_.telegram)) start_telegram();
  if (cfg_.network.require != old.network.require) start_netwatch();
  if (cfg_.agent.socket != old.agent.socket || cfg_.agent.state_dir != old.agent.state_dir)
    log_warn("reload: a new socket or state_dir takes effect only when the agent restarts");
  apply_tunnel_changes(old);
  log_info("configuration %s reloaded", cfg_.path.c_str());
  return "";
}

bool Agent::only_routes_differ(const TunnelConfig& was, const TunnelConfig& now) {
  // A local tunnel's cloudflared reads its routes from its own file at start.
  if (was.kind != TunnelKind::named || now.kind != TunnelKind::named || was.local || now.local) return false;
  TunnelConfig same = was;
  same.routes = now.routes;
  return same == now;
}

// Provisioned by tether: the env file records the tunnel it created or
// adopted for the name.
bool Agent::provisioned(const std::string& name) const {
  std::string text;
  if (read_file(cfg_.cloudflare.env_file, &text, kMaxEnvFile, nullptr) < 0) return false;
  return EnvFile::parse(text).get(owner_key(name)).has_value();
}

// Tunnels added to the file start (if autostart), removed ones stop,
// changed ones restart with their new settings. Tunnels started at runtime
// are not the file's business and stay as they are.
void Agent::apply_tunnel_changes(const Config& old_cfg) {
  auto running_from = [this](const TunnelSpec& spec) {
    const TunnelSpec* s = supervisor_.spec(spec.id);
    return s && s->section == spec.section;
  };
  for (const auto& t : old_cfg.tunnels) {
    TunnelSpec before = spec_for(t);
    const TunnelConfig* now = cfg_.find_tunnel(t.name);
    if (running_from(before) && (!now || spec_for(*now).id != before.id)) {
      log_info("reload: [tunnel %s] removed or moved; stopping %s", t.name.c_str(), before.id.c_str());
      supervisor_.stop(before.id, log_failure("reload stop " + before.id));
    }
  }
  for (const auto& t : cfg_.tunnels) {
    TunnelSpec spec = spec_for(t);
    const TunnelConfig* was = old_cfg.find_tunnel(t.name);
    // A remotely managed tunnel gets its ingress from the edge: new routes
    // need the API, not a new cloudflared.
    if (was && *was != t && only_routes_differ(*was, t) && provisioned(t.name)) {
      log_info("reload: [tunnel %s] routes changed; updating its ingress and DNS names", t.name.c_str());
      provisioner_.provision(t.name, "", false, log_failure("reload provision " + t.name));
      if (running_from(spec)) {
        spec.caller = supervisor_.spec(spec.id)->caller;
        supervisor_.update_routes(spec);
        continue;
      }
    }
    if (running_from(spec)) {
      TunnelSpec current = *supervisor_.spec(spec.id);
      spec.caller = current.caller;
      if (was && *was != t && current != spec) {
        log_info("reload: [tunnel %s] changed; restarting %s", t.name.c_str(), spec.id.c_str());
        supervisor_.restart(spec.id, log_failure("reload restart " + spec.id), &spec);
      }
    } else if (t.autostart && !supervisor_.exists(spec.id) && (!was || *was != t)) {
      log_info("reload: [tunnel %s] added; starting %s", t.name.c_str(), spec.id.c_str());
      supervisor_.start(spec, false, log_failure("reload start " + spec.id));
    }
  }
}

// The routing table, watched on the loop ([network] require). Without a
// netlink socket the agent counts as online, as it did before it watched.
void Agent::start_netwatch() {
  OnlineRule rule = OnlineRule::default_route;
  parse_online_rule(cfg_.network.require, &rule);
  netwatch_ = std::make_unique<NetWatch>(loop_, rule);
  int rc = netwatch_->start([this](bool online) { supervisor_.set_online(online, netwatch_->describe()); });
  if (rc < 0) {
    log_warn("network: cannot watch the routing table (%s); tunnels are never held back", uv_strerror(rc));
    netwatch_.reset();
  }
  if (netwatch_) supervisor_.set_online(netwatch_->online(), netwatch_->describe());
  else supervisor_.set_online(true, "network not watched");
}

// Without a bot token the channel stays off, but the agent runs: a drone
// must stay reachable through its tunnels whatever happens to Telegram.
void Agent::start_telegram() {
  telegram_.reset();
  if (!cfg_.telegram.enabled) return;
  telegram_ = std::make_unique<TelegramChannel>(loop_, http_, dispatcher_, events_, supervisor_, cfg_.telegram,
                                                cfg_.agent.state_dir);
  std::string err;
  if (!telegram_->start(&err)) {
    log_error("telegram: %s; the /tunnel channel is off", err.c_str());
    telegram_.reset();
  }
}

MetricsSnapshot Agent::metrics() const {
  MetricsSnapshot m;
  m.version = kVersion;
  m.uptime_s = static_cast<double>(uv_hrtime() - started_ns_) / 1e9;
  m.rss_bytes = resident_bytes();
  m.online = supervisor_.online();
  m.clock_synchronised = !ClockWatch::unsynchronised();
  m.tunnels = supervisor_.infos();
  m.control_clients = control_.clients();
  m.control_accepted = control_.connections_total();
  for (auto [name, box] :
       {std::make_pair("webhook", notifier_.webhook()), std::make_pair("telegram", notifier_.telegram())})
    if (box) m.notify.push_back({name, box->sent(), box->failed(), box->dropped()});
  if (telegram_) {
    m.telegram_ignored = telegram_->ignored();
    const Outbox* box = telegram_->outbox();
    m.notify.push_back({"telegram_chat", box->sent(), box->failed(), box->dropped()});
  }
  return m;
}

void Agent::state_changed() {
  if (!state_timer_.active()) state_timer_.start(0, [this] { save_state_now(); });
}

void Agent::save_state_now() {
  std::vector<StateRecord> records = orphans_;
  for (auto& o : records) o.desired = false;
  for (const auto& r : restoring_) records.push_back(r);
  supervisor_.for_each([&](const TunnelSpec& spec, bool desired, int pid, uint64_t ticks) {
    records.push_back({spec, desired, pid, ticks, boot_id_});
  });
  // Flash wears: a burst of changes that ends where it began (a child that
  // exited and was replaced before the write) writes nothing.
  std::string text = state_to_json(records);
  if (text == saved_state_) return;
  std::string err;
  if (save_in_state_dir(cfg_.agent.state_dir, kStateFile, text, &err) < 0) {
    log_error("cannot save the state file (the previous one is kept): %s", err.c_str());
    return;
  }
  saved_state_ = std::move(text);
}

void Agent::shutdown() {
  if (stopping_) {
    supervisor_.kill_now();
    return;
  }
  stopping_ = true;
  sd_.stopping();
  sd_.status("stopping");
  control_.close();
  reap_timer_.stop();
  provisioner_.cancel_all();
  telegram_.reset();
  netwatch_.reset();
  clock_.stop();
  supervisor_.shutdown([this] { finish_shutdown(); });
}

void Agent::finish_shutdown() {
  state_timer_.stop();
  if (state_lock_.held()) save_state_now();
  sd_.stop_watchdog();
  notifier_.shutdown();
  http_.shutdown();
  remove_pidfile();
  sigterm_.reset();
  sigint_.reset();
  sighup_.reset();
  sigusr1_.reset();
  log_info("every tunnel is stopped");
}

}  // namespace tether
