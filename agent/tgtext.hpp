// Text for Telegram's sendMessage with parse_mode HTML: escaping, and
// splitting under the 4096-character limit. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "protocol.hpp"

namespace tether {

constexpr size_t kTelegramMaxText = 4096;

// Escapes &, < and > (and ") so any text, tunnel output included, is safe
// inside an HTML message.
std::string html_escape(std::string_view text);

// Cuts an HTML message into parts of at most `limit` characters (UTF-8
// code points, as Telegram counts after parsing), at line ends where
// possible, never inside an escape or a UTF-8 sequence. Every tag opened in
// `header` is closed in it: parts are plain escaped text plus that header.
std::vector<std::string> split_message(const std::string& header, const std::string& escaped_body,
                                       size_t limit = kTelegramMaxText);

// A chat message as a control request: "/tunnel list", "/tunnel@mybot
// start 8080", "/tunnel" (help). False when the message is not a /tunnel
// command, or is addressed to another bot ("/tunnel@otherbot").
// bot_username may be empty (not known yet): then any suffix is accepted.
// The request asks for structured data (json), which chat replies use.
bool parse_tunnel_command(std::string_view text, std::string_view bot_username, Request* out);

// A reply as chat text: a bold header line (HTML) and an escaped body.
struct ChatText {
  std::string header;
  std::string body;
};
ChatText chat_reply(const Request& req, const Reply& reply);

// The command list shown for "/tunnel" and "/tunnel help".
ChatText chat_help();

}  // namespace tether
