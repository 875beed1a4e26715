#include <signal.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "child.hpp"

using tether::Child;

namespace {

// The state letter of /proc/PID/stat ('Z' for a zombie), or 0 when there
// is no such process any more.
char proc_state(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(f, stat)) return 0;
  size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? '?' : stat[paren + 2];
}

struct Loop {
  uv_loop_t loop;
  Loop() { uv_loop_init(&loop); }
  ~Loop() {
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
  }
};

// A child that ignores SIGTERM and would run for a minute.
int spawn_stubborn(Child& c, bool* exited) {
  std::string err;
  std::vector<std::string> argv = {"/bin/sh", "-c", "trap '' TERM; echo up; exec sleep 60"};
  int rc = c.spawn(
      argv, {"PATH=/usr/bin:/bin"}, [](std::string_view) {}, [exited](int64_t, int) { *exited = true; }, &err);
  INFO(err);
  REQUIRE(rc == 0);
  return c.pid();
}

}  // namespace

TEST_CASE("a Child destroyed before its process exited leaves no zombie") {
  Loop l;
  bool exited = false;
  auto c = std::make_unique<Child>(&l.loop);
  int pid = spawn_stubborn(*c, &exited);
  REQUIRE(pid > 0);
  c->signal_group(SIGTERM);  // ignored
  c.reset();
  // The loop runs on only while the process handle waits for the exit; by
  // the time it returns the process must be reaped, not a zombie.
  uv_run(&l.loop, UV_RUN_DEFAULT);
  REQUIRE(proc_state(pid) == 0);
  REQUIRE_FALSE(exited);  // the destroyed Child's callback never runs
  REQUIRE(uv_loop_alive(&l.loop) == 0);
}

TEST_CASE("a Child whose process exited is reaped and reports the exit") {
  Loop l;
  bool exited = false;
  Child c(&l.loop);
  int pid = spawn_stubborn(c, &exited);
  c.signal_group(SIGKILL);
  while (!exited && uv_run(&l.loop, UV_RUN_ONCE) != 0) {
  }
  REQUIRE(exited);
  REQUIRE(proc_state(pid) == 0);
  REQUIRE_FALSE(c.running());
}
