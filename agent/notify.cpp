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
  std::string url, chat = cfg.telegram_chat_id;
  if (!cfg.telegram_bot_token_env.empty()) {
    const char* token = std::getenv(cfg.telegram_bot_token_env.c_str());
    if (token && *token) {
      secret_add(token);
      url = cfg.telegram_api_base + (cfg.telegram_api_base.back() == '/' ? "" : "/") + "bot" + token + "/sendMessage";
    } else {
      log_error("notify: $%s is not set; Telegram notices are off", cfg.telegram_bot_token_env.c_str());
    }
  }
  if (url != telegram_url_ || chat != chat_id_) {
    telegram_url_ = url;
    chat_id_ = chat;
    telegram_.reset(url.empty() ? nullptr : new Outbox(loop_, http_, "notify telegram", kQueue));
  }
}

void Notifier::shutdown() {
  size_t left = (webhook_ ? webhook_->queued() : 0) + (telegram_ ? telegram_->queued() : 0);
  if (left) log_warn("notify: %zu notices still queued at shutdown are dropped", left);
  webhook_.reset();
  telegram_.reset();
  webhook_url_.clear();
  telegram_url_.clear();
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
    std::string html = "<b>" + html_escape(host_) + "</b> tunnel <b>" + html_escape(ev.id) + "</b> " + html_escape(text);
    // A numeric id goes as a number, a @channel name as a string.
    char* end = nullptr;
    long long numeric = std::strtoll(chat_id_.c_str(), &end, 10);
    nlohmann::json chat = *end == '\0' && !chat_id_.empty() ? nlohmann::json(numeric) : nlohmann::json(chat_id_);
    nlohmann::json body = {{"chat_id", chat}, {"text", html}, {"parse_mode", "HTML"}};
    HttpRequest req;
    req.method = "POST";
    req.url = telegram_url_;
    req.headers = {"Content-Type: application/json"};
    req.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    req.timeout_ms = kTimeoutMs;
    telegram_->push(req);
  }
}

}  // namespace tether
