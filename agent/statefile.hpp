// What the agent supervises, on disk (state_dir/state.json), so that an
// agent killed with -9 can, at its next start, find the cloudflared process
// groups it left behind, stop them, and bring the same tunnels back. The
// codec is pure; the file is replaced atomically.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "supervisor.hpp"

namespace tether {

struct StateRecord {
  TunnelSpec spec;
  bool desired = true;       // false while being stopped: reap, do not restore
  int pid = 0;               // the child (and its process group), 0 if none
  uint64_t start_ticks = 0;  // /proc/<pid>/stat starttime, against pid reuse
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
int save_state(const std::string& state_dir, const std::vector<StateRecord>& records, std::string* err);

// Whether the process group a previous agent recorded is still its
// cloudflared: the leader has the recorded start time and an argv[0] named
// cloudflared, or the leader is gone and every process left in the group is
// a cloudflared. Guards against killing whatever reused the pid.
bool is_our_cloudflared_group(int pgid, uint64_t start_ticks);
// Live (non-zombie) processes in process group pgid.
std::vector<int> group_members(int pgid);
// The start time of a process in clock ticks since boot (0 if unknown).
uint64_t proc_start_ticks(int pid);

}  // namespace tether
