// A Cloudflare API reply: byte 0 picks the HTTP status and the result shape
// a step expects, the rest is the body -> parse_cf_reply.
//
// Checks, from the contract in cfreply.hpp: it never throws (a wrong type
// used to end the agent from inside a loop callback); ok only for a 2xx
// envelope with success true, no error codes and a result of the expected
// shape; a failure always has a message, at most kMaxErrorText bytes plus
// the "..." of a cut; an unreadable reply is never ok; the same input gives
// the same reply.
#include <cstdint>
#include <string>
#include <string_view>

#include "cfreply.hpp"
#include "common.hpp"

using namespace tether;
using fuzz::show;

namespace {

constexpr int kStatuses[] = {200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 502, 503};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  auto shape = static_cast<CfShape>(data[0] & 3);
  int status = kStatuses[(data[0] >> 2) % (sizeof kStatuses / sizeof kStatuses[0])];
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);

  CfReply r = parse_cf_reply(status, body, shape);
  FUZZ_CHECK(r.http == status, "http " + std::to_string(r.http));
  if (r.ok) {
    FUZZ_CHECK(r.readable, show(body));
    FUZZ_CHECK(status >= 200 && status < 300, "ok with HTTP " + std::to_string(status));
    FUZZ_CHECK(r.codes.empty(), show(body));
    FUZZ_CHECK(cf_shape_matches(r.result, shape), show(body));
  } else {
    FUZZ_CHECK(!r.error.message.empty(), show(body));
    FUZZ_CHECK(r.error.message.size() <= kMaxErrorText + 3, show(r.error.message));
  }
  CfReply again = parse_cf_reply(status, body, shape);
  FUZZ_CHECK(again.ok == r.ok && again.readable == r.readable && again.codes == r.codes &&
                 again.error.code == r.error.code && again.error.message == r.error.message && again.result == r.result,
             show(body));
  return 0;
}
