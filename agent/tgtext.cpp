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

bool parse_tunnel_command(std::string_view text, std::string_view bot_username, Request* out) {
  constexpr std::string_view kCommand = "/tunnel";
  if (text.substr(0, kCommand.size()) != kCommand) return false;
  std::string_view rest = text.substr(kCommand.size());
  if (!rest.empty() && rest[0] == '@') {
    size_t end = rest.find_first_of(" \t\n");
    std::string_view who = rest.substr(1, end == std::string_view::npos ? std::string_view::npos : end - 1);
    if (!bot_username.empty() && who != bot_username) return false;
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  }
  if (!rest.empty() && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '\n') return false;  // "/tunnels"
  std::string line(rest);
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  ParseResult pr = parse_request(line);
  *out = Request{};
  if (pr.status == ParseStatus::empty) {
    out->verb = "help";
    return true;
  }
  if (pr.status == ParseStatus::invalid) {
    out->verb = "?";
    return true;
  }
  *out = pr.request;
  out->json = true;  // structured data: chat replies are built from it
  return true;
}

ChatText chat_help() {
  return {"<b>/tunnel commands</b>", html_escape("/tunnel start <port> - a quick tunnel; its URL follows\n"
                                                 "/tunnel start <name> - a named tunnel\n"
                                                 "/tunnel stop <port|name>\n"
                                                 "/tunnel restart <port|name>\n"
                                                 "/tunnel list - tunnels with URL, state and uptime\n"
                                                 "/tunnel status <port|name>\n"
                                                 "/tunnel logs <port|name> [n]\n"
                                                 "/tunnel killall - stop every tunnel\n"
                                                 "/tunnel provision <name> [service=<url>] [start]\n"
                                                 "/tunnel deprovision <name>\n"
                                                 "/tunnel help")};
}

ChatText chat_reply(const Request& req, const Reply& r) {
  ChatText t;
  if (!r.ok) {
    t.header = "<b>" + html_escape(req.verb) + " failed</b> (" + html_escape(r.code) + ")";
    t.body = html_escape(r.message);
    return t;
  }
  t.header = "<b>" + html_escape(r.message.empty() ? req.verb : r.message) + "</b>";
  std::string body;
  if (req.verb == "list" && r.data.contains("tunnels")) {
    for (const auto& x : r.data["tunnels"]) {
      std::string url = x["url"].is_string() ? x["url"].get<std::string>() : "(no URL yet)";
      body += x.value("id", "") + " " + x.value("state", "") + " " + url + " up " + x.value("uptime", "-") +
              (x.value("restarts", 0) ? " restarts " + std::to_string(x.value("restarts", 0)) : "") + "\n";
    }
  } else {
    for (const auto& l : r.lines) body += l + "\n";
  }
  while (!body.empty() && body.back() == '\n') body.pop_back();
  t.body = html_escape(body);
  return t;
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
