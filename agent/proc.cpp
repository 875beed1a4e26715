#include "proc.hpp"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace tether {
namespace {

struct ProcStat {
  char state = 0;
  int pgrp = 0;
  uint64_t start_ticks = 0;
};

// /proc/<pid>/stat: "pid (comm) S ppid pgrp ... starttime(22) ...". comm can
// hold spaces and parentheses, so fields are counted after the last ')'.
bool read_proc_stat(int pid, ProcStat* out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) return false;
  size_t close = text.rfind(')');
  if (close == std::string::npos) return false;
  std::vector<std::string> fields;  // fields[0] is field 3 (state)
  size_t i = close + 2;
  while (i < text.size()) {
    size_t sp = text.find(' ', i);
    if (sp == std::string::npos) sp = text.size();
    fields.push_back(text.substr(i, sp - i));
    i = sp + 1;
  }
  if (fields.size() < 20) return false;
  out->state = fields[0].empty() ? 0 : fields[0][0];
  out->pgrp = std::atoi(fields[2].c_str());
  out->start_ticks = std::strtoull(fields[19].c_str(), nullptr, 10);
  return true;
}

bool live(const ProcStat& st) { return st.state != 'Z' && st.state != 'X'; }

int sys_pidfd_open(int pid) {
#ifdef SYS_pidfd_open
  long fd = syscall(SYS_pidfd_open, pid, 0);
  return fd < 0 ? -errno : static_cast<int>(fd);
#else
  (void)pid;
  return -ENOSYS;
#endif
}

int sys_pidfd_send_signal(int fd, int signum) {
#ifdef SYS_pidfd_send_signal
  return syscall(SYS_pidfd_send_signal, fd, signum, nullptr, 0) < 0 ? -errno : 0;
#else
  (void)fd;
  (void)signum;
  return -ENOSYS;
#endif
}

// The process pid still in group pgid and started no earlier than
// leader_ticks, proven through a pidfd: if the pidfd's process is alive
// after /proc was read, /proc described it.
bool still_member(int pid, int pgid, uint64_t leader_ticks, const PidFd& fd) {
  ProcStat st;
  if (!read_proc_stat(pid, &st) || !live(st) || st.pgrp != pgid || st.start_ticks < leader_ticks) return false;
  int r = fd.signal(0);
  return r == 0 || r == -ENOSYS;
}

}  // namespace

uint64_t proc_start_ticks(int pid) {
  ProcStat st;
  return read_proc_stat(pid, &st) ? st.start_ticks : 0;
}

std::vector<int> group_members(int pgid) {
  std::vector<int> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = readdir(d)) {
    char* end;
    long pid = std::strtol(e->d_name, &end, 10);
    ProcStat st;
    if (*end || pid <= 0 || !read_proc_stat(static_cast<int>(pid), &st)) continue;
    if (st.pgrp == pgid && live(st)) out.push_back(static_cast<int>(pid));
  }
  closedir(d);
  return out;
}

std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

PidFd::PidFd(int pid) : fd_(sys_pidfd_open(pid)) {}

PidFd::~PidFd() {
  if (fd_ >= 0) close(fd_);
}

PidFd& PidFd::operator=(PidFd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

int PidFd::signal(int signum) const { return fd_ >= 0 ? sys_pidfd_send_signal(fd_, signum) : -ENOSYS; }

std::vector<int> own_group_members(int pgid, uint64_t leader_ticks, const std::function<bool(int pid)>& accept) {
  // Signal 0 sends nothing, so asking by number is harmless; it spares the
  // walk through /proc in the usual case, a child that left no group.
  if (pgid <= 0 || (kill(-pgid, 0) < 0 && errno == ESRCH)) return {};
  ProcStat leader;
  // Whatever has the number now and is not the leader means the group's
  // number was free at some point: nothing in a group of that id is ours.
  if (read_proc_stat(pgid, &leader) && leader.start_ticks != leader_ticks) return {};
  std::vector<int> out;
  for (int pid : group_members(pgid)) {
    ProcStat st;
    if (read_proc_stat(pid, &st) && st.start_ticks >= leader_ticks && (!accept || accept(pid))) out.push_back(pid);
  }
  return out;
}

int signal_own_group(int pgid, uint64_t leader_ticks, int signum, const std::function<bool(int pid)>& accept) {
  int sent = 0;
  for (int pid : own_group_members(pgid, leader_ticks, accept)) {
    PidFd fd(pid);
    if (!still_member(pid, pgid, leader_ticks, fd)) continue;
    int r = fd.signal(signum);
    if (r == -ENOSYS) r = kill(pid, signum) < 0 ? -errno : 0;
    if (r == 0) ++sent;
  }
  return sent;
}

bool argv0_is(int pid, const std::string& name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
  std::ifstream in(path, std::ios::binary);
  std::string argv0;
  if (!in || !std::getline(in, argv0, '\0')) return false;
  size_t slash = argv0.rfind('/');
  return argv0.substr(slash == std::string::npos ? 0 : slash + 1) == name;
}

uint64_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

bool is_our_cloudflared_group(int pgid, uint64_t start_ticks) {
  std::vector<int> members = own_group_members(pgid, start_ticks);
  if (std::find(members.begin(), members.end(), pgid) != members.end()) return argv0_is(pgid, "cloudflared");
  for (int pid : members)
    if (!argv0_is(pid, "cloudflared")) return false;
  return !members.empty();
}

}  // namespace tether
