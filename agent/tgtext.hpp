// Text for Telegram's sendMessage with parse_mode HTML: escaping, and
// splitting under the 4096-character limit. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

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

}  // namespace tether
