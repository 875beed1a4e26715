// The one verb dispatcher. The control socket and the Telegram channel both
// turn their input into a Request and hand it here; nothing else implements
// a verb. It reaches the rest of the agent only through Targets, so its
// parsing, usage errors and replies are unit tested with fakes.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "config.hpp"
#include "metrics.hpp"
#include "protocol.hpp"
#include "report.hpp"
#include "tunnel.hpp"

namespace tether {

class Dispatcher {
 public:
  // What the verbs act on; the agent wires each to its owner.
  struct Targets {
    std::function<const Config&()> config;
    // What `start <id>` means (Agent::tunnel_spec).
    std::function<bool(const std::string& id, TunnelSpec* out, std::string* err)> tunnel_spec;
    std::function<void(const TunnelSpec& spec, bool wait, ReplyFn done)> start;
    std::function<void(const std::string& id, ReplyFn done)> stop;
    std::function<void(const std::string& id, ReplyFn done)> restart;
    std::function<void(ReplyFn done)> killall;
    std::function<std::vector<TunnelInfo>()> infos;
    std::function<bool(const std::string& id, TunnelInfo* out)> info;
    std::function<bool(const std::string& id, size_t n, std::vector<std::string>* out)> logs;
    // "" or the errors, one per line (Agent::reload).
    std::function<std::string()> reload;
    // service: the service= argument, "" for the configured routes.
    std::function<void(const std::string& name, const std::string& service, bool start, ReplyFn done)> provision;
    std::function<void(const std::string& name, ReplyFn done)> deprovision;
    std::function<MetricsSnapshot()> metrics;
  };

  explicit Dispatcher(Targets targets);

  // Calls done exactly once, now or later (a start waits for its URL). done
  // must cope with its client having gone away in the meantime.
  void dispatch(const Request& req, const Caller& caller, ReplyFn done);

 private:
  struct Verb {
    const char* name;
    const char* usage;  // arguments, for "ERR usage" and help
    const char* help;   // one line
    size_t min_args, max_args;
    void (Dispatcher::*run)(const Request&, const Caller&, ReplyFn);
  };

  void help(const Request&, const Caller&, ReplyFn done);
  void ping(const Request&, const Caller&, ReplyFn done);
  void version(const Request&, const Caller&, ReplyFn done);
  void start(const Request&, const Caller&, ReplyFn done);
  void stop(const Request&, const Caller&, ReplyFn done);
  void restart(const Request&, const Caller&, ReplyFn done);
  void list(const Request&, const Caller&, ReplyFn done);
  void status(const Request&, const Caller&, ReplyFn done);
  void logs(const Request&, const Caller&, ReplyFn done);
  void killall(const Request&, const Caller&, ReplyFn done);
  void watch(const Request&, const Caller&, ReplyFn done);
  void reload(const Request&, const Caller&, ReplyFn done);
  void provision(const Request&, const Caller&, ReplyFn done);
  void deprovision(const Request&, const Caller&, ReplyFn done);
  void metrics(const Request&, const Caller&, ReplyFn done);
  void quit(const Request&, const Caller&, ReplyFn done);

  static Reply usage(const Verb& v);
  // The first argument as a tunnel id ("08080" -> "8080"); on a bad one,
  // replies "ERR usage <verb> <usage>: why" and returns false.
  bool id_arg(const Request& req, const ReplyFn& done, std::string* id) const;
  const Verb* find(const std::string& name) const;

  Targets t_;
  std::vector<Verb> verbs_;
};

}  // namespace tether
