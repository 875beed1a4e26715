// An outbox on disk (state_dir/outbox-<name>.json), so that notices queued
// when the agent stops or dies are sent after its restart: at most
// kOutboxCapacity notices, each dropped a day after it was made. A notice
// holds what is sent (the webhook body, the Telegram message), never where
// it goes: URLs may hold a bot token, which stays out of files. The codec is
// pure.
#pragma once

#include <cstdint>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>

namespace tether {

constexpr size_t kOutboxCapacity = 100;
constexpr int64_t kNoticeLifetimeS = 24 * 3600;

struct Notice {
  std::string id;       // 128 random bits in hex: the receiver's idempotency key
  int64_t created = 0;  // Unix time, seconds: notices outlive the agent
  nlohmann::json payload;
};

// A fresh notice id.
std::string new_notice_id();

std::string notices_to_json(const std::deque<Notice>& notices);
// False with *err on anything but a well-formed file.
bool notices_from_json(const std::string& text, std::deque<Notice>* out, std::string* err);
// Drops the notices made more than a day before `now` and all but the
// newest `capacity`; returns how many went.
size_t prune_notices(std::deque<Notice>* notices, int64_t now, size_t capacity);

// A missing file is an empty outbox; a corrupt or truncated one is moved
// aside and reported in *warning: never trusted, never fatal.
std::deque<Notice> load_notices(const std::string& state_dir, const std::string& file, std::string* warning);
// An empty outbox is no file at all.
int save_notices(const std::string& state_dir, const std::string& file, const std::deque<Notice>& notices,
                 std::string* err);

}  // namespace tether
