#include "tgtext.hpp"

namespace tether {
namespace {

bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

// Telegram counts the text after parsing: an escape is one character, a tag
// is none (headers only hold simple tags).
size_t visible_length(std::string_view html) {
  size_t n = 0;
  for (size_t i = 0; i < html.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(html[i]);
    if (c == '<') {
      size_t close = html.find('>', i);
      if (close != std::string_view::npos) {
        i = close;
        continue;
      }
    }
    if (c == '&') {
      size_t semi = html.find(';', i);
      if (semi != std::string_view::npos && semi - i <= 6) i = semi;
    }
    if (!continuation(c)) ++n;
  }
  return n;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<std::string> split_message(const std::string& header, const std::string& body, size_t limit) {
  std::vector<std::string> parts;
  size_t room = limit > visible_length(header) + 1 ? limit - visible_length(header) - 1 : 1;
  size_t pos = 0;
  while (pos < body.size() || parts.empty()) {
    // Walk forward counting visible characters; remember the last line end.
    size_t i = pos, count = 0, cut = std::string::npos;
    while (i < body.size() && count < room) {
      unsigned char c = static_cast<unsigned char>(body[i]);
      size_t step = 1;
      if (c == '&') {
        size_t semi = body.find(';', i);
        if (semi != std::string::npos && semi - i <= 6) step = semi - i + 1;
      } else {
        while (i + step < body.size() && continuation(static_cast<unsigned char>(body[i + step]))) ++step;
      }
      if (c == '\n') cut = i + 1;
      i += step;
      ++count;
    }
    size_t end = i >= body.size() ? body.size() : (cut != std::string::npos && cut > pos ? cut : i);
    std::string chunk = body.substr(pos, end - pos);
    while (!chunk.empty() && chunk.back() == '\n') chunk.pop_back();
    parts.push_back(header.empty() ? chunk : header + "\n" + chunk);
    pos = end;
    if (body.empty()) break;
  }
  return parts;
}

}  // namespace tether
