// The daemon: owns every subsystem, wires them together on one loop, and
// handles the process-level signals (TERM/INT stop, HUP reload).
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "commands.hpp"
#include "config.hpp"
#include "control.hpp"
#include "events.hpp"
#include "options.hpp"
#include "uvpp.hpp"

namespace tether {

class Agent {
 public:
  // opts are kept so that a reload applies the same overriding flags.
  Agent(uv_loop_t* loop, Config cfg, Options opts);
  ~Agent();

  // Listens on the control socket and installs signal handlers.
  int start(std::string* err);
  // Exit status for main() once the loop has ended.
  int exit_code() const { return exit_code_; }

  uv_loop_t* loop() const { return loop_; }
  const Config& config() const { return cfg_; }
  EventBus& events() { return events_; }
  Control& control() { return control_; }

  // Re-reads the config file. Returns "" or the errors, one per line; on
  // error the running config stays.
  std::string reload();
  // Begins an orderly shutdown; the loop ends once everything is closed.
  void shutdown();

 private:
  static void on_signal(uv_signal_t* h, int signum);

  uv_loop_t* loop_;
  Config cfg_;
  Options opts_;
  EventBus events_;
  Commands commands_;
  Control control_;
  UvHandle<uv_signal_t> sigterm_, sigint_, sighup_;
  bool stopping_ = false;
  int exit_code_ = 0;
};

}  // namespace tether
