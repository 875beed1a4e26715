// The env file that holds tunnel tokens (/etc/tether/tunnels.env), shared
// with the operator's own lines. Edits touch only the lines of the keys they
// name: comments, blank lines, odd lines, order and line endings survive byte
// for byte, so tether can rewrite a file a human also maintains.
//
// Nothing here logs: values are tokens.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tether {

// [A-Za-z_][A-Za-z0-9_]*
bool env_key_valid(std::string_view key);

// Lines are `KEY=value` or `export KEY=value`, with blanks allowed around the
// key and the '='. A value is taken whole with trailing blanks dropped, or is
// '...' (literal) or "..." (\" \\ \$ \` unescaped) with anything after the
// closing quote ignored; a quote that never closes is part of the value.
// Lines end in LF or CRLF.
class EnvFile {
 public:
  // Never fails: any other line is kept verbatim.
  static EnvFile parse(std::string_view text);

  // The last occurrence wins, as when a shell sources the file.
  std::optional<std::string> get(std::string_view key) const;
  // Distinct keys, in order of first occurrence.
  std::vector<std::string> keys() const;

  // Puts the value on the key's first line, removes later duplicates, or
  // appends a line. The line is `KEY=value`, or `KEY="value"` when the value
  // has characters outside [A-Za-z0-9+/=_.:@-]; an `export ` prefix is kept.
  // Refuses (false, nothing changed) an invalid key and a value containing
  // CR, LF or NUL, which no env file reader would give back intact. Returns
  // whether render() changes; a line that already holds the value is kept as
  // written.
  bool set(std::string_view key, std::string_view value);
  // Removes every line of the key; returns whether there was one.
  bool remove(std::string_view key);

  std::string render() const;

 private:
  struct Line {
    std::string text;  // without its line ending
    std::string eol;   // "\n", "\r\n", or "" on an unterminated last line
    std::string key;   // empty unless the line assigns a variable
    std::string value;
    bool exported = false;
  };

  static Line next_line(std::string_view* text);
  static void parse_assignment(Line* line);
  void append(std::string_view key, std::string_view value);

  std::vector<Line> lines_;
  std::string eol_ = "\n";  // for new lines: that of the first line
};

// Whether path may be replaced: not a symlink, a regular file, owned by the
// effective uid (a rename would silently take someone else's file over).
// A missing file is fine. Returns 0 or a negative errno with *err (err may be
// null) saying why.
int env_file_check(const std::string& path, std::string* err);

// Reads path (missing: empty), applies edit, which returns whether it changed
// anything, and if the text did change writes it back atomically with mode
// 0600. Otherwise the file is not touched at all, mtime included. Returns 0
// or a negative errno with *err (err may be null) saying why.
int env_file_update(const std::string& path, const std::function<bool(EnvFile&)>& edit, std::string* err);

}  // namespace tether
