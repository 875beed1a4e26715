// The one verb dispatcher. The control socket and the Telegram channel both
// turn their input into a Request and hand it here; nothing else implements
// a verb.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "protocol.hpp"

namespace tether {

class Agent;

class Commands {
 public:
  explicit Commands(Agent& agent);

  // Calls done exactly once, now or later (a start waits for its URL). done
  // must cope with its client having gone away in the meantime.
  void dispatch(const Request& req, const Caller& caller, ReplyFn done);

 private:
  struct Verb {
    const char* name;
    const char* usage;  // arguments, for "ERR usage" and help
    const char* help;   // one line
    size_t min_args, max_args;
    void (Commands::*run)(const Request&, const Caller&, ReplyFn);
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

  Agent& agent_;
  std::vector<Verb> verbs_;
};

}  // namespace tether
