// provision / deprovision: the idempotent, resumable workflows of
// docs/cloudflare-api.md §13-14, run on the loop. Every step reads the
// current state first, so running it again continues where a failure
// stopped it and changes nothing once everything is in place. Jobs for
// different names run concurrently; jobs for the same name run one after
// the other. What each step sends and how it reads the answer is in
// provision_steps.hpp; this file only runs the steps in order.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "http.hpp"
#include "protocol.hpp"
#include "ratelimit.hpp"
#include "uvpp.hpp"

namespace tether {

class Provisioner {
 public:
  // What the jobs need of the supervisor; the agent wires these to it.
  struct Tunnels {
    std::function<bool(const std::string& name)> exists;
    // Calls done once the tunnel is stopped.
    std::function<void(const std::string& name, ReplyFn done)> stop;
    // `provision ... start`: restarts the tunnel, or starts it.
    std::function<void(const std::string& name)> start;
  };

  // cfg is the agent's: a reload changes it in place.
  Provisioner(uv_loop_t* loop, Http& http, const Config& cfg, Tunnels tunnels);
  ~Provisioner();

  // service: one route's service instead of the configured one ("" keeps
  // it). Replies "OK provisioned <name> https://<host> tunnel=<uuid>".
  void provision(const std::string& name, const std::string& service, bool start, ReplyFn done);
  // Replies "OK deprovisioned <name>", or ERR notfound when nothing exists.
  void deprovision(const std::string& name, ReplyFn done);
  // Drops every job in flight (agent shutdown); their clients get no reply.
  void cancel_all();

 private:
  class Job;
  class ProvisionJob;
  class DeprovisionJob;

  // A verify + zone answer, reused for a minute by jobs with the same key.
  struct ZoneAnswer {
    std::string key;
    uint64_t at_ms = 0;
    std::string zone_id, zone_name, account;
  };
  static constexpr uint64_t kZoneAnswerTtlMs = 60000;

  void enqueue(std::unique_ptr<Job> job);
  void launch();
  size_t max_jobs() const;
  void finished(Job* job);
  const ZoneAnswer* known_zone(const std::string& key) const;
  void remember_zone(ZoneAnswer answer);

  uv_loop_t* loop_;
  Http& http_;
  const Config& cfg_;
  Tunnels tunnels_;
  // Per name: the running job first, then the ones waiting for it.
  std::map<std::string, std::deque<std::unique_ptr<Job>>> queues_;
  // Queue fronts waiting for a slot. Only finished() and cancel_all() take a
  // job out of its queue, and both keep this list in step.
  std::deque<Job*> ready_;
  // A job finishes inside a callback of its own (a CfApi reply, its timer),
  // so it is freed from here on the next loop turn, when none of its code is
  // on the stack.
  std::vector<std::unique_ptr<Job>> finished_;
  Timer reaper_;
  size_t running_ = 0;
  RateLimiter limiter_;
  ZoneAnswer zone_answer_;
};

}  // namespace tether
