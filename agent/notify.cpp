#include "notify.hpp"

#include <unistd.h>

#include <cstdlib>

#include "log.hpp"
#include "tgtext.hpp"

namespace tether {
namespace {

constexpr long kTimeoutMs = 15000;

}  // namespace

bool crash_worth_notice(int attempt) { return attempt == 3 || (attempt > 3 && attempt % 10 == 0); }

std::string notice_kind(const Event& ev) {
  switch (ev.kind) {
    case EventKind::url: return "url";
    case EventKind::failed: return "failed";
    case EventKind::backoff: return crash_worth_notice(ev.fields.value("attempt", 0)) ? "crashing" : "";
    default: return "";
  }
}

Notifier::Notifier(uv_loop_t* loop, Http& http, EventBus& events, std::string state_dir)
    : loop_(loop), http_(http), events_(events), state_dir_(std::move(state_dir)) {
  char name[256] = "";
  gethostname(name, sizeof name - 1);
  host_ = name;
  token_ = events_.subscribe([this](const Event& ev) { on_event(ev); });
}

Notifier::~Notifier() { events_.unsubscribe(token_); }

void Notifier::configure(const NotifyConfig& cfg) {
  // A new URL takes the queue along: requests are built at each attempt.
  webhook_url_ = cfg.webhook;
  if (webhook_url_.empty()) webhook_.reset();
  else if (!webhook_)
    webhook_ = std::make_unique<Outbox>(
        loop_, http_, "notify webhook", [this](const Notice& n) { return webhook_request(n); }, state_dir_,
        "outbox-webhook.json");
  std::string token;
  if (!cfg.telegram_bot_token_env.empty()) {
    const char* t = std::getenv(cfg.telegram_bot_token_env.c_str());
    if (t && *t) token = t;
    else log_error("notify: $%s is not set; Telegram notices are off", cfg.telegram_bot_token_env.c_str());
  }
  // Rebuilt only when something changed, so a reload does not drop the queue.
  std::string key = token.empty() ? "" : cfg.telegram_api_base + "\n" + token + "\n" + cfg.telegram_chat_id;
  if (key != telegram_key_) {
    telegram_key_ = key;
    chat_id_ = cfg.telegram_chat_id;
    // The old outbox saves its queue as it goes; the new one reads it.
    telegram_.reset();
    if (!key.empty())
      telegram_ = std::make_unique<TelegramBot>(loop_, http_, cfg.telegram_api_base, token, "notify telegram",
                                                state_dir_, "outbox-notify-telegram.json");
  }
}

void Notifier::shutdown() {
  size_t left = (webhook_ ? webhook_->queued() : 0) + (telegram_ ? telegram_->outbox().queued() : 0);
  if (left) log_info("notify: %zu notices still queued are kept for the next start", left);
  webhook_.reset();
  telegram_.reset();
  webhook_url_.clear();
  telegram_key_.clear();
}

void Notifier::on_event(const Event& ev) {
  std::string notice = notice_kind(ev);
  if (notice.empty() || (!webhook_ && !telegram_)) return;
  std::string what;
  if (notice == "url") what = "new URL " + ev.detail;
  else if (notice == "failed") what = "failed: " + ev.detail;
  else what = "keeps crashing (" + std::to_string(ev.fields.value("attempt", 0)) + " in a row); " + ev.detail;
  send(notice, ev, what);
}

void Notifier::send(const std::string& notice, const Event& ev, const std::string& text) {
  if (webhook_) {
    nlohmann::json body = ev.json();
    body["notice"] = notice;
    body["host"] = host_;
    webhook_->push(std::move(body));
  }
  if (telegram_) {
    std::string header = "<b>" + html_escape(host_) + "</b> tunnel <b>" + html_escape(ev.id) + "</b>";
    telegram_->send(telegram_chat(chat_id_), 0, header, html_escape(text));
  }
}

HttpRequest Notifier::webhook_request(const Notice& n) const {
  nlohmann::json body = n.payload;
  body["event_id"] = n.id;
  HttpRequest req;
  req.method = "POST";
  req.url = webhook_url_;
  req.headers = {"Content-Type: application/json", "Idempotency-Key: " + n.id};
  req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.timeout_ms = kTimeoutMs;
  return req;
}

}  // namespace tether
