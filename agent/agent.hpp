// The daemon: owns every subsystem, wires them together on one loop, and
// handles the process-level work: start-up (reaping what a killed agent left
// behind, then bringing the desired tunnels back), SIGHUP reload, and the
// two-stage SIGTERM shutdown.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "clockwatch.hpp"
#include "config.hpp"
#include "control.hpp"
#include "dispatcher.hpp"
#include "events.hpp"
#include "http.hpp"
#include "metrics.hpp"
#include "netwatch.hpp"
#include "notify.hpp"
#include "options.hpp"
#include "provision.hpp"
#include "sdnotify.hpp"
#include "statefile.hpp"
#include "statelock.hpp"
#include "supervisor.hpp"
#include "telegram.hpp"
#include "uvpp.hpp"

namespace tether {

class Agent {
 public:
  // opts are kept so that a reload applies the same overriding flags.
  Agent(uv_loop_t* loop, Config cfg, Options opts);
  ~Agent();

  // Listens on the control socket, installs signal handlers, and begins
  // restoring tunnels. Returns 0 or a negative errno with *err.
  int start(std::string* err);
  // Exit status for main() once the loop has ended.
  int exit_code() const { return exit_code_; }

  const Config& config() const { return cfg_; }
  EventBus& events() { return events_; }
  Supervisor& supervisor() { return supervisor_; }
  MetricsSnapshot metrics() const;

  // What `start <id>` means: a port, a [tunnel NAME] section, or a name
  // with a token. Returns false with *err when the id names nothing.
  bool tunnel_spec(const std::string& id, TunnelSpec* out, std::string* err) const;

  // Re-reads the config file and applies the difference. Returns "" or the
  // errors, one per line; on error the running config stays.
  std::string reload();
  // First call: stop every tunnel gracefully, then exit. Second call: kill.
  void shutdown();

 private:
  static void on_signal(uv_signal_t* h, int signum);
  void reopen_log();
  void restore();
  void reap(std::vector<StateRecord> orphans);
  void poll_orphans();
  void bring_back(const std::vector<StateRecord>& records);
  void apply_tunnel_changes(const Config& old_cfg);
  static bool only_routes_differ(const TunnelConfig& was, const TunnelConfig& now);
  bool provisioned(const std::string& name) const;
  TunnelSpec spec_for(const TunnelConfig& t) const;
  void state_changed();
  void save_state_now();
  void finish_shutdown();
  void write_pidfile();
  void remove_pidfile();
  void publish_status();
  void start_telegram();
  void start_netwatch();
  Provisioner::Tunnels provisioner_tunnels();
  Dispatcher::Targets dispatcher_targets();

  uv_loop_t* loop_;
  StateLock state_lock_;
  Config cfg_;
  Options opts_;
  EventBus events_;
  Supervisor supervisor_;
  Http http_;
  Provisioner provisioner_;
  Notifier notifier_;
  Dispatcher dispatcher_;
  Control control_;
  SdNotify sd_;
  std::unique_ptr<TelegramChannel> telegram_;
  std::unique_ptr<NetWatch> netwatch_;
  ClockWatch clock_;
  UvHandle<uv_signal_t> sigterm_, sigint_, sighup_, sigusr1_;
  Timer state_timer_;  // coalesces state writes to one per loop turn
  Timer reap_timer_;
  std::vector<StateRecord> orphans_;  // still being reaped: kept in the state file
  std::vector<StateRecord> restoring_;
  uint64_t reap_started_ms_ = 0;
  std::string boot_id_;
  std::string saved_state_;  // what the state file holds, so as not to write it again
  uint64_t started_ns_;
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace tether
