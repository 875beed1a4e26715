#include "telegram.hpp"

#include <algorithm>
#include <cstdlib>

#include "jsonget.hpp"
#include "log.hpp"
#include "notify.hpp"
#include "tgtext.hpp"
#include "tokens.hpp"

namespace tether {
namespace {

using json = nlohmann::json;

constexpr uint64_t kRetryInitialMs = 1000;
constexpr uint64_t kRetryMaxMs = 60000;

int64_t id_of(const json& obj, const char* key) { return json_int(json_field(obj, key), "id"); }

// The tunnel id a start argument will get ("08080" -> "8080").
std::string tunnel_id_of(const std::string& arg) {
  if (arg.empty() || arg.find_first_not_of("0123456789") != std::string::npos || arg.size() > 5) return arg;
  return std::to_string(std::atol(arg.c_str()));
}

}  // namespace

TelegramChannel::TelegramChannel(uv_loop_t* loop, Http& http, Dispatcher& commands, EventBus& events,
                                 Supervisor& supervisor, const TelegramConfig& cfg, std::string state_dir)
    : loop_(loop),
      http_(http),
      commands_(commands),
      events_(events),
      supervisor_(supervisor),
      cfg_(cfg),
      state_dir_(std::move(state_dir)),
      save_timer_(loop),
      backoff_(kRetryInitialMs, kRetryMaxMs),
      retry_(loop) {}

TelegramChannel::~TelegramChannel() {
  if (save_timer_.active()) save_offset_now();
  if (poll_id_) http_.cancel(poll_id_);
  if (me_id_) http_.cancel(me_id_);
  if (event_token_) events_.unsubscribe(event_token_);
}

bool TelegramChannel::start(std::string* err) {
  std::string token;
  const char* env = cfg_.bot_token_env.empty() ? nullptr : std::getenv(cfg_.bot_token_env.c_str());
  if (env && *env) token = env;
  else if (!cfg_.bot_token_file.empty()) token = read_secret_file(cfg_.bot_token_file, err);
  if (token.empty()) {
    *err = "no bot token: set $" + (cfg_.bot_token_env.empty() ? std::string("(bot_token_env)") : cfg_.bot_token_env) +
           " or [telegram] bot_token_file" + (err->empty() ? "" : " (" + *err + ")");
    return false;
  }
  bot_ = std::make_unique<TelegramBot>(loop_, http_, cfg_.api_base, token, "telegram", state_dir_,
                                       "outbox-telegram-chat.json");
  std::string warning;
  OffsetState saved = load_offset(state_dir_, &warning);
  if (!warning.empty()) log_error("telegram: %s", warning.c_str());
  offset_ = saved.offset;
  report_interrupted(saved.inflight);
  event_token_ = events_.subscribe(lifetime_.guard([this](const Event& ev) { on_event(ev); }));
  get_me();
  poll();
  log_info("telegram: polling for /tunnel commands (%zu chats, %zu users allowed)", cfg_.allowed_chat_ids.size(),
           cfg_.allowed_user_ids.size());
  return true;
}

// The bot's own name, to tell "/tunnel@thisbot" from "/tunnel@otherbot".
void TelegramChannel::get_me() {
  HttpRequest req;
  req.url = bot_->url("getMe");
  me_id_ = http_.fetch(req, lifetime_.guard([this](HttpResponse r) {
    me_id_ = 0;
    auto j = json::parse(r.body, nullptr, false);
    if (r.status == 200 && json_bool(j, "ok") && json_field(j, "result").is_object())
      username_ = json_string(json_field(j, "result"), "username");
    else
      log_warn("telegram: getMe failed (%s); accepting any /tunnel@bot suffix",
               r.status ? ("HTTP " + std::to_string(r.status)).c_str() : r.error.c_str());
  }));
}

void TelegramChannel::poll() {
  json body = {{"timeout", cfg_.poll_timeout_s}, {"allowed_updates", {"message"}}};
  if (offset_) body["offset"] = offset_;
  HttpRequest req;
  req.method = "POST";
  req.url = bot_->url("getUpdates");
  req.headers = {"Content-Type: application/json"};
  req.body = body.dump();
  // Telegram holds the request for up to poll_timeout_s before answering.
  req.timeout_ms = (static_cast<long>(cfg_.poll_timeout_s) + 15) * 1000;
  poll_id_ = http_.fetch(req, lifetime_.guard([this](HttpResponse r) {
    poll_id_ = 0;
    on_poll(r);
  }));
}

void TelegramChannel::retry_later(uint64_t ms) {
  retry_.start(ms, [this] { poll(); });
}

void TelegramChannel::on_poll(const HttpResponse& r) {
  auto j = json::parse(r.body, nullptr, false);
  bool ok = r.status == 200 && json_bool(j, "ok") && json_field(j, "result").is_array();
  if (!ok) {
    uint64_t wait = backoff_.next_delay_ms();
    int64_t asked = json_int(json_field(j, "parameters"), "retry_after");
    if (asked > 0) wait = static_cast<uint64_t>(asked) * 1000;
    std::string why = r.status ? "HTTP " + std::to_string(r.status) : r.error;
    if (json_field(j, "description").is_string()) why += ": " + redacted(json_string(j, "description"));
    log_warn("telegram: getUpdates failed (%s); polling again in %.1fs", why.c_str(),
             static_cast<double>(wait) / 1000.0);
    retry_later(wait);
    return;
  }
  if (backoff_.attempts()) log_info("telegram: getUpdates works again");
  backoff_.reset();
  for (const auto& update : j["result"]) {
    int64_t id = json_int(update, "update_id");
    // Telegram forgets updates below the next offset: none comes twice.
    if (id < offset_) continue;
    offset_ = id + 1;
    if (json_field(update, "message").is_object()) handle(id, json_field(update, "message"));
  }
  poll();
}

bool TelegramChannel::allowed(int64_t chat, int64_t user) const {
  auto in = [](const std::vector<int64_t>& list, int64_t v) {
    return std::find(list.begin(), list.end(), v) != list.end();
  };
  return in(cfg_.allowed_chat_ids, chat) && in(cfg_.allowed_user_ids, user);
}

// A command that was being carried out when the agent died may be what
// killed it; running it again could also undo what the operator did since.
// Its chat is told instead.
void TelegramChannel::report_interrupted(const std::vector<InflightCommand>& interrupted) {
  if (interrupted.empty()) return;
  for (const auto& c : interrupted) {
    log_warn("telegram: '%s' from chat %lld was interrupted by an agent restart; not repeated", c.text.c_str(),
             static_cast<long long>(c.chat));
    bot_->send(json(c.chat), c.thread, "<b>not repeated</b>",
               html_escape(c.text + " was interrupted by an agent restart; not repeated"));
  }
  save_offset_now();
}

void TelegramChannel::save_offset_now() {
  save_timer_.stop();
  std::string err;
  if (save_offset(state_dir_, {offset_, inflight_}, &err) < 0)
    log_error("telegram: cannot save the offset: %s", err.c_str());
}

void TelegramChannel::handle(int64_t update_id, const json& message) {
  int64_t chat = id_of(message, "chat"), user = id_of(message, "from");
  int64_t thread = json_int(message, "message_thread_id");
  std::string text = json_string(message, "text");
  if (!allowed(chat, user)) {
    ++ignored_;
    log_debug("telegram: ignored a message from chat %lld, user %lld (not allowed)", static_cast<long long>(chat),
              static_cast<long long>(user));
    return;
  }
  Request req;
  if (!parse_tunnel_command(text, username_, &req)) return;
  json to = chat;
  if (req.verb == "help") {
    ChatText help = chat_help();
    bot_->send(to, thread, help.header, help.body);
    return;
  }
  if (req.verb == "?" || req.verb == "watch" || req.verb == "quit") {
    bot_->send(to, thread, "<b>not available here</b>",
               html_escape(req.verb == "?" ? "that is not a command; see /tunnel help"
                                           : "/tunnel " + req.verb + " only works on the control socket"));
    return;
  }
  log_info("telegram: chat %lld user %lld: /tunnel %s", static_cast<long long>(chat), static_cast<long long>(user),
           req.verb.c_str());
  std::string pending;
  if (req.verb == "start" && !req.args.empty()) {
    pending = tunnel_id_of(req.args[0]);
    awaiting_start_.insert(pending);
  }
  // On disk before it runs: after a crash this update is neither handed out
  // again by Telegram nor run again from here.
  std::string command = "/tunnel " + req.verb;
  for (const auto& a : req.args) command += " " + a;
  inflight_.push_back({update_id, chat, thread, command});
  save_offset_now();
  Caller caller;
  caller.kind = Caller::Kind::telegram;
  caller.chat_id = chat;
  caller.thread_id = thread;
  commands_.dispatch(req, caller, lifetime_.guard([this, to, thread, req, pending, update_id](Reply r) {
    if (!pending.empty()) awaiting_start_.erase(pending);
    inflight_.erase(std::remove_if(inflight_.begin(), inflight_.end(),
                                   [update_id](const InflightCommand& c) { return c.update_id == update_id; }),
                    inflight_.end());
    if (!save_timer_.active()) save_timer_.start(0, [this] { save_offset_now(); });
    ChatText t = chat_reply(req, r);
    bot_->send(to, thread, t.header, t.body);
  }));
  // "starting" only for a start that is under way: a bad argument or an
  // unknown name was answered at once (its reply took it off inflight_),
  // and saying "starting" first would be wrong.
  bool answered = std::none_of(inflight_.begin(), inflight_.end(),
                               [update_id](const InflightCommand& c) { return c.update_id == update_id; });
  if (!pending.empty() && !answered)
    bot_->send(to, thread, "<b>starting " + html_escape(req.args[0]) + "</b>", html_escape("its URL follows"));
}

// Notices for tunnels started from a chat go back to that chat (and
// thread), also after an agent restart: the chat is in the state file.
void TelegramChannel::on_event(const Event& ev) {
  const TunnelSpec* spec = supervisor_.spec(ev.id);
  if (!spec || spec->caller.kind != Caller::Kind::telegram) return;
  std::string what;
  if (ev.kind == EventKind::url) {
    if (awaiting_start_.count(ev.id)) return;  // the start reply carries it
    what = "new URL " + ev.detail;
  } else if (ev.kind == EventKind::backoff) {
    int attempt = ev.fields.value("attempt", 0);
    std::string reason = ev.fields.value("reason", std::string());
    if (attempt == 1) what = "crashed (" + reason + "); " + ev.detail;
    else if (crash_worth_notice(attempt))
      what = "keeps crashing (" + std::to_string(attempt) + " in a row; " + reason + ")";
  } else if (ev.kind == EventKind::failed) {
    what = "failed: " + ev.detail;
  }
  if (what.empty()) return;
  bot_->send(json(spec->caller.chat_id), spec->caller.thread_id, "<b>tunnel " + html_escape(ev.id) + "</b>",
             html_escape(what));
}

}  // namespace tether
