// The control socket's input framing, without libuv: bytes in, whole
// request lines out, and the rules that bound what a client's input may
// cost. Control::Conn feeds it what it reads and asks it whether to read on;
// every rule is one gate in settle(), in the order they apply.
#pragma once

#include <cstddef>
#include <deque>
#include <string>
#include <string_view>

#include "linesplit.hpp"

namespace tether {

class RequestFramer {
 public:
  struct Frame {
    enum class Kind { none, line, toolong };
    Kind kind = Kind::none;
    std::string line;
  };

  // max_line: the longest request line; max_queued: lines split out but
  // not yet taken by next().
  RequestFramer(size_t max_line, size_t max_queued);

  // A read's worth of input.
  void feed(std::string_view data);
  // The client sent its end of input.
  void end_of_input();
  // The next line to answer, in order; Kind::none when there is none yet.
  // A toolong frame is the last: nothing after it is ever delivered.
  Frame next();
  // Drops everything buffered, the unterminated last line included: no
  // more requests are taken (the connection ends or became a watch stream).
  void clear();

  // Reading may go on: nothing is left unsplit and input has not ended.
  bool wants_input() const { return !eof_ && !stopped_ && raw_.empty(); }
  // Input is held back unsplit: reading must pause until next() took lines.
  bool holding_input() const { return !raw_.empty(); }
  // Lines wait to be answered.
  bool pending() const { return !queue_.empty(); }
  // Input ended and every line was taken.
  bool drained() const { return eof_ && queue_.empty() && raw_.empty(); }
  bool eof() const { return eof_; }

 private:
  void settle();
  void split();

  size_t max_line_, max_queued_;
  LineSplitter splitter_;
  std::string raw_;  // input not yet split into queue_
  std::deque<Frame> queue_;
  bool eof_ = false;
  bool stopped_ = false;  // an over-long line was seen
  bool ended_ = false;    // the unterminated last line was delivered or dropped
};

}  // namespace tether
