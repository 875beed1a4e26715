#include "telegram_bot.hpp"

#include <cstdlib>

#include "log.hpp"
#include "tgtext.hpp"

namespace tether {
namespace {

constexpr long kTimeoutMs = 15000;

}  // namespace

TelegramBot::TelegramBot(uv_loop_t* loop, Http& http, const std::string& api_base, const std::string& token,
                         const std::string& name, const std::string& state_dir, const std::string& outbox_file)
    : base_(bot_base(api_base, token)),
      outbox_(
          loop, http, name, [this](const Notice& n) { return request(n); }, state_dir, outbox_file) {}

std::string TelegramBot::bot_base(const std::string& api_base, const std::string& token) {
  secret_add(token);
  std::string base = api_base;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/bot" + token + "/";
}

HttpRequest TelegramBot::request(const Notice& n) const {
  HttpRequest req;
  req.method = "POST";
  req.url = url("sendMessage");
  req.headers = {"Content-Type: application/json"};
  req.body = n.payload.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  req.timeout_ms = kTimeoutMs;
  return req;
}

std::string TelegramBot::url(const std::string& method) const { return base_ + method; }

void TelegramBot::send(const nlohmann::json& chat, int64_t thread, const std::string& header, const std::string& body) {
  for (const auto& text : split_message(header, body)) {
    nlohmann::json msg = {
        {"chat_id", chat}, {"text", text}, {"parse_mode", "HTML"}, {"link_preview_options", {{"is_disabled", true}}}};
    if (thread) msg["message_thread_id"] = thread;
    outbox_.push(std::move(msg));
  }
}

nlohmann::json telegram_chat(const std::string& id) {
  char* end = nullptr;
  long long n = std::strtoll(id.c_str(), &end, 10);
  return !id.empty() && *end == '\0' ? nlohmann::json(n) : nlohmann::json(id);
}

}  // namespace tether
