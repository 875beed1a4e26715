// Sending to the Telegram Bot API: sendMessage with parse_mode HTML, long
// texts split under 4096 characters, through an Outbox (ordered, bounded,
// retried, honouring retry_after, kept in state_dir). Used by [notify]
// notices and by the /tunnel control channel alike.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "http.hpp"
#include "outbox.hpp"

namespace tether {

class TelegramBot {
 public:
  // The token is registered as a secret: it is part of every URL, and of
  // no file (the outbox keeps the messages, not the URL). outbox_file is
  // the outbox's name in state_dir.
  TelegramBot(uv_loop_t* loop, Http& http, const std::string& api_base, const std::string& token,
              const std::string& name, const std::string& state_dir, const std::string& outbox_file);

  // chat: a numeric id or "@channel"; thread 0 for none. header is HTML
  // (repeated on every part), body escaped text.
  void send(const nlohmann::json& chat, int64_t thread, const std::string& header, const std::string& body);
  // The full URL of a Bot API method.
  std::string url(const std::string& method) const;
  const Outbox& outbox() const { return outbox_; }

 private:
  static std::string bot_base(const std::string& api_base, const std::string& token);
  HttpRequest request(const Notice& n) const;

  std::string base_;
  Outbox outbox_;
};

// "-100123" -> -100123, "@news" stays a string.
nlohmann::json telegram_chat(const std::string& id);

}  // namespace tether
