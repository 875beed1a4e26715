// What the agent keeps in state_dir so that nothing runs twice and nothing
// is lost across a restart: the Telegram offset, the outboxes, and the
// process identity that guards every signal.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <string>

#include "procid.hpp"

using namespace tether;

TEST_CASE("a process group is signalled only through members proven to be its own") {
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    setpgid(0, 0);
    pause();
    _exit(0);
  }
  setpgid(child, child);
  uint64_t ticks = 0;
  for (int i = 0; i < 1000 && (ticks == 0 || getpgid(child) != child); ++i) {
    ticks = proc_start_ticks(child);
    usleep(1000);
  }
  REQUIRE(ticks > 0);
  // The same number with another start time: something else has it now.
  REQUIRE(own_group_members(child, ticks + 1).empty());
  REQUIRE(signal_own_group(child, ticks + 1, SIGKILL) == 0);
  REQUIRE(own_group_members(child, ticks) == std::vector<int>{child});
  REQUIRE(signal_own_group(child, ticks, SIGKILL) == 1);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);
}

TEST_CASE("a pidfd signals its own process and nothing after it is reaped") {
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    pause();
    _exit(0);
  }
  PidFd fd(child);
  if (!fd.valid()) {
    WARN("no pidfd_open on this kernel");
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    return;
  }
  REQUIRE(fd.signal(0) == 0);
  REQUIRE(fd.signal(SIGKILL) == 0);
  int status = 0;
  REQUIRE(waitpid(child, &status, 0) == child);
  REQUIRE(fd.signal(0) == -ESRCH);
  REQUIRE(boot_id().size() == 36);
}
