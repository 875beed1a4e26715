// Calls to the Cloudflare v4 API on the loop, with the policy of
// docs/cloudflare-api.md §4: 429 waits for retry-after, 5xx, transport
// errors, timeouts and unreadable replies retry with backoff a bounded
// number of times, other 4xx are final. Every outcome is a CfReply whose
// error names the step it belongs to and Cloudflare's own code and message.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "backoff.hpp"
#include "cfreply.hpp"
#include "http.hpp"
#include "ratelimit.hpp"

namespace tether {

// The backoff of one call: 500 ms doubling to 8 s. unit: as for Backoff.
Backoff cf_call_backoff(Backoff::Unit unit = nullptr);

// Counts a failed try of a call in its `backoff` and returns how long to
// wait before the next, the call having been answered with `http`: a 429
// waits its retry-after (0: absent), else 60 s doubling to 5 minutes
// (Cloudflare blocks for 5 minutes); anything else the backoff's delay.
uint64_t cf_retry_delay_ms(int http, uint64_t retry_after_ms, Backoff& backoff);

// "a=1&b=x%20y" from pairs, percent-encoding values.
std::string query_string(const std::vector<std::pair<std::string, std::string>>& params);

class CfApi {
 public:
  using Done = std::function<void(const CfReply&)>;

  // limiter (may be null) spaces the requests of every CfApi sharing it.
  CfApi(uv_loop_t* loop, Http& http, RateLimiter* limiter, std::string api_base, std::string token, int timeout_s);
  // Cancels whatever is in flight; no callback runs after this.
  ~CfApi();
  CfApi(const CfApi&) = delete;
  CfApi& operator=(const CfApi&) = delete;

  // path is relative to api_base ("/zones?name=example.com"); body null
  // means no body. A success whose result is not `expect` is an unreadable
  // reply, retried like a garbled one.
  void call(const std::string& step, const std::string& method, const std::string& path, const nlohmann::json& body,
            CfShape expect, Done done);

 private:
  struct Call;
  void attempt(uint64_t id);
  void send(uint64_t id);
  void finish(uint64_t id, const HttpResponse& r);

  uv_loop_t* loop_;
  Http& http_;
  RateLimiter* limiter_;
  std::string base_, token_;
  long timeout_ms_;
  std::map<uint64_t, std::unique_ptr<Call>> calls_;
  uint64_t next_ = 1;
};

}  // namespace tether
