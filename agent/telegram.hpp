// The Telegram control channel, takopi-style: /tunnel commands from allowed
// chats and users go to the same dispatcher as the socket, and tunnels
// started from a chat report their URL changes, crashes and give-up there.
// One getUpdates long poll is outstanding at a time, so an idle agent makes
// one request per poll_timeout_s; failures back off (up to a minute) and
// polling never stops, however long the network is down. The offset and the
// commands being carried out are kept in state_dir (tgoffset.hpp): nothing
// runs twice across a crash.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "backoff.hpp"
#include "config.hpp"
#include "dispatcher.hpp"
#include "events.hpp"
#include "http.hpp"
#include "supervisor.hpp"
#include "telegram_bot.hpp"
#include "tgoffset.hpp"
#include "uvpp.hpp"

namespace tether {

class TelegramChannel {
 public:
  TelegramChannel(uv_loop_t* loop, Http& http, Dispatcher& commands, EventBus& events, Supervisor& supervisor,
                  const TelegramConfig& cfg, std::string state_dir);
  ~TelegramChannel();
  TelegramChannel(const TelegramChannel&) = delete;
  TelegramChannel& operator=(const TelegramChannel&) = delete;

  // Reads the bot token and starts polling; false with *err without a token.
  bool start(std::string* err);
  const TelegramConfig& config() const { return cfg_; }
  uint64_t ignored() const { return ignored_; }
  const Outbox* outbox() const { return bot_ ? &bot_->outbox() : nullptr; }

 private:
  void get_me();
  void poll();
  void on_poll(const HttpResponse& r);
  void retry_later(uint64_t ms);
  void handle(int64_t update_id, const nlohmann::json& message);
  void report_interrupted(const std::vector<InflightCommand>& interrupted);
  void save_offset_now();
  void on_event(const Event& ev);
  bool allowed(int64_t chat, int64_t user) const;

  uv_loop_t* loop_;
  Http& http_;
  Dispatcher& commands_;
  EventBus& events_;
  Supervisor& supervisor_;
  TelegramConfig cfg_;
  std::string state_dir_;
  std::unique_ptr<TelegramBot> bot_;
  std::string username_;
  int64_t offset_ = 0;
  std::vector<InflightCommand> inflight_;
  Timer save_timer_;  // coalesces the saves after commands finish
  uint64_t poll_id_ = 0, me_id_ = 0;
  Backoff backoff_;  // failed polls in a row
  Timer retry_;
  uint64_t ignored_ = 0;
  uint64_t event_token_ = 0;
  std::set<std::string> awaiting_start_;  // their start reply carries the URL
  // Last member: it ends first, before anything its guarded callbacks use.
  Lifetime lifetime_;
};

}  // namespace tether
