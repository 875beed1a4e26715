// Notices to one HTTP endpoint (a webhook, a Telegram bot): sent one at a
// time and in order through the shared curl layer, retried with backoff
// while the endpoint is down or busy, never blocking anything. The queue is
// bounded (the oldest notice goes when it is full) and, given a state_dir,
// kept on disk (outboxfile.hpp) whenever it changes, so what is queued when
// the agent stops or dies is sent after its restart: delivery is at least
// once, in order. A transient failure (network, 429, 5xx) is retried until
// the notice expires; any other reply is final.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "backoff.hpp"
#include "http.hpp"
#include "outboxfile.hpp"
#include "uvpp.hpp"

namespace tether {

class Outbox {
 public:
  // Turns a notice into its request; called at each attempt.
  using Build = std::function<HttpRequest(const Notice&)>;

  // file: the name in state_dir; with an empty state_dir, nothing is kept.
  Outbox(uv_loop_t* loop, Http& http, std::string name, Build build, std::string state_dir = "", std::string file = "");
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Queues a notice with a fresh id; returns the id.
  std::string push(nlohmann::json payload);

  uint64_t sent() const { return sent_; }
  uint64_t failed() const { return failed_; }
  uint64_t dropped() const { return dropped_; }
  size_t queued() const { return queue_.size(); }

 private:
  void next();
  void on_reply(const HttpResponse& r);
  void changed();
  void save_now();

  uv_loop_t* loop_;
  Http& http_;
  std::string name_;
  Build build_;
  std::string state_dir_, file_;
  std::deque<Notice> queue_;
  bool busy_ = false;
  Backoff backoff_;  // the failed tries of the front notice
  uint64_t http_id_ = 0;
  Timer retry_;
  Timer save_timer_;   // coalesces the writes of one loop turn
  Lifetime lifetime_;  // for the callback handed to Http
  uint64_t sent_ = 0, failed_ = 0, dropped_ = 0;
};

}  // namespace tether
