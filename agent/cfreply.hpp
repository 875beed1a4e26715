// A Cloudflare v4 reply read from its HTTP status and body, by type: a body
// that is not the documented envelope (success a boolean, errors an array
// of {code: integer, message: string}) is "unreadable", never an exception.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tether {

struct CfError {
  std::string step;          // "create tunnel", "find dns record", ...
  int http = 0;              // 0: no HTTP answer
  int code = 0;              // Cloudflare's code (errors[0].code), 0 if none
  std::string message;       // at most kMaxErrorText bytes, secrets masked
  std::string text() const;  // "<step>: <code> <message>"
};

struct CfReply {
  bool ok = false;
  bool readable = false;  // the body was a Cloudflare envelope
  int http = 0;
  nlohmann::json result;  // the envelope's result on success
  nlohmann::json result_info;
  CfError error;
  bool has_code(int code) const;  // any of errors[].code
  std::vector<int> codes;
};

// What a step needs the result to be; anything else is an unreadable reply.
enum class CfShape { any, object, array, string };

// Whether a result has that shape.
bool cf_shape_matches(const nlohmann::json& result, CfShape expect);

// Cloudflare's messages are quoted in replies and logs, cut to this length.
constexpr size_t kMaxErrorText = 500;

// The reply of an HTTP answer (status != 0). error.message is filled when
// !ok; error.step is left to the caller.
CfReply parse_cf_reply(int status, std::string_view body, CfShape expect);

}  // namespace tether
