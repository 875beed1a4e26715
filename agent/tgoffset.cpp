#include "tgoffset.hpp"

#include <nlohmann/json.hpp>

#include "statefile.hpp"

namespace tether {
namespace {

constexpr int kVersion = 1;
constexpr size_t kMaxFile = 1 << 20;
constexpr const char* kName = "telegram.offset";

}  // namespace

std::string offset_to_json(const OffsetState& state) {
  nlohmann::json inflight = nlohmann::json::array();
  for (const auto& c : state.inflight)
    inflight.push_back({{"update_id", c.update_id}, {"chat", c.chat}, {"thread", c.thread}, {"text", c.text}});
  nlohmann::json j = {{"version", kVersion}, {"offset", state.offset}, {"inflight", inflight}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool offset_from_json(const std::string& text, OffsetState* out, std::string* err) {
  nlohmann::json j;
  if (!parse_versioned(text, kVersion, &j, err)) return false;
  OffsetState state;
  try {
    state.offset = j.at("offset").get<int64_t>();
    if (state.offset < 0) throw std::runtime_error("negative offset");
    const auto& list = j.at("inflight");
    if (!list.is_array()) throw std::runtime_error("\"inflight\" is not an array");
    for (const auto& c : list) {
      InflightCommand cmd;
      cmd.update_id = c.at("update_id").get<int64_t>();
      cmd.chat = c.at("chat").get<int64_t>();
      cmd.thread = c.at("thread").get<int64_t>();
      cmd.text = c.at("text").get<std::string>();
      state.inflight.push_back(cmd);
    }
  } catch (const std::exception& e) {
    *err = std::string("bad field: ") + e.what();
    return false;
  }
  *out = std::move(state);
  return true;
}

OffsetState load_offset(const std::string& state_dir, std::string* warning) {
  OffsetState state;
  load_from_state_dir(
      state_dir, kName, "Telegram offset file", kMaxFile,
      [&](const std::string& text, std::string* err) { return offset_from_json(text, &state, err); }, warning);
  if (!warning->empty()) *warning += "; updates Telegram still holds may be handed out again";
  return state;
}

int save_offset(const std::string& state_dir, const OffsetState& state, std::string* err) {
  return save_in_state_dir(state_dir, kName, offset_to_json(state), err);
}

}  // namespace tether
