// provision / deprovision: the idempotent, resumable workflows of
// docs/cloudflare-api.md §13-14, run on the loop. Every step reads the
// current state first, so running it again continues where a failure
// stopped it and changes nothing once everything is in place. Jobs for
// different names run concurrently; jobs for the same name run one after
// the other.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "http.hpp"
#include "ratelimit.hpp"
#include "uvpp.hpp"

namespace tether {

class Agent;

class Provisioner {
 public:
  Provisioner(uv_loop_t* loop, Http& http, Agent& agent);
  ~Provisioner();

  // Replies "OK provisioned <name> https://<host> tunnel=<uuid>".
  void provision(const std::string& name, const std::string& service, bool start, ReplyFn done);
  // Replies "OK deprovisioned <name>", or ERR notfound when nothing exists.
  void deprovision(const std::string& name, ReplyFn done);
  // Drops every job in flight (agent shutdown); their clients get no reply.
  void cancel_all();

 private:
  class Job;
  friend class Job;

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
  // The running job with this serial, or null once it is finished or
  // cancelled.
  Job* running(uint64_t serial) const;

  uv_loop_t* loop_;
  Http& http_;
  Agent& agent_;
  // Per name: the running job first, then the ones waiting for it.
  std::map<std::string, std::deque<std::unique_ptr<Job>>> queues_;
  // Finished jobs are freed on the next loop turn, never inside their own
  // callbacks.
  std::vector<std::unique_ptr<Job>> finished_;
  Timer reaper_;
  uint64_t serials_ = 0;
  std::deque<uint64_t> ready_;  // serials of queue fronts waiting for a slot
  size_t running_ = 0;
  RateLimiter limiter_;
  ZoneAnswer zone_answer_;
};

}  // namespace tether
