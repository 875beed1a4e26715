// The control socket: a Unix stream socket speaking the line protocol of
// protocol.hpp. It owns the connections, frames requests, keeps replies in
// order, and bounds what each client may cost: input is not read while a
// client has unanswered requests or unread replies piling up.
#pragma once

#include <sys/types.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config.hpp"
#include "dispatcher.hpp"
#include "uvpp.hpp"

namespace tether {

class EventBus;

class Control {
 public:
  Control(uv_loop_t* loop, Dispatcher& commands, EventBus& events);
  ~Control();

  // Removes a stale socket file, refuses to start when another agent
  // answers on it, then listens. Returns 0 or a negative errno with *err.
  int listen(const AgentConfig& cfg, std::string* err);
  // Stops listening, closes every client and removes the socket file.
  void close();
  void set_allowed_uids(std::vector<uid_t> uids) { allow_uids_ = std::move(uids); }
  void set_client_idle_s(int s) { idle_ms_ = static_cast<uint64_t>(s) * 1000; }

  size_t clients() const { return conns_.size(); }
  uint64_t connections_total() const { return accepted_; }

 private:
  class Conn;
  friend class Conn;

  static void on_connection(uv_stream_t* server, int status);
  void accept_one();
  bool peer_allowed(uv_pipe_t* pipe, uid_t* uid) const;
  void forget(Conn* c);

  uv_loop_t* loop_;
  Dispatcher& commands_;
  EventBus& events_;
  UvHandle<uv_pipe_t> server_;
  std::string path_;
  ino_t inode_ = 0;  // of the socket file we created, so we only remove ours
  size_t max_clients_ = 64;
  uint64_t idle_ms_ = 0;  // 0: clients may idle for ever
  // Clients are refused once an accepted descriptor reaches this: the rest
  // stays for children's pipes, HTTP and files.
  int max_client_fd_ = 0;
  std::vector<uid_t> allow_uids_;
  // Each client until its pipe's close callback (see Conn).
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  uint64_t accepted_ = 0;
};

}  // namespace tether
