#include "notify.hpp"

#include <unistd.h>

#include <cstdlib>

#include "log.hpp"
#include "tgtext.hpp"

namespace tether {
namespace {

constexpr size_t kQueue = 100;
constexpr long kTimeoutMs = 15000;

}  // namespace

std::string notice_kind(const Event& ev) {
  if (ev.kind == "url" || ev.kind == "failed") return ev.kind;
  if (ev.kind == "backoff") {
    int attempt = ev.fields.value("attempt", 0);
    if (attempt == 3 || (attempt > 3 && attempt % 10 == 0)) return "crashing";
  }
  return "";
}

Notifier::Notifier(uv_loop_t* loop, Http& http, EventBus& events) : loop_(loop), http_(http), events_(events) {
  char name[256] = "";
  gethostname(name, sizeof name - 1);
  host_ = name;
  token_ = events_.subscribe([this](const Event& ev) { on_event(ev); });
}

Notifier::~Notifier() { events_.unsubscribe(token_); }

void Notifier::configure(const NotifyConfig& cfg) {
  if (cfg.webhook != webhook_url_) {
    webhook_url_ = cfg.webhook;
    webhook_.reset(webhook_url_.empty() ? nullptr : new Outbox(loop_, http_, "notify webhook", kQueue));
  }
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
    telegram_.reset(key.empty() ? nullptr
                                : new TelegramBot(loop_, http_, cfg.telegram_api_base, token, "notify telegram"));
  }
}

void Notifier::shutdown() {
  size_t left = (webhook_ ? webhook_->queued() : 0) + (telegram_ ? telegram_->outbox().queued() : 0);
  if (left) log_warn("notify: %zu notices still queued at shutdown are dropped", left);
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
    HttpRequest req;
    req.method = "POST";
    req.url = webhook_url_;
    req.headers = {"Content-Type: application/json"};
    req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.timeout_ms = kTimeoutMs;
    webhook_->push(req);
  }
  if (telegram_) {
    std::string header = "<b>" + html_escape(host_) + "</b> tunnel <b>" + html_escape(ev.id) + "</b>";
    telegram_->send(telegram_chat(chat_id_), 0, header, html_escape(text));
  }
}

}  // namespace tether
