// Logging to stderr, one line per message, for journald, syslog or a terminal.
#pragma once

#include <string>

namespace tether {

enum class LogLevel { debug, info, warn, error };

bool parse_log_level(const std::string& s, LogLevel* out);
const char* log_level_name(LogLevel level);

void log_set_level(LogLevel level);
LogLevel log_level();

void log_debug(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

// Secrets (API token, tunnel tokens, bot tokens) are registered once when
// they are read; every log line, every reply and every stored child output
// line passes through redact(), so a secret that leaks into a message by
// accident still never leaves the process.
void secret_add(const std::string& secret);
void redact(std::string* text);
std::string redacted(std::string text);

}  // namespace tether
