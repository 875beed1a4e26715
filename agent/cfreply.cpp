#include "cfreply.hpp"

#include "jsonget.hpp"
#include "log.hpp"

namespace tether {
namespace {

using json = nlohmann::json;

const char* shape_name(CfShape s) {
  switch (s) {
    case CfShape::object: return "an object";
    case CfShape::array: return "a list";
    case CfShape::string: return "a string";
    case CfShape::any: break;
  }
  return "anything";
}

std::string capped(std::string s) {
  if (s.size() > kMaxErrorText) s = s.substr(0, kMaxErrorText) + "...";
  return s;
}

}  // namespace

bool cf_shape_matches(const json& result, CfShape expect) {
  switch (expect) {
    case CfShape::object: return result.is_object();
    case CfShape::array: return result.is_array();
    case CfShape::string: return result.is_string();
    case CfShape::any: break;
  }
  return true;
}

std::string CfError::text() const {
  std::string out = step + ": ";
  if (code) out += std::to_string(code) + " ";
  return out + message;
}

bool CfReply::has_code(int code) const {
  for (int c : codes)
    if (c == code) return true;
  return false;
}

CfReply parse_cf_reply(int status, std::string_view body, CfShape expect) {
  CfReply reply;
  reply.http = status;
  reply.error.http = status;
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  const json& success = json_field(j, "success");
  const json& errors = json_field(j, "errors");
  reply.readable = success.is_boolean() && (errors.is_null() || errors.is_array());
  if (!reply.readable) {
    // Never quote the body: a mangled reply may still hold a token.
    reply.error.message = "unreadable reply (HTTP " + std::to_string(status) + ", not a Cloudflare JSON envelope)";
    return reply;
  }
  if (errors.is_array())
    for (const auto& e : errors) reply.codes.push_back(static_cast<int>(json_int(e, "code")));
  if (status >= 200 && status < 300 && success.get<bool>() && reply.codes.empty()) {
    const json& result = json_field(j, "result");
    if (!cf_shape_matches(result, expect)) {
      reply.readable = false;
      reply.error.message =
          "unreadable reply (HTTP " + std::to_string(status) + ", its result is not " + shape_name(expect) + ")";
      return reply;
    }
    reply.ok = true;
    reply.result = result;
    reply.result_info = json_field(j, "result_info");
    return reply;
  }
  if (errors.is_array() && !errors.empty() && errors[0].is_object()) {
    reply.error.code = static_cast<int>(json_int(errors[0], "code"));
    reply.error.message = capped(redacted(json_string(errors[0], "message", "(no message)")));
  } else {
    reply.error.message = "HTTP " + std::to_string(status) + " without an error message";
  }
  return reply;
}

}  // namespace tether
