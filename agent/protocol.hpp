// The control protocol's pure half: one request line in, one reply out.
//
// A request is one line of at most kMaxRequest bytes, words separated by
// spaces or tabs, verb case-insensitive, optionally prefixed by "json".
// A reply is zero or more data lines and exactly one status line, "OK[ text]"
// or "ERR <code> <message>"; in json mode it is a single JSON line instead.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace tether {

constexpr size_t kMaxRequest = 4096;

struct Request {
  bool json = false;
  std::string verb;  // lower case
  std::vector<std::string> args;
};

enum class ParseStatus { ok, empty, invalid };

struct ParseResult {
  ParseStatus status = ParseStatus::empty;
  Request request;
  std::string error;  // for invalid: the message of "ERR usage <message>"
};

// line excludes its terminator. Blank lines are "empty": no reply, as with
// an interactive `nc -U` where the operator just pressed enter.
ParseResult parse_request(std::string_view line);

struct Reply {
  bool ok = true;
  std::string code;                                // ERR only: usage, notfound, exists, ...
  std::string message;                             // text after "OK " / "ERR <code> "
  std::vector<std::string> lines;                  // data lines before the status line
  nlohmann::json data = nlohmann::json::object();  // extra fields in json mode
  // What the connection does once the reply is sent: "quit" closes it,
  // "watch" turns it into an event stream.
  enum class After { none, close, watch } after = After::none;

  static Reply Ok(std::string message = {});
  static Reply Err(std::string code, std::string message);
};

// Where a reply goes; called exactly once.
using ReplyFn = std::function<void(Reply)>;

// Who asked: replies do not depend on it, but notices about a tunnel go back
// to the chat that started it.
struct Caller {
  enum class Kind { socket, telegram } kind = Kind::socket;
  int64_t chat_id = 0;
  int64_t thread_id = 0;
};

// Text form. Data lines are sanitised so that none can be mistaken for a
// status line: control bytes become spaces and a line starting with "OK" or
// "ERR" gets a leading space.
std::string format_text(const Reply& reply);
// {"ok":true,"message":...,<data>} or {"ok":false,"error":{"code","message"}};
// data lines appear as "lines" when the reply has no structured data.
std::string format_json(const Reply& reply);
std::string format_reply(const Reply& reply, bool json);

// Quote a client-supplied word for an error message: printable ASCII kept,
// anything else as \xNN, cut to a readable length.
std::string printable(std::string_view word, size_t max = 40);

}  // namespace tether
