// Messages to one HTTP endpoint (a webhook, a Telegram bot): sent one at a
// time and in order through the shared curl layer, retried with backoff
// when the endpoint is down or busy, never blocking anything. The queue is
// bounded: when it is full the oldest message is dropped (and counted), so
// a long outage costs a fixed amount of memory.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "http.hpp"
#include "uvpp.hpp"

namespace tether {

class Outbox {
 public:
  // Called with each final reply (after retries), for the caller to read
  // what came back (e.g. a Telegram message id).
  using Result = std::function<void(const HttpResponse&)>;

  Outbox(uv_loop_t* loop, Http& http, std::string name, size_t capacity);
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  void push(HttpRequest req, Result on_result = nullptr);

  uint64_t sent() const { return sent_; }
  uint64_t failed() const { return failed_; }
  uint64_t dropped() const { return dropped_; }
  size_t queued() const { return queue_.size(); }

 private:
  struct Item {
    HttpRequest req;
    Result on_result;
  };
  void next();
  void on_reply(const HttpResponse& r);

  uv_loop_t* loop_;
  Http& http_;
  std::string name_;
  size_t capacity_;
  std::deque<Item> queue_;
  bool busy_ = false;
  int attempts_ = 0;
  uint64_t http_id_ = 0;
  Timer retry_;
  uint64_t sent_ = 0, failed_ = 0, dropped_ = 0;
};

}  // namespace tether
