#include "outbox.hpp"

#include <nlohmann/json.hpp>
#include <random>

#include "backoff.hpp"
#include "jsonget.hpp"
#include "log.hpp"

namespace tether {
namespace {

constexpr int kMaxAttempts = 6;
constexpr uint64_t kRetryInitialMs = 1000;
constexpr uint64_t kRetryMaxMs = 60000;

// How long the endpoint asked us to wait: Telegram puts it in the body
// (parameters.retry_after), HTTP in the retry-after header; seconds.
uint64_t asked_wait_ms(const HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  int64_t asked = json_int(json_field(j, "parameters"), "retry_after");
  if (asked > 0) return static_cast<uint64_t>(asked) * 1000;
  auto h = r.headers.find("retry-after");
  return h == r.headers.end() ? 0 : std::strtoull(h->second.c_str(), nullptr, 10) * 1000;
}

}  // namespace

Outbox::Outbox(uv_loop_t* loop, Http& http, std::string name, size_t capacity)
    : loop_(loop), http_(http), name_(std::move(name)), capacity_(capacity), retry_(loop) {}

Outbox::~Outbox() {
  if (http_id_) http_.cancel(http_id_);
}

void Outbox::push(HttpRequest req, Result on_result) {
  // The message being sent (front, when busy) is never the one dropped.
  if (queue_.size() >= capacity_ && queue_.size() > (busy_ ? 1u : 0u)) {
    queue_.erase(queue_.begin() + (busy_ ? 1 : 0));
    ++dropped_;
    log_warn("%s: queue full (%zu), dropped the oldest message", name_.c_str(), capacity_);
  }
  queue_.push_back({std::move(req), std::move(on_result)});
  if (!busy_) next();
}

void Outbox::next() {
  if (queue_.empty()) {
    busy_ = false;
    return;
  }
  busy_ = true;
  ++attempts_;
  http_id_ = http_.fetch(queue_.front().req, [this](HttpResponse r) {
    http_id_ = 0;
    on_reply(r);
  });
}

void Outbox::on_reply(const HttpResponse& r) {
  bool ok = r.status >= 200 && r.status < 300;
  bool transient = r.status == 0 || r.status == 429 || r.status >= 500;
  if (!ok && transient && attempts_ < kMaxAttempts) {
    uint64_t wait = r.status == 429 ? asked_wait_ms(r) : 0;
    if (!wait) {
      static std::minstd_rand rng(std::random_device{}());
      wait = backoff_delay_ms(attempts_, kRetryInitialMs, kRetryMaxMs, std::uniform_real_distribution<double>(0, 1)(rng));
    }
    log_warn("%s: %s; retry %d in %.1fs", name_.c_str(),
             r.status ? ("HTTP " + std::to_string(r.status)).c_str() : r.error.c_str(), attempts_,
             static_cast<double>(wait) / 1000.0);
    retry_.start(wait, [this] { next(); });
    return;
  }
  if (ok) {
    ++sent_;
  } else {
    ++failed_;
    log_warn("%s: giving up on a message after %d attempts (%s)", name_.c_str(), attempts_,
             r.status ? ("HTTP " + std::to_string(r.status)).c_str() : r.error.c_str());
  }
  attempts_ = 0;
  Item done = std::move(queue_.front());
  queue_.pop_front();
  if (done.on_result) done.on_result(r);
  next();
}

}  // namespace tether
