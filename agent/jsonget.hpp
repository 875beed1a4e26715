// Reading JSON that comes from outside (Cloudflare, Telegram, a webhook):
// a missing field and a field of the wrong type are the same thing, the
// default. nlohmann's value() throws on a wrong type, and an exception out
// of a loop callback would end the agent.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace tether {

inline const nlohmann::json& json_field(const nlohmann::json& j, const char* key) {
  static const nlohmann::json none;
  if (!j.is_object()) return none;
  auto it = j.find(key);
  return it == j.end() ? none : *it;
}

inline std::string json_string(const nlohmann::json& j, const char* key, const std::string& def = "") {
  const auto& v = json_field(j, key);
  return v.is_string() ? v.get<std::string>() : def;
}

inline int64_t json_int(const nlohmann::json& j, const char* key, int64_t def = 0) {
  const auto& v = json_field(j, key);
  return v.is_number_integer() ? v.get<int64_t>() : def;
}

inline bool json_bool(const nlohmann::json& j, const char* key, bool def = false) {
  const auto& v = json_field(j, key);
  return v.is_boolean() ? v.get<bool>() : def;
}

}  // namespace tether
