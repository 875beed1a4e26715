// One cloudflared process: spawned detached (its own session and process
// group), stdin on /dev/null, stdout and stderr read line by line for its
// whole life. The pipes are never closed before the process has exited: the
// real cloudflared dies of SIGPIPE at its next log line if its reader goes
// away (docs/cloudflared.md §8).
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "linesplit.hpp"
#include "proc.hpp"
#include "uvpp.hpp"

namespace tether {

class Child {
 public:
  using LineFn = std::function<void(std::string_view line)>;
  // Called once, after the process has exited and its output is drained.
  // It may destroy the Child.
  using ExitFn = std::function<void(int64_t status, int term_signal)>;

  explicit Child(uv_loop_t* loop);
  // A Child destroyed while its process runs kills the whole group first:
  // the agent never leaves an orphan behind. The process is still reaped
  // by the loop afterwards, so it leaves no zombie either.
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // argv[0] is the executable; env is the complete environment.
  int spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env, LineFn on_line, ExitFn on_exit,
            std::string* err);

  int pid() const { return pid_; }
  // The child's start time (/proc/PID/stat), for the state file.
  uint64_t start_ticks() const { return start_ticks_; }
  bool running() const { return pid_ > 0 && !exited_; }
  // Sends signum to the child's whole process group (grandchildren too).
  // While the leader is unreaped its number cannot be reused and the group
  // is signalled at once; after, only the members proven to be ours are.
  void signal_group(int signum);

 private:
  struct Stream {
    Child* owner = nullptr;
    UvHandle<uv_pipe_t> pipe;
    LineSplitter split{4096};
  };

  static void exited(uv_process_t* h, int64_t status, int term_signal);
  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
  void close_stream(Stream& s);
  void maybe_done();

  uv_loop_t* loop_;
  UvHandle<uv_process_t> proc_;
  Stream out_, err_;
  Timer drain_;
  LineFn on_line_;
  ExitFn on_exit_;
  int pid_ = 0;
  uint64_t start_ticks_ = 0;
  PidFd leader_;
  bool exited_ = false;
  int64_t status_ = 0;
  int signal_ = 0;
};

// An absolute path to an executable: `name` itself if it contains a '/',
// else the first match in $PATH. Empty when there is none.
std::string find_executable(const std::string& name);
// A TCP port on 127.0.0.1 that was free a moment ago (0 if none).
int pick_free_port();
// "SIGKILL" for 9, "signal 42" for what has no name.
std::string signal_name(int signum);
// The environment for children, by allow-list: from the agent's own, only
// what any program needs (PATH, HOME, locale, TZ, TMPDIR, CA certificates,
// proxies) and the variables `pass` names ("NAME*": a prefix); then
// `extra`, which is what tether sets itself (a named child's TUNNEL_TOKEN,
// the Go knobs) and which replaces an inherited variable of the same name.
// Secrets the agent holds (API, bot and other tunnels' tokens) are thus
// never inherited; systemd's notify and socket variables and an inherited
// TUNNEL_TOKEN are dropped even when `pass` names them.
std::vector<std::string> child_environment(const std::vector<std::string>& extra, const std::vector<std::string>& pass);

}  // namespace tether
