// What the agent keeps in state_dir so that nothing runs twice and nothing
// is lost across a restart: the Telegram offset, the outboxes, and the
// process identity that guards every signal.
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <string>

#include "outboxfile.hpp"
#include "proc.hpp"
#include "testfiles.hpp"
#include "tgoffset.hpp"

using namespace tether;
using tether::test::TempDir;

namespace {

// The names in dir that start with prefix.
std::vector<std::string> files_like(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) == 0) out.push_back(name);
  }
  return out;
}

}  // namespace

TEST_CASE("the Telegram offset and its in-flight commands survive a restart") {
  TempDir dir("offset");
  std::string warning, err;
  REQUIRE(load_offset(dir.path, &warning).offset == 0);
  REQUIRE(warning.empty());
  OffsetState state;
  state.offset = 1001;
  state.inflight.push_back({1000, -1001234567890, 77, "/tunnel stop 8080"});
  REQUIRE(save_offset(dir.path, state, &err) == 0);
  OffsetState back = load_offset(dir.path, &warning);
  REQUIRE(warning.empty());
  REQUIRE(back.offset == 1001);
  REQUIRE(back.inflight.size() == 1);
  REQUIRE(back.inflight[0].update_id == 1000);
  REQUIRE(back.inflight[0].chat == -1001234567890);
  REQUIRE(back.inflight[0].thread == 77);
  REQUIRE(back.inflight[0].text == "/tunnel stop 8080");
}

TEST_CASE("a corrupt or truncated offset file is set aside, never trusted") {
  TempDir dir("offset-bad");
  std::string full = offset_to_json({42, {{41, 7, 0, "/tunnel killall"}}});
  for (const std::string& bad : {full.substr(0, full.size() / 2), std::string("garbage"),
                                 std::string(R"({"version":1,"offset":-5,"inflight":[]})"),
                                 std::string(R"({"version":1,"offset":"42","inflight":[]})"),
                                 std::string(R"({"version":9,"offset":42,"inflight":[]})"),
                                 std::string(R"({"version":1,"offset":42,"inflight":{}})")}) {
    OffsetState state;
    std::string err;
    REQUIRE_FALSE(offset_from_json(bad, &state, &err));
    REQUIRE_FALSE(err.empty());
  }
  test::make_file(dir.file("telegram.offset"), full.substr(0, 20), 0644);
  std::string warning;
  OffsetState state = load_offset(dir.path, &warning);
  REQUIRE(state.offset == 0);
  REQUIRE(state.inflight.empty());
  REQUIRE(warning.find("Telegram offset file " + dir.file("telegram.offset") + " is unusable") == 0);
  REQUIRE(warning.find("moved it to " + dir.file("telegram.offset.corrupt-")) != std::string::npos);
  REQUIRE(files_like(dir.path, "telegram.offset.corrupt-").size() == 1);
  REQUIRE_FALSE(std::filesystem::exists(dir.file("telegram.offset")));
}

TEST_CASE("notices keep their id across a save and a load") {
  TempDir dir("outbox");
  std::deque<Notice> q;
  q.push_back({new_notice_id(), 1000, {{"id", "8080"}, {"url", "https://a.trycloudflare.com"}}});
  q.push_back({new_notice_id(), 1001, {{"chat_id", -100}, {"text", "x"}}});
  REQUIRE(q[0].id.size() == 32);
  REQUIRE(q[0].id != q[1].id);
  std::string err, warning;
  REQUIRE(save_notices(dir.path, "outbox-webhook.json", q, &err) == 0);
  std::deque<Notice> back = load_notices(dir.path, "outbox-webhook.json", &warning);
  REQUIRE(warning.empty());
  REQUIRE(back.size() == 2);
  REQUIRE(back[0].id == q[0].id);
  REQUIRE(back[0].created == 1000);
  REQUIRE(back[0].payload == q[0].payload);
  REQUIRE(back[1].payload["chat_id"] == -100);
  REQUIRE(save_notices(dir.path, "outbox-webhook.json", {}, &err) == 0);
  REQUIRE_FALSE(std::filesystem::exists(dir.file("outbox-webhook.json")));
  REQUIRE(load_notices(dir.path, "outbox-webhook.json", &warning).empty());
  REQUIRE(warning.empty());
}

TEST_CASE("the outbox keeps the newest notices of the last day") {
  std::deque<Notice> q;
  const int64_t now = 10 * kNoticeLifetimeS;
  for (int i = 0; i < 120; ++i) q.push_back({new_notice_id(), now - 120 + i, {{"n", i}}});
  q.push_back({new_notice_id(), now - kNoticeLifetimeS - 1, {{"n", "expired"}}});  // a clock jump
  REQUIRE(prune_notices(&q, now, kOutboxCapacity) == 21);
  REQUIRE(q.size() == kOutboxCapacity);
  REQUIRE(q.front().payload["n"] == 20);
  REQUIRE(q.back().payload["n"] == 119);
}

TEST_CASE("a corrupt outbox is set aside, never trusted") {
  TempDir dir("outbox-bad");
  for (const std::string& bad :
       {std::string(R"({"version":1,"notices":[{"id":"nothex","created":1,"payload":{}}]})"),
        std::string(R"({"version":1,"notices":[{"id":"0123456789abcdef0123456789abcdef","created":1,"payload":3}]})"),
        std::string(R"({"version":1,"notices":{}})"), std::string("{\"version\":1,\"noti")}) {
    std::deque<Notice> q;
    std::string err;
    REQUIRE_FALSE(notices_from_json(bad, &q, &err));
    REQUIRE_FALSE(err.empty());
  }
  test::make_file(dir.file("outbox-webhook.json"), "{\"version\":1,\"noti", 0644);
  std::string warning;
  REQUIRE(load_notices(dir.path, "outbox-webhook.json", &warning).empty());
  REQUIRE(warning.find("outbox " + dir.file("outbox-webhook.json") + " is unusable") == 0);
  REQUIRE(files_like(dir.path, "outbox-webhook.json.corrupt-").size() == 1);
}

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
