// Who asked for something, and how the answer goes back: shared by the
// dispatcher, the supervisor and the provisioner, so that none of them
// needs another's header for it.
#pragma once

#include <cstdint>
#include <functional>

#include "protocol.hpp"

namespace tether {

// Replies do not depend on it, but notices about a tunnel go back to the
// chat that started it.
struct Caller {
  enum class Kind { socket, telegram } kind = Kind::socket;
  int64_t chat_id = 0;
  int64_t thread_id = 0;
};

using ReplyFn = std::function<void(Reply)>;

}  // namespace tether
