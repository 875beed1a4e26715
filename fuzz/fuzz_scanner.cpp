// cloudflared output: bytes -> LineSplitter(4096) -> scan_line -> LogRing.
//
// Checks: a URL is always https://<[a-z0-9-]+>.trycloudflare.com and never
// api.trycloudflare.com; conn_index is -1 or 0..9999; the message is a piece
// of the line; the classification agrees with a hand-written model of the
// patterns in scanner.cpp; the LogRing stays within its line and byte
// bounds and keeps the last line (cut to kMaxLine).
#include <cstdint>
#include <string>
#include <string_view>

#include "common.hpp"
#include "linesplit.hpp"
#include "logring.hpp"
#include "scanner.hpp"

using namespace tether;
using fuzz::show;
using fuzz::starts_with;
using Kind = LineInfo::Kind;

namespace {

constexpr size_t kMaxLine = 4096;  // what a child's splitter uses (child.hpp)

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_host_char(char c) { return (c >= 'a' && c <= 'z') || is_digit(c) || c == '-'; }

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "none";
    case Kind::url: return "url";
    case Kind::registered: return "registered";
    case Kind::unregistered: return "unregistered";
    case Kind::shutdown: return "shutdown";
    case Kind::unauthorized: return "unauthorized";
    case Kind::dial_failed: return "dial_failed";
    case Kind::conn_failed: return "conn_failed";
  }
  return "?";
}

// ^https://[a-z0-9-]+\.trycloudflare\.com$, not api.
bool good_url(const std::string& url) {
  const std::string_view pre = "https://", suf = ".trycloudflare.com";
  if (url.size() <= pre.size() + suf.size() || !starts_with(url, pre)) return false;
  if (url.compare(url.size() - suf.size(), suf.size(), suf) != 0) return false;
  std::string_view host(url.data() + pre.size(), url.size() - pre.size() - suf.size());
  for (char c : host)
    if (!is_host_char(c)) return false;
  return host != "api";
}

// "2026-11-22T04:25:02Z INF ": 20 bytes of time, a space, a level, a space.
bool model_record(std::string_view line, char* level) {
  static const char shape[] = "dddd-dd-ddTdd:dd:ddZ ";
  if (line.size() < 25) return false;
  for (size_t i = 0; i < 21; ++i) {
    if (shape[i] == 'd' ? !is_digit(line[i]) : line[i] != shape[i]) return false;
  }
  std::string_view lvl = line.substr(21, 3);
  for (std::string_view l : {"TRC", "DBG", "INF", "WRN", "ERR", "FTL", "PNC", "???"})
    if (lvl == l && line[24] == ' ') {
      *level = l[0];
      return true;
    }
  return false;
}

// https://(?!api\.)([a-z0-9-]+)\.trycloudflare\.com(?![a-z0-9.-]), leftmost.
std::string model_url(std::string_view msg) {
  const std::string_view suf = ".trycloudflare.com";
  for (size_t p = msg.find("https://"); p != std::string_view::npos; p = msg.find("https://", p + 1)) {
    size_t q = p + 8;
    if (msg.substr(q, 4) == "api.") continue;
    size_t e = q;
    while (e < msg.size() && is_host_char(msg[e])) ++e;
    if (e == q || msg.substr(e, suf.size()) != suf) continue;
    size_t after = e + suf.size();
    if (after < msg.size() && (is_host_char(msg[after]) || msg[after] == '.')) continue;
    return "https://" + std::string(msg.substr(q, e - q)) + std::string(suf);
  }
  return "";
}

// (?:^| )connIndex=(\d+)(?: |$), leftmost; more than 4 digits is -1.
int model_conn_index(std::string_view msg) {
  const std::string_view key = "connIndex=";
  for (size_t p = msg.find(key); p != std::string_view::npos; p = msg.find(key, p + 1)) {
    if (p > 0 && msg[p - 1] != ' ') continue;
    size_t d = p + key.size(), e = d;
    while (e < msg.size() && is_digit(msg[e])) ++e;
    if (e == d || (e < msg.size() && msg[e] != ' ')) continue;
    if (e - d > 4) return -1;
    return std::stoi(std::string(msg.substr(d, e - d)));
  }
  return -1;
}

void check_line(std::string_view line) {
  LineInfo info = scan_line(line);
  auto where = [&] { return "line " + show(line); };

  // The message is a view into the line.
  const char* b = line.data();
  const char* e = line.data() + line.size();
  FUZZ_CHECK(info.message.empty() || (info.message.data() >= b && info.message.data() + info.message.size() <= e),
             where() + ", message " + show(info.message));

  char level = 0;
  bool record = model_record(line, &level);
  FUZZ_CHECK(info.record == record, where());
  if (record) {
    FUZZ_CHECK(info.level == level, where());
    FUZZ_CHECK(info.message.data() == line.data() + 25 && info.message.size() == line.size() - 25,
               where() + ", message " + show(info.message));
  } else {
    FUZZ_CHECK(info.level == 0 && info.message.data() == line.data() && info.message.size() == line.size(), where());
  }

  // The URL, whatever the kind.
  if (info.kind == Kind::url) {
    FUZZ_CHECK(good_url(info.url), where() + ", url " + show(info.url));
    FUZZ_CHECK(info.url != "https://api.trycloudflare.com", where());
  } else {
    FUZZ_CHECK(info.url.empty(), where() + ", url " + show(info.url));
  }
  FUZZ_CHECK(info.conn_index == -1 || (info.conn_index >= 0 && info.conn_index <= 9999),
             where() + ", conn_index " + std::to_string(info.conn_index));
  if (info.kind != Kind::registered && info.kind != Kind::unregistered)
    FUZZ_CHECK(info.conn_index == -1, where() + ", conn_index " + std::to_string(info.conn_index));

  // The classification, as the scanner's comments and patterns describe it.
  Kind kind = Kind::none;
  std::string url;
  int conn = -1;
  std::string_view msg = record ? line.substr(25) : std::string_view();
  if (record && level == 'I') {
    if (starts_with(msg, "Registered tunnel connection")) {
      kind = Kind::registered;
    } else if (starts_with(msg, "Unregistered tunnel connection") ||
               starts_with(msg, "Lost connection with the edge")) {
      kind = Kind::unregistered;
    } else if (starts_with(msg, "Initiating graceful shutdown")) {
      kind = Kind::shutdown;
    } else if (!(url = model_url(msg)).empty()) {
      kind = Kind::url;
    }
    if (kind == Kind::registered || kind == Kind::unregistered) conn = model_conn_index(msg);
  } else if (record && (level == 'E' || level == 'W')) {
    if (msg.find("Unauthorized") != std::string_view::npos) kind = Kind::unauthorized;
    else if (starts_with(msg, "Failed to create new quic connection") ||
             starts_with(msg, "Failed to dial a quic connection") ||
             starts_with(msg, "Unable to establish connection with Cloudflare edge"))
      kind = Kind::dial_failed;
    else if (starts_with(msg, "Failed to serve quic connection") || starts_with(msg, "Serve tunnel error") ||
             starts_with(msg, "Connection terminated") || starts_with(msg, "failed to serve tunnel connection"))
      kind = Kind::conn_failed;
  }
  FUZZ_CHECK(info.kind == kind, where() + ": kind " + kind_name(info.kind) + ", expected " + kind_name(kind));
  FUZZ_CHECK(info.url == url, where() + ": url " + show(info.url) + ", expected " + show(url));
  FUZZ_CHECK(info.conn_index == conn,
             where() + ": conn_index " + std::to_string(info.conn_index) + ", expected " + std::to_string(conn));
  bool error = record ? (level == 'E' || level == 'F' || level == 'P') : !line.empty();
  FUZZ_CHECK(info.is_error() == error, where());
}

// After each push; the whole content (a copy of the ring) only now and
// then and at the end, which keeps long inputs fast.
void check_ring(const LogRing& ring, std::string_view last, size_t pushed, bool full) {
  FUZZ_CHECK(ring.size() >= 1 && ring.size() <= pushed, std::to_string(ring.size()));
  FUZZ_CHECK(ring.bytes() <= LogRing::kMaxBytes, std::to_string(ring.bytes()));
  std::string want(last.substr(0, LogRing::kMaxLine));
  if (last.size() > LogRing::kMaxLine) want += "...";
  FUZZ_CHECK(ring.tail(1) == std::vector<std::string>{want}, "tail(1) is not the last line cut: " + show(want));
  if (!full) return;
  std::vector<std::string> all = ring.tail(SIZE_MAX);
  FUZZ_CHECK(all.size() == ring.size(), std::to_string(all.size()));
  size_t bytes = 0;
  for (const auto& l : all) {
    FUZZ_CHECK(l.size() <= LogRing::kMaxLine + 3, std::to_string(l.size()));
    bytes += l.size() + 1;  // each line's '\n' separator counts
  }
  FUZZ_CHECK(bytes == ring.bytes(), std::to_string(bytes) + " != " + std::to_string(ring.bytes()));
  FUZZ_CHECK(ring.tail(0).empty(), "tail(0)");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  LogRing ring;
  size_t pushed = 0;
  std::vector<fuzz::SplitLine> lines = fuzz::split_checked<LineSplitter>(input, kMaxLine);
  for (const auto& l : lines) {
    check_line(l.text);
    ring.push(l.text);
    ++pushed;
    check_ring(ring, l.text, pushed, pushed % 64 == 0 || pushed == lines.size());
  }
  // The scanner on its own, for a line with a '\n' or a '\r' inside (the
  // splitter never hands it one with '\n'): a record must not match across it.
  if (size <= kMaxLine) {
    LineInfo raw = scan_line(input);
    if (raw.kind == Kind::url) FUZZ_CHECK(good_url(raw.url), show(raw.url));
    FUZZ_CHECK(raw.conn_index == -1 || (raw.conn_index >= 0 && raw.conn_index <= 9999), show(input));
    FUZZ_CHECK(raw.message.empty() || (raw.message.data() >= input.data() &&
                                       raw.message.data() + raw.message.size() <= input.data() + input.size()),
               show(input));
  }
  return 0;
}
