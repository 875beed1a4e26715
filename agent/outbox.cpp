#include "outbox.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

#include "jsonget.hpp"
#include "log.hpp"

namespace tether {
namespace {

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

int64_t now_s() { return static_cast<int64_t>(time(nullptr)); }

}  // namespace

Outbox::Outbox(uv_loop_t* loop, Http& http, std::string name, Build build, std::string state_dir, std::string file)
    : loop_(loop),
      http_(http),
      name_(std::move(name)),
      build_(std::move(build)),
      state_dir_(std::move(state_dir)),
      file_(std::move(file)),
      backoff_(kRetryInitialMs, kRetryMaxMs),
      retry_(loop),
      save_timer_(loop) {
  if (state_dir_.empty()) return;
  std::string warning;
  queue_ = load_notices(state_dir_, file_, &warning);
  if (!warning.empty()) log_error("%s: %s", name_.c_str(), warning.c_str());
  if (queue_.empty()) return;
  log_info("%s: %zu notices left by the previous run, sending them first", name_.c_str(), queue_.size());
  next();
}

Outbox::~Outbox() {
  if (http_id_) http_.cancel(http_id_);
  if (save_timer_.active()) save_now();
}

std::string Outbox::push(nlohmann::json payload) {
  // The notice being sent (front, when busy) is never the one dropped.
  if (queue_.size() >= kOutboxCapacity && queue_.size() > (busy_ ? 1u : 0u)) {
    queue_.erase(queue_.begin() + (busy_ ? 1 : 0));
    ++dropped_;
    log_warn("%s: queue full (%zu), dropped the oldest notice", name_.c_str(), kOutboxCapacity);
  }
  queue_.push_back({new_notice_id(), now_s(), std::move(payload)});
  changed();
  std::string id = queue_.back().id;
  if (!busy_) next();
  return id;
}

void Outbox::next() {
  if (size_t expired = prune_notices(&queue_, now_s(), kOutboxCapacity)) {
    dropped_ += expired;
    log_warn("%s: %zu notices expired unsent (older than %llds)", name_.c_str(), expired,
             static_cast<long long>(kNoticeLifetimeS));
    changed();
  }
  if (queue_.empty()) {
    busy_ = false;
    return;
  }
  busy_ = true;
  http_id_ = http_.fetch(build_(queue_.front()), lifetime_.guard([this](const HttpResponse& r) {
    http_id_ = 0;
    on_reply(r);
  }));
}

void Outbox::on_reply(const HttpResponse& r) {
  bool ok = r.status >= 200 && r.status < 300;
  bool transient = r.status == 0 || r.status == 429 || r.status >= 500;
  if (!ok && transient) {
    uint64_t wait = backoff_.next_delay_ms();
    if (uint64_t asked = r.status == 429 ? asked_wait_ms(r) : 0) wait = asked;
    log_warn("%s: %s; retry %d in %.1fs", name_.c_str(),
             r.status ? ("HTTP " + std::to_string(r.status)).c_str() : r.error.c_str(), backoff_.attempts(),
             static_cast<double>(wait) / 1000.0);
    retry_.start(wait, [this] { next(); });
    return;
  }
  if (ok) {
    ++sent_;
  } else {
    ++failed_;
    log_warn("%s: notice %s refused after %d attempts (HTTP %d); not retried", name_.c_str(), queue_.front().id.c_str(),
             backoff_.attempts() + 1, r.status);
  }
  backoff_.reset();
  queue_.pop_front();
  changed();
  next();
}

void Outbox::changed() {
  if (!state_dir_.empty() && !save_timer_.active()) save_timer_.start(0, [this] { save_now(); });
}

void Outbox::save_now() {
  save_timer_.stop();
  std::string err;
  if (save_notices(state_dir_, file_, queue_, &err) < 0)
    log_error("%s: cannot save the outbox (the previous one is kept): %s", name_.c_str(), err.c_str());
}

}  // namespace tether
