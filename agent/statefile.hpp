// What the agent supervises, on disk (state_dir/state.json), so that an
// agent killed with -9 can, at its next start, find the cloudflared process
// groups it left behind, stop them, and bring the same tunnels back. The
// codec is pure; the file is replaced atomically.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tunnel.hpp"

namespace tether {

struct StateRecord {
  TunnelSpec spec;
  bool desired = true;       // false while being stopped: reap, do not restore
  int pid = 0;               // the last child (and its process group), 0 if none
  uint64_t start_ticks = 0;  // /proc/<pid>/stat starttime, against pid reuse
  std::string boot_id;       // start times compare within one boot only
};

std::string state_to_json(const std::vector<StateRecord>& records);
// Returns false with *err on anything but a well-formed state file.
bool state_from_json(const std::string& text, std::vector<StateRecord>* out, std::string* err);

// state_dir/state.json.
std::string state_file_path(const std::string& state_dir);
// Reads state_dir/state.json. A missing file is an empty state; an
// unreadable or corrupt one is renamed aside (state.json.corrupt-<time>),
// reported in *warning, and also treated as empty: never fatal.
std::vector<StateRecord> load_state(const std::string& state_dir, std::string* warning);
constexpr const char* kStateFile = "state.json";
// Every file in state_dir is written this way: the directory is created if
// needed, then the file replaced atomically (write_file_atomic).
int save_in_state_dir(const std::string& state_dir, const std::string& name, std::string_view content,
                      std::string* err);
// And read this way: a missing file is a fresh start (parse is not called,
// false is returned); one that cannot be read, or that parse (text -> false
// with its *err) rejects, is moved aside and described in *warning, naming
// it as `what`. True once parse has accepted the text.
bool load_from_state_dir(const std::string& state_dir, const std::string& name, const std::string& what,
                         size_t max_bytes, const std::function<bool(const std::string&, std::string*)>& parse,
                         std::string* warning);
// The JSON object of a file with a "version" key: false with *err for
// anything else, or for another version.
bool parse_versioned(const std::string& text, int version, nlohmann::json* out, std::string* err);

}  // namespace tether
