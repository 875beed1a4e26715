// Notifications to people: when a quick tunnel gets a new URL, when a
// tunnel gives up, and when one keeps crashing, a JSON POST to [notify]
// webhook and/or a Telegram message to [notify] telegram_chat_id. Sent
// through bounded outboxes on the shared curl layer, never blocking, kept in
// state_dir across restarts. Each webhook body carries a stable "event_id",
// also sent as the Idempotency-Key header, so that a receiver can drop the
// duplicate a retried delivery may cause.
#pragma once

#include <uv.h>

#include <memory>
#include <string>

#include "config.hpp"
#include "events.hpp"
#include "http.hpp"
#include "outbox.hpp"
#include "telegram_bot.hpp"

namespace tether {

class Notifier {
 public:
  Notifier(uv_loop_t* loop, Http& http, EventBus& events, std::string state_dir);
  ~Notifier();

  // (Re)reads [notify]: at start and after every reload.
  void configure(const NotifyConfig& cfg);
  // Agent shutdown: what is still queued stays on disk for the next start;
  // nothing waits for an endpoint.
  void shutdown();

  const Outbox* webhook() const { return webhook_.get(); }
  const Outbox* telegram() const { return telegram_ ? &telegram_->outbox() : nullptr; }

 private:
  void on_event(const Event& ev);
  void send(const std::string& notice, const Event& ev, const std::string& text);
  HttpRequest webhook_request(const Notice& n) const;

  uv_loop_t* loop_;
  Http& http_;
  EventBus& events_;
  uint64_t token_ = 0;
  std::string state_dir_;
  std::string host_;
  std::string webhook_url_, telegram_key_, chat_id_;
  std::unique_ptr<Outbox> webhook_;
  std::unique_ptr<TelegramBot> telegram_;
};

// Whether crash number `attempt` in a row deserves a "keeps crashing"
// notice: the 3rd, then every 10th, so a crash loop is heard of without
// flooding the chat. The one rule of every channel (webhook, Telegram).
bool crash_worth_notice(int attempt);

// Whether an event is worth waking someone for, and under which name:
// "url", "failed", "crashing" (crash_worth_notice), or "" for the rest. Pure.
std::string notice_kind(const Event& ev);

}  // namespace tether
