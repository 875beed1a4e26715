#include "logring.hpp"

#include <algorithm>

namespace tether {

void LogRing::drop_oldest() {
  size_t n = 0;
  while (n < used_ && at(n) != '\n') ++n;
  n = std::min(n + 1, used_);
  head_ = (head_ + n) % buf_.size();
  used_ -= n;
  --lines_;
}

void LogRing::push(std::string_view line) {
  bool cut = line.size() > kMaxLine;
  line = line.substr(0, kMaxLine);
  if (buf_.empty()) buf_.resize(kMaxBytes);
  while (used_ + line.size() + (cut ? 3 : 0) + 1 > buf_.size()) drop_oldest();
  // '\n' separates lines here, so one inside a line becomes a space.
  auto put = [this](char c) { buf_[(head_ + used_++) % buf_.size()] = c == '\n' ? ' ' : c; };
  for (char c : line) put(c);
  if (cut)
    for (char c : std::string_view("...")) put(c);
  buf_[(head_ + used_++) % buf_.size()] = '\n';
  ++lines_;
}

std::vector<std::string> LogRing::tail(size_t n) const {
  if (n == 0 || used_ == 0) return {};
  // The last byte ends the newest line; each '\n' before it ends an older
  // one, so the n-th found starts the oldest line wanted.
  size_t start = 0, found = 0;
  for (size_t p = used_ - 1; p-- > 0;) {
    if (at(p) == '\n' && ++found == n) {
      start = p + 1;
      break;
    }
  }
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = start; i < used_; ++i) {
    char c = at(i);
    if (c == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

}  // namespace tether
