#include "envfile.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "atomicfile.hpp"

namespace tether {
namespace {

// Far beyond any hand-kept env file; a bound so a wrong path cannot eat memory.
constexpr size_t kMaxEnvFile = 1 << 20;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

bool is_key_char(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

// Written without quotes: safe for systemd, docker --env-file and sh alike.
bool is_plain_char(char c) {
  return is_key_char(c, false) || std::string_view("+/=.:@-").find(c) != std::string_view::npos;
}

std::string_view skip_blanks(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  return s;
}

std::string_view trim_right(std::string_view s) {
  while (!s.empty() && (is_blank(s.back()) || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

size_t key_length(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && is_key_char(s[n], n == 0)) n++;
  return n;
}

// s starts with the opening quote; false if the quote never closes.
bool unquote(std::string_view s, std::string* out) {
  const char quote = s.front();
  for (size_t i = 1; i < s.size(); i++) {
    char c = s[i];
    if (c == quote) return true;
    if (quote == '"' && c == '\\' && i + 1 < s.size() &&
        std::string_view("\"\\$`").find(s[i + 1]) != std::string_view::npos)
      c = s[++i];
    out->push_back(c);
  }
  return false;
}

std::string decode_value(std::string_view s) {
  std::string out;
  if (!s.empty() && (s.front() == '"' || s.front() == '\'') && unquote(s, &out)) return out;
  return std::string(trim_right(s));
}

std::string encode_value(std::string_view value) {
  if (std::all_of(value.begin(), value.end(), is_plain_char)) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

int refuse(std::string* err, int code, std::string message) {
  if (err != nullptr) *err = std::move(message);
  return code;
}

bool starts_with_word(std::string_view s, std::string_view word) {
  return s.size() > word.size() && s.substr(0, word.size()) == word && is_blank(s[word.size()]);
}

}  // namespace

bool env_key_valid(std::string_view key) { return !key.empty() && key_length(key) == key.size(); }

EnvFile::Line EnvFile::next_line(std::string_view* text) {
  Line line;
  size_t nl = text->find('\n');
  std::string_view body = text->substr(0, nl);
  text->remove_prefix(nl == std::string_view::npos ? text->size() : nl + 1);
  if (nl != std::string_view::npos) {
    bool crlf = !body.empty() && body.back() == '\r';
    if (crlf) body.remove_suffix(1);
    line.eol = crlf ? "\r\n" : "\n";
  }
  line.text = body;
  parse_assignment(&line);
  return line;
}

void EnvFile::parse_assignment(Line* line) {
  std::string_view s = skip_blanks(line->text);
  line->exported = starts_with_word(s, "export");
  if (line->exported) s = skip_blanks(s.substr(6));
  size_t n = key_length(s);
  std::string_view rest = skip_blanks(s.substr(n));
  if (n == 0 || rest.empty() || rest.front() != '=') return;
  line->key = s.substr(0, n);
  line->value = decode_value(skip_blanks(rest.substr(1)));
}

EnvFile EnvFile::parse(std::string_view text) {
  EnvFile env;
  while (!text.empty()) env.lines_.push_back(next_line(&text));
  if (!env.lines_.empty() && env.lines_.front().eol == "\r\n") env.eol_ = "\r\n";
  return env;
}

std::optional<std::string> EnvFile::get(std::string_view key) const {
  for (auto it = lines_.rbegin(); it != lines_.rend(); ++it)
    if (it->key == key) return it->value;
  return std::nullopt;
}

std::vector<std::string> EnvFile::keys() const {
  std::vector<std::string> out;
  for (const Line& line : lines_)
    if (!line.key.empty() && std::find(out.begin(), out.end(), line.key) == out.end()) out.push_back(line.key);
  return out;
}

bool EnvFile::set(std::string_view key, std::string_view value) {
  if (!env_key_valid(key) || value.find_first_of(std::string_view("\r\n\0", 3)) != value.npos) return false;
  auto same_key = [&](const Line& line) { return line.key == key; };
  auto first = std::find_if(lines_.begin(), lines_.end(), same_key);
  if (first == lines_.end()) {
    append(key, value);
    return true;
  }
  size_t before = lines_.size();
  lines_.erase(std::remove_if(first + 1, lines_.end(), same_key), lines_.end());
  bool changed = lines_.size() != before;
  if (first->value == value) return changed;
  first->text = (first->exported ? "export " : "") + std::string(key) + "=" + encode_value(value);
  first->value = value;
  return true;
}

void EnvFile::append(std::string_view key, std::string_view value) {
  // Otherwise the new line would be glued onto the operator's last line.
  if (!lines_.empty() && lines_.back().eol.empty()) lines_.back().eol = eol_;
  Line line;
  line.key = key;
  line.value = value;
  line.text = line.key + "=" + encode_value(value);
  line.eol = eol_;
  lines_.push_back(std::move(line));
}

bool EnvFile::remove(std::string_view key) {
  size_t before = lines_.size();
  lines_.erase(std::remove_if(lines_.begin(), lines_.end(), [&](const Line& line) { return line.key == key; }),
               lines_.end());
  return lines_.size() != before;
}

std::string EnvFile::render() const {
  std::string out;
  for (const Line& line : lines_) out += line.text + line.eol;
  return out;
}

int env_file_check(const std::string& path, std::string* err) {
  struct stat st;
  if (lstat(path.c_str(), &st) < 0) {
    int code = -errno;
    if (code == -ENOENT) return 0;
    return refuse(err, code, "stat " + path + ": " + std::strerror(-code));
  }
  if (S_ISLNK(st.st_mode))
    return refuse(err, -ELOOP, path + " is a symlink; refusing to replace it (point env_file at the real file)");
  if (!S_ISREG(st.st_mode)) return refuse(err, -EINVAL, path + " is not a regular file; refusing to replace it");
  if (st.st_uid != geteuid())
    return refuse(err, -EPERM,
                  path + " is owned by uid " + std::to_string(st.st_uid) + " but tether runs as uid " +
                      std::to_string(geteuid()) + "; refusing to replace it (chown the file)");
  return 0;
}

int env_file_update(const std::string& path, const std::function<bool(EnvFile&)>& edit, std::string* err) {
  int r = env_file_check(path, err);
  if (r < 0) return r;
  std::string text;
  r = read_file(path, &text, kMaxEnvFile, err);
  if (r < 0 && r != -ENOENT) return r;
  EnvFile env = EnvFile::parse(text);
  if (!edit(env)) return 0;
  std::string next = env.render();
  if (next == text) return 0;
  return write_file_atomic(path, next, 0600, err);
}

}  // namespace tether
