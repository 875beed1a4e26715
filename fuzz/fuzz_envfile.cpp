// The env file: bytes -> EnvFile::parse -> render, get, keys, set, remove.
//
// Checks, from the contract in envfile.hpp: an untouched file renders byte
// for byte; keys() and get() agree with a model of the documented grammar;
// set() refuses bad keys and values with CR, LF or NUL without changing
// anything, else get() returns the value, other keys keep theirs, and it
// returns exactly whether render() changed; remove() takes every line of
// the key; after any edit, render -> parse gives the same keys and values.
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common.hpp"
#include "envfile.hpp"

using namespace tether;
using fuzz::show;

namespace {

using Model = std::map<std::string, std::string>;

bool blank(char c) { return c == ' ' || c == '\t'; }
bool key_char(char c, bool first) {
  return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (!first && c >= '0' && c <= '9');
}

// One line (without its LF, with a CR before it dropped) as the header
// describes it: [blanks][export<blanks>]KEY[blanks]=[blanks]value.
bool model_line(std::string_view s, std::string* key, std::string* value) {
  size_t i = 0;
  while (i < s.size() && blank(s[i])) ++i;
  if (s.substr(i, 6) == "export" && i + 6 < s.size() && blank(s[i + 6])) {
    i += 6;
    while (i < s.size() && blank(s[i])) ++i;
  }
  size_t k = i;
  while (i < s.size() && key_char(s[i], i == k)) ++i;
  if (i == k) return false;
  *key = std::string(s.substr(k, i - k));
  while (i < s.size() && blank(s[i])) ++i;
  if (i == s.size() || s[i] != '=') return false;
  ++i;
  while (i < s.size() && blank(s[i])) ++i;
  std::string_view v = s.substr(i);
  // '...' literal, "..." with \" \\ \$ \` unescaped; unclosed: plain.
  if (!v.empty() && (v[0] == '\'' || v[0] == '"')) {
    std::string out;
    for (size_t j = 1; j < v.size(); ++j) {
      if (v[j] == v[0]) {
        *value = out;
        return true;
      }
      if (v[0] == '"' && v[j] == '\\' && j + 1 < v.size() &&
          (v[j + 1] == '"' || v[j + 1] == '\\' || v[j + 1] == '$' || v[j + 1] == '`'))
        ++j;
      out += v[j];
    }
  }
  // Whole, trailing blanks dropped (and a stray CR of an unterminated last line).
  while (!v.empty() && (blank(v.back()) || v.back() == '\r')) v.remove_suffix(1);
  *value = std::string(v);
  return true;
}

// Keys in order of first occurrence; the last occurrence's value.
void model(std::string_view text, std::vector<std::string>* keys, Model* values) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (nl != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    std::string k, v;
    if (!model_line(line, &k, &v)) continue;
    if (!values->count(k)) keys->push_back(k);
    (*values)[k] = v;
  }
}

Model snapshot(const EnvFile& env) {
  Model m;
  for (const auto& k : env.keys()) {
    auto v = env.get(k);
    FUZZ_CHECK(v.has_value(), "keys() has " + show(k) + " but get() has not");
    m[k] = *v;
  }
  return m;
}

// What is in memory is what a reader of the rendered file sees.
template <typename What>
void check_roundtrip(const EnvFile& env, const What& what) {
  std::string text = env.render();
  EnvFile again = EnvFile::parse(text);
  FUZZ_CHECK(again.render() == text, what());
  FUZZ_CHECK(again.keys() == env.keys(), what() + ": keys differ after render -> parse of " + show(text));
  FUZZ_CHECK(snapshot(again) == snapshot(env), what() + ": values differ after render -> parse of " + show(text));
}

bool settable(std::string_view key, std::string_view value) {
  return env_key_valid(key) && value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

void check_set(const EnvFile& start, const std::string& key, const std::string& value) {
  EnvFile env = start;
  const std::string before = env.render();
  const std::vector<std::string> keys_before = env.keys();
  const Model values_before = snapshot(env);
  auto what = [&] { return "set(" + show(key) + ", " + show(value) + ") on " + show(before); };

  bool changed = env.set(key, value);
  std::string after = env.render();
  if (!settable(key, value)) {
    FUZZ_CHECK(!changed && after == before, what() + " was not refused");
    return;
  }
  FUZZ_CHECK(changed == (after != before), what() + " returned " + std::to_string(changed) + ", render " +
                                               (after != before ? "changed: " + show(after) : "unchanged"));
  FUZZ_CHECK(env.get(key) == value, what() + ": get() gives " + show(env.get(key).value_or("<none>")));
  std::vector<std::string> keys_want = keys_before;
  if (std::find(keys_want.begin(), keys_want.end(), key) == keys_want.end()) keys_want.push_back(key);
  FUZZ_CHECK(env.keys() == keys_want, what() + ": keys()");
  Model values_want = values_before;
  values_want[key] = value;
  FUZZ_CHECK(snapshot(env) == values_want, what() + ": other values changed, render " + show(after));
  check_roundtrip(env, what);

  // The key now has one line: setting it again to the same value is a no-op.
  FUZZ_CHECK(!env.set(key, value) && env.render() == after, what() + " twice");
}

void check_remove(const EnvFile& start, const std::string& key) {
  EnvFile env = start;
  const std::string before = env.render();
  const Model values_before = snapshot(env);
  std::vector<std::string> keys_want = env.keys();
  auto what = [&] { return "remove(" + show(key) + ") on " + show(before); };

  bool had = env.get(key).has_value();
  FUZZ_CHECK(env.remove(key) == had, what());
  FUZZ_CHECK(!env.get(key).has_value(), what());
  FUZZ_CHECK((env.render() != before) == had, what() + " -> " + show(env.render()));
  keys_want.erase(std::remove(keys_want.begin(), keys_want.end(), key), keys_want.end());
  FUZZ_CHECK(env.keys() == keys_want, what() + ": keys()");
  Model values_want = values_before;
  values_want.erase(key);
  FUZZ_CHECK(snapshot(env) == values_want, what() + ": other values changed");
  check_roundtrip(env, what);
  FUZZ_CHECK(!env.remove(key), what() + " twice");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  EnvFile env = EnvFile::parse(text);
  FUZZ_CHECK(env.render() == text, "render of an untouched file differs: " + show(env.render()));

  std::vector<std::string> keys;
  Model values;
  model(text, &keys, &values);
  FUZZ_CHECK(env.keys() == keys, "keys() differ from the model for " + show(text));
  for (const auto& k : keys) {
    FUZZ_CHECK(env_key_valid(k), show(k));
    FUZZ_CHECK(env.get(k) == values[k], "get(" + show(k) + ") = " + show(env.get(k).value_or("<none>")) + ", model " +
                                            show(values[k]) + ", in " + show(text));
  }

  // Keys to edit: those of the file (a few), one it lacks, and raw bytes of
  // the input (mostly invalid keys). Values: the file's own values, pieces
  // of the input (with CR, LF, NUL, quotes and blanks), and a token.
  std::vector<std::string> edit_keys(keys.begin(), keys.begin() + std::min<size_t>(keys.size(), 4));
  edit_keys.push_back("CF_TUNNEL_TOKEN_FUZZ");
  uint8_t sel = size > 0 ? data[0] : 0;
  edit_keys.push_back(std::string(text.substr(size > 0 ? 1 : 0, sel % 8)));
  std::vector<std::string> edit_values = {"eyJhIjoiMSJ9", ""};
  if (!keys.empty()) edit_values.push_back(values[keys.back()]);
  size_t nl = text.rfind('\n');
  edit_values.push_back(std::string(text.substr(nl == std::string_view::npos ? 0 : nl + 1)));
  edit_values.push_back(std::string(text.substr(size / 2, 48)));

  // One value per key, chosen by the input: a few edits per run keep the
  // target fast; the fuzzer varies the pairing.
  uint8_t rot = size > 1 ? data[1] : 0;
  for (size_t i = 0; i < edit_keys.size(); ++i) {
    check_set(env, edit_keys[i], edit_values[(i + rot) % edit_values.size()]);
    check_remove(env, edit_keys[i]);
  }
  // set() to the value get() gives: a change only where duplicates go.
  for (const auto& k : edit_keys) {
    if (!env.get(k)) continue;
    check_set(env, k, *env.get(k));
  }
  return 0;
}
