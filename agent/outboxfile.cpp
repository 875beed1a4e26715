#include "outboxfile.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "statefile.hpp"

namespace tether {
namespace {

constexpr int kVersion = 1;
constexpr size_t kMaxFile = 4 << 20;

}  // namespace

std::string new_notice_id() {
  static std::mt19937_64 rng([] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }());
  char hex[33];
  snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(rng()),
           static_cast<unsigned long long>(rng()));
  return hex;
}

std::string notices_to_json(const std::deque<Notice>& notices) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& n : notices) list.push_back({{"id", n.id}, {"created", n.created}, {"payload", n.payload}});
  nlohmann::json j = {{"version", kVersion}, {"notices", list}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool notices_from_json(const std::string& text, std::deque<Notice>* out, std::string* err) {
  nlohmann::json j;
  if (!parse_versioned(text, kVersion, &j, err)) return false;
  std::deque<Notice> notices;
  try {
    const auto& list = j.at("notices");
    if (!list.is_array()) throw std::runtime_error("\"notices\" is not an array");
    for (const auto& n : list) {
      Notice notice;
      notice.id = n.at("id").get<std::string>();
      if (notice.id.size() != 32 || notice.id.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw std::runtime_error("notice id '" + notice.id + "'");
      notice.created = n.at("created").get<int64_t>();
      notice.payload = n.at("payload");
      if (!notice.payload.is_object()) throw std::runtime_error("payload is not an object");
      notices.push_back(std::move(notice));
    }
  } catch (const std::exception& e) {
    *err = std::string("bad notice: ") + e.what();
    return false;
  }
  *out = std::move(notices);
  return true;
}

size_t prune_notices(std::deque<Notice>* notices, int64_t now, size_t capacity) {
  size_t before = notices->size();
  // Not only from the front: the clock of a board without an RTC jumps.
  for (auto it = notices->begin(); it != notices->end();)
    it = it->created + kNoticeLifetimeS < now ? notices->erase(it) : it + 1;
  while (notices->size() > capacity) notices->pop_front();
  return before - notices->size();
}

std::deque<Notice> load_notices(const std::string& state_dir, const std::string& file, std::string* warning) {
  std::deque<Notice> notices;
  load_from_state_dir(
      state_dir, file, "outbox", kMaxFile,
      [&](const std::string& text, std::string* err) { return notices_from_json(text, &notices, err); }, warning);
  if (!warning->empty()) *warning += "; its notices are not sent";
  return notices;
}

int save_notices(const std::string& state_dir, const std::string& file, const std::deque<Notice>& notices,
                 std::string* err) {
  if (notices.empty()) {
    // Most deliveries empty the queue: removing the file costs the flash no
    // data block and no fsync. Should a power cut bring it back, its
    // notices go out again, which at-least-once allows (event ids).
    std::string path = state_dir + "/" + file;
    if (unlink(path.c_str()) == 0 || errno == ENOENT) return 0;
    int code = errno;
    *err = "unlink " + path + ": " + std::strerror(code);
    return -code;
  }
  return save_in_state_dir(state_dir, file, notices_to_json(notices), err);
}

}  // namespace tether
