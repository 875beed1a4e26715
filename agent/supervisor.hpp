// The supervisor owns the tunnels and their children, and does the I/O of
// their lifecycle: it turns spawns, output lines, exits, timers and verbs
// into events for the table in lifecycle.hpp, which chooses every next state
// and what to do (the diagram is there), and carries those actions out in
// one place, apply().
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backoff.hpp"
#include "config.hpp"
#include "lifecycle.hpp"
#include "linkpolicy.hpp"
#include "protocol.hpp"
#include "report.hpp"
#include "tunnel.hpp"

namespace tether {

class EventBus;
struct LineInfo;

// Where a named tunnel's token comes from; returns "" and says why in *err
// when there is none.
using TokenLookup = std::function<std::string(const TunnelSpec& spec, std::string* err)>;

class Supervisor {
 public:
  Supervisor(uv_loop_t* loop, const Config& cfg, EventBus& events, TokenLookup tokens);
  ~Supervisor();

  // Replies "OK <id> <url>" once the URL (quick) or a connection (named) is
  // known, else "OK <id> pending" after start_wait_s (at once when !wait).
  void start(const TunnelSpec& spec, bool wait, ReplyFn done);
  // Replies "OK stopped <id>" from the exit of the child.
  void stop(const std::string& id, ReplyFn done);
  // A new child for the tunnel; replies like start. With new_spec (a changed
  // config section), the tunnel continues with it. A tunnel being stopped
  // gets "ERR busy" and keeps its spec.
  void restart(const std::string& id, ReplyFn done, const TunnelSpec* new_spec = nullptr);
  // A reload that changed only a provisioned tunnel's routes: the edge hands
  // the running cloudflared its new ingress, so the child stays and only the
  // spec (its URL) is replaced. False when no such tunnel runs.
  bool update_routes(const TunnelSpec& spec);
  void killall(ReplyFn done);
  // Agent shutdown: every child is stopped (TERM, grace, KILL) but the
  // tunnels stay, so the state file still lists them for the next start.
  void shutdown(std::function<void()> done);
  // A second SIGTERM: no more grace.
  void kill_now();

  bool exists(const std::string& id) const { return tunnels_.count(id) != 0; }
  const TunnelSpec* spec(const std::string& id) const;
  std::vector<TunnelInfo> infos() const;
  bool info(const std::string& id, TunnelInfo* out) const;
  bool logs(const std::string& id, size_t n, std::vector<std::string>* out) const;
  size_t size() const { return tunnels_.size(); }
  // The child's pid, or 0.
  int pid(const std::string& id) const;
  std::vector<std::string> ids() const;

  // For the state file: every tunnel with its last child's pid and start
  // time; desired is false for a tunnel being stopped for good.
  using RecordFn = std::function<void(const TunnelSpec& spec, bool desired, int pid, uint64_t start_ticks)>;
  void for_each(const RecordFn& fn) const;

  // Called whenever the set of tunnels changes or a child is spawned (the
  // state file listens).
  void on_change(std::function<void()> fn) { on_change_ = std::move(fn); }

  // The network watcher's answer (netwatch.hpp), with its description
  // ("no default route through a running link"). Offline: every tunnel
  // waits in `offline` (its child paused, stopped or left alone, as
  // [network] offline_action says); online again: children resume at once
  // and whoever is not registered within reconnect_grace_s is restarted.
  void set_online(bool online, const std::string& why);
  bool online() const { return online_; }
  // The wall clock was set (clockwatch.hpp): tunnels that failed on
  // certificate validity respawn now instead of after their backoff.
  void clock_stepped();
  // How the supervisor asks whether the kernel's clock is synchronised.
  void clock_probe(std::function<bool()> unsynced) { clock_unsynced_ = std::move(unsynced); }

 private:
  struct Tunnel;

  // The lifecycle: facts for the table, one step of it, carried out.
  lifecycle::Facts facts(const Tunnel& t, lifecycle::Event e) const;
  void handle(Tunnel& t, lifecycle::Event e, const std::string& why);
  void apply(Tunnel& t, lifecycle::Event e, const lifecycle::Step& step, const std::string& why);
  void sync_timers(Tunnel& t);

  void spawn(Tunnel& t, const std::string& reason);
  void on_line(Tunnel& t, std::string_view line);
  void on_exit(Tunnel& t, int64_t status, int term_signal);
  void terminate(Tunnel& t);
  void unhealthy(Tunnel& t);
  void give_up(Tunnel& t, const std::string& why);
  void arm_backoff(Tunnel& t, const std::string& reason);
  void announce_offline(Tunnel& t, lifecycle::Event e, const lifecycle::Step& step);
  void await_reconnect(Tunnel& t);
  void remove(const std::string& id, const std::string& detail);
  void wait_for_url(Tunnel& t, ReplyFn done);
  void answer_waiters(Tunnel& t, const Reply& r);
  std::string public_url(const Tunnel& t) const;
  Reply up_reply(const Tunnel& t) const;
  TunnelInfo snapshot(const Tunnel& t) const;
  std::vector<std::string> command_line(const Tunnel& t, const std::string& exe) const;
  void changed();
  void check_shutdown_done();
  void restart_now(Tunnel& t, const std::string& reason);
  void spin_pause(Tunnel& t, bool first);
  void quic_blocked(Tunnel& t);
  void watch_line(Tunnel& t, const LineInfo& info, const std::string& line);

  uv_loop_t* loop_;
  const Config& cfg_;
  EventBus& events_;
  TokenLookup tokens_;
  std::map<std::string, std::unique_ptr<Tunnel>> tunnels_;
  std::function<void()> on_change_;
  std::function<void()> shutdown_done_;
  bool shutting_down_ = false;
  bool online_ = true;
  std::string offline_why_;
  QuicFallback quic_fallback_;
  std::function<bool()> clock_unsynced_;
  std::minstd_rand rng_;
};

}  // namespace tether
