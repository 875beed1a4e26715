// The Telegram channel's memory across restarts, state_dir/telegram.offset:
// the getUpdates offset and the commands being carried out. It is saved
// before a command runs, so that after a crash or a power cut Telegram does
// not hand the same update out again, and a command that was running when
// the agent died is reported to its chat instead of run a second time (it
// may be what killed the agent). The codec is pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tether {

struct InflightCommand {
  int64_t update_id = 0;
  int64_t chat = 0;
  int64_t thread = 0;
  std::string text;  // "/tunnel stop 8080"
};

struct OffsetState {
  int64_t offset = 0;  // the next update wanted; 0: none confirmed yet
  std::vector<InflightCommand> inflight;
};

std::string offset_to_json(const OffsetState& state);
// False with *err on anything but a well-formed file.
bool offset_from_json(const std::string& text, OffsetState* out, std::string* err);

// A missing file is a fresh start; a corrupt or truncated one is moved
// aside, reported in *warning and treated as a fresh start: never trusted,
// never fatal.
OffsetState load_offset(const std::string& state_dir, std::string* warning);
int save_offset(const std::string& state_dir, const OffsetState& state, std::string* err);

}  // namespace tether
