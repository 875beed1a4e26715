#include "log.hpp"

#include <sys/time.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <vector>

namespace tether {
namespace {

LogLevel g_level = LogLevel::info;
std::vector<std::string> g_secrets;

// Shorter strings would redact ordinary words; real tokens are far longer.
constexpr size_t kMinSecretLength = 8;

// journald sets JOURNAL_STREAM for services whose stderr it reads. It adds
// its own timestamps and understands the "<N>" syslog priority prefix.
bool stderr_is_journal() {
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  return journal;
}

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return 7;
    case LogLevel::info: return 6;
    case LogLevel::warn: return 4;
    case LogLevel::error: return 3;
  }
  return 6;
}

void vlog(LogLevel level, const char* fmt, va_list ap) {
  if (level < g_level) return;
  char buf[2048];
  vsnprintf(buf, sizeof buf, fmt, ap);
  std::string msg(buf);
  redact(&msg);
  for (char& c : msg)
    if (c == '\n' || c == '\r') c = ' ';  // one message, one line
  if (stderr_is_journal()) {
    fprintf(stderr, "<%d>%s\n", syslog_priority(level), msg.c_str());
    return;
  }
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char stamp[32];
  strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  fprintf(stderr, "%s.%03ldZ %s %s\n", stamp, static_cast<long>(tv.tv_usec / 1000), log_level_name(level), msg.c_str());
}

}  // namespace

bool parse_log_level(const std::string& s, LogLevel* out) {
  if (s == "debug") *out = LogLevel::debug;
  else if (s == "info") *out = LogLevel::info;
  else if (s == "warn" || s == "warning") *out = LogLevel::warn;
  else if (s == "error") *out = LogLevel::error;
  else return false;
  return true;
}

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::debug: return "debug";
    case LogLevel::info: return "info";
    case LogLevel::warn: return "warn";
    case LogLevel::error: return "error";
  }
  return "info";
}

void log_set_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

#define TETHER_DEFINE_LOG(name, level) \
  void name(const char* fmt, ...) {    \
    va_list ap;                        \
    va_start(ap, fmt);                 \
    vlog(level, fmt, ap);              \
    va_end(ap);                        \
  }
TETHER_DEFINE_LOG(log_debug, LogLevel::debug)
TETHER_DEFINE_LOG(log_info, LogLevel::info)
TETHER_DEFINE_LOG(log_warn, LogLevel::warn)
TETHER_DEFINE_LOG(log_error, LogLevel::error)
#undef TETHER_DEFINE_LOG

void secret_add(const std::string& secret) {
  if (secret.size() < kMinSecretLength) return;
  for (const auto& s : g_secrets)
    if (s == secret) return;
  g_secrets.push_back(secret);
}

void redact(std::string* text) {
  for (const auto& s : g_secrets) {
    size_t pos = 0;
    while ((pos = text->find(s, pos)) != std::string::npos) {
      text->replace(pos, s.size(), "*****");
      pos += 5;
    }
  }
}

std::string redacted(std::string text) {
  redact(&text);
  return text;
}

}  // namespace tether
