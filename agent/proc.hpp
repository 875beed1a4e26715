// What tether reads from /proc, in one place: its own memory, and process
// identity, telling the process tether means from whatever got its number
// later. A pid is reused once its process is reaped, and a process
// group id once its last member is gone, so tether never signals by number
// alone: it holds a pidfd for its own leader (opened right after the spawn,
// while the unreaped child pins the number), and checks every other process
// against its start time (/proc/PID/stat field 22, clock ticks since boot)
// through a pidfd, so that the check and the signal are about one process.
// Start times only compare within one boot: boot_id() tells boots apart.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tether {

// The start time of a live process in clock ticks since boot (0 if unknown).
uint64_t proc_start_ticks(int pid);
// Live (non-zombie) processes in process group pgid.
std::vector<int> group_members(int pgid);
// /proc/sys/kernel/random/boot_id: different after every boot ("" if unknown).
std::string boot_id();
// Whether the base name of argv[0] of process pid (/proc/PID/cmdline) is `name`.
bool argv0_is(int pid, const std::string& name);
// Resident memory of this process, from /proc/self/statm.
uint64_t resident_bytes();

// An owned pidfd; invalid (and every call -ENOSYS) on kernels before 5.3.
class PidFd {
 public:
  PidFd() = default;
  explicit PidFd(int pid);
  ~PidFd();
  PidFd(PidFd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  PidFd& operator=(PidFd&& o) noexcept;
  PidFd(const PidFd&) = delete;
  PidFd& operator=(const PidFd&) = delete;

  bool valid() const { return fd_ >= 0; }
  // 0 or a negative errno: -ESRCH once the process is reaped.
  int signal(int signum) const;

 private:
  int fd_ = -1;
};

// The members of group pgid that can be proven to belong to the group whose
// leader started at leader_ticks: none if the number pgid now names another
// process (it was reused), else those started no earlier than the leader.
// accept, if given, must also hold for each.
std::vector<int> own_group_members(int pgid, uint64_t leader_ticks, const std::function<bool(int pid)>& accept = {});
// Sends signum to each of own_group_members(), one by one through a pidfd
// after checking again that the pidfd's process is the one examined (the
// plain kill() fallback without pidfds has a small window). Returns how many.
int signal_own_group(int pgid, uint64_t leader_ticks, int signum, const std::function<bool(int pid)>& accept = {});

// Whether the process group a previous agent recorded (in this boot) is
// still its cloudflared: the leader has the recorded start time and an
// argv[0] named cloudflared, or the leader is gone and every process left in
// the group started after it and is a cloudflared. Guards against killing
// whatever reused the pid.
bool is_our_cloudflared_group(int pgid, uint64_t start_ticks);

}  // namespace tether
