#include "cfapi.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "backoff.hpp"
#include "log.hpp"
#include "uvpp.hpp"

namespace tether {
namespace {

constexpr int kMaxAttempts = 5;
constexpr uint64_t kRetryInitialMs = 500;
constexpr uint64_t kRetryMaxMs = 8000;
constexpr uint64_t kMaxRetryAfterMs = 300000;  // Cloudflare blocks for 5 minutes at most
constexpr uint64_t kRateLimitedMs = 60000;     // a 429 without retry-after: the block is minutes, not seconds
constexpr size_t kMaxResponse = 4 << 20;

bool transient(int http) { return http == 0 || http == 408 || http == 429 || http >= 500; }

// retry-after in seconds (Cloudflare sends seconds, rounded up).
uint64_t retry_after_ms(const HttpResponse& r) {
  auto it = r.headers.find("retry-after");
  if (it == r.headers.end()) return 0;
  char* end = nullptr;
  double s = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || s < 0) return 0;
  return std::min(static_cast<uint64_t>(s * 1000), kMaxRetryAfterMs);
}

}  // namespace

Backoff cf_call_backoff(Backoff::Unit unit) { return Backoff(kRetryInitialMs, kRetryMaxMs, std::move(unit)); }

uint64_t cf_retry_delay_ms(int http, uint64_t retry_after_ms, Backoff& backoff) {
  uint64_t delay = backoff.next_delay_ms();
  if (http != 429) return delay;
  if (retry_after_ms) return std::min(retry_after_ms, kMaxRetryAfterMs);
  return std::min(kRateLimitedMs << std::min(backoff.attempts() - 1, 8), kMaxRetryAfterMs);
}

std::string query_string(const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out += '&';
    out += k + '=';
    for (unsigned char c : v) {
      if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
        out += static_cast<char>(c);
      } else {
        char buf[4];
        snprintf(buf, sizeof buf, "%%%02X", c);
        out += buf;
      }
    }
  }
  return out;
}

struct CfApi::Call {
  Call(uv_loop_t* loop) : backoff(cf_call_backoff()), retry(loop) {}
  std::string step, method, path, body;
  CfShape expect = CfShape::any;
  Done done;
  Backoff backoff;  // counts the failed tries
  uint64_t http_id = 0;
  uint64_t ticket = 0;  // waiting for the rate limiter
  Timer retry;
  std::string last_problem;
};

CfApi::CfApi(uv_loop_t* loop, Http& http, RateLimiter* limiter, std::string api_base, std::string token, int timeout_s)
    : loop_(loop),
      http_(http),
      limiter_(limiter),
      base_(std::move(api_base)),
      token_(std::move(token)),
      timeout_ms_(static_cast<long>(timeout_s) * 1000) {
  while (!base_.empty() && base_.back() == '/') base_.pop_back();
  secret_add(token_);
}

CfApi::~CfApi() {
  for (auto& kv : calls_) {
    if (kv.second->http_id) http_.cancel(kv.second->http_id);
    if (kv.second->ticket && limiter_) limiter_->cancel(kv.second->ticket);
  }
}

void CfApi::call(const std::string& step, const std::string& method, const std::string& path,
                 const nlohmann::json& body, CfShape expect, Done done) {
  auto c = std::make_unique<Call>(loop_);
  c->step = step;
  c->expect = expect;
  c->method = method;
  c->path = path;
  if (!body.is_null()) c->body = body.dump();
  c->done = std::move(done);
  uint64_t id = next_++;
  calls_.emplace(id, std::move(c));
  attempt(id);
}

void CfApi::attempt(uint64_t id) {
  Call& c = *calls_.at(id);
  if (!limiter_) return send(id);
  c.ticket = limiter_->wait([this, id] { send(id); });
}

void CfApi::send(uint64_t id) {
  Call& c = *calls_.at(id);
  c.ticket = 0;
  HttpRequest req;
  req.method = c.method;
  req.url = base_ + c.path;
  req.body = c.body;
  req.timeout_ms = timeout_ms_;
  req.max_response = kMaxResponse;
  req.headers = {"Authorization: Bearer " + token_, "Accept: application/json"};
  if (!c.body.empty()) req.headers.push_back("Content-Type: application/json");
  c.http_id = http_.fetch(req, [this, id](const HttpResponse& r) { finish(id, r); });
}

void CfApi::finish(uint64_t id, const HttpResponse& r) {
  auto it = calls_.find(id);
  if (it == calls_.end()) return;
  Call& c = *it->second;
  c.http_id = 0;
  CfReply reply;
  if (r.status) {
    reply = parse_cf_reply(r.status, r.body, c.expect);
  } else {
    reply.error.message = r.timed_out ? "no reply within " + std::to_string(timeout_ms_ / 1000) + "s"
                                      : "cannot reach the API: " + r.error;
  }
  reply.error.step = c.step;

  bool garbled = r.status >= 200 && r.status < 300 && !reply.readable;  // a proxy's hiccup
  // The failed tries before, and this one.
  int tries = c.backoff.attempts() + 1;
  bool retry = !reply.ok && tries < kMaxAttempts && (transient(r.status) || garbled);
  if (retry) {
    uint64_t delay = cf_retry_delay_ms(r.status, retry_after_ms(r), c.backoff);
    log_warn("api %s: %s; retry %d/%d in %.1fs", c.step.c_str(), reply.error.text().c_str(), tries, kMaxAttempts - 1,
             static_cast<double>(delay) / 1000.0);
    c.retry.start(delay, [this, id] { attempt(id); });
    return;
  }
  if (!reply.ok && tries > 1) reply.error.message += " (after " + std::to_string(tries) + " attempts)";
  // The call is gone before its callback runs: the callback may destroy
  // this CfApi, and nothing here is touched afterwards.
  Done done = std::move(c.done);
  calls_.erase(it);
  done(reply);
}

}  // namespace tether
