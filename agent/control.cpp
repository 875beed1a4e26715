#include "control.hpp"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "atomicfile.hpp"
#include "events.hpp"
#include "framing.hpp"
#include "log.hpp"

namespace tether {
namespace {

// Past this much unsent reply data a client is not read from (requests) or
// is dropped (watch streams): a client that does not read must not grow the
// agent's memory.
constexpr size_t kMaxOutput = 64 * 1024;
// Requests split out of the input but not yet answered. The rest of the
// input stays as raw bytes (at most one read's worth) and reading pauses,
// so a client that pipelines faster than it reads costs a bounded amount.
constexpr size_t kMaxQueued = 64;
// A finished connection gets this long to read its last replies, then this
// long to stop sending, before it is closed anyway.
constexpr uint64_t kFlushMs = 30000;
constexpr uint64_t kLingerMs = 2000;
// Of RLIMIT_NOFILE, the share clients may never use (and at least this many).
constexpr int kFdReserveDivisor = 4;
constexpr int kMinFdReserve = 32;

int check_existing_socket(const std::string& path, std::string* err) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return errno == ENOENT ? 0 : -errno;
  if (!S_ISSOCK(st.st_mode)) {
    *err = path + " exists and is not a socket; refusing to replace it (remove it or use --socket)";
    return -EEXIST;
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  int rc = connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr);
  int e = errno;
  ::close(fd);
  if (rc == 0) {
    *err = "another tetherd is already answering on " + path + "; stop it first or give this one another --socket";
    return -EADDRINUSE;
  }
  if (e != ECONNREFUSED) {
    *err = "cannot check existing socket " + path + ": " + std::strerror(e);
    return -e;
  }
  log_info("removing stale socket %s (nothing answers on it)", path.c_str());
  if (unlink(path.c_str()) != 0 && errno != ENOENT) {
    *err = "cannot remove stale socket " + path + ": " + std::strerror(errno);
    return -errno;
  }
  return 0;
}

struct WriteReq {
  uv_write_t req;
  std::string data;
};

}  // namespace

// One client. Its memory holds the uv_pipe_t, so it is freed only by the
// pipe's close callback: the server's list owns it until then (or, when the
// server goes first, the close callback alone). Replies and events reach it
// through guards of its Lifetime (uvpp.hpp), so one that arrives after it is
// gone does nothing.
class Control::Conn {
 public:
  // Where the connection is. It only moves forward, except that a reply
  // brings a waiting one back to reading.
  enum class Phase {
    reading,    // taking requests, one at a time
    waiting,    // a request is dispatched, its reply not yet in
    watching,   // a watch stream: events out, input ignored
    finishing,  // no more requests: last replies go out, input is drained
    closing,    // the pipe is being closed
  };

  explicit Conn(Control& server)
      : server_(&server), framer_(kMaxRequest, kMaxQueued), linger_(server.loop_), idle_(server.loop_) {
    uv_pipe_init(server.loop_, &pipe_, 0);
    pipe_.data = this;
  }

  uv_pipe_t* pipe() { return &pipe_; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&pipe_); }

  void start() {
    arm_idle();
    resume_reading();
  }

  // Sends one line and ends, for connections refused at the door.
  void refuse(const std::string& line) {
    out_ += line + "\n";
    finish();
  }

  // Refused for lack of room: the line goes out if the socket takes it at
  // once, and the connection is closed now, so refused clients never pile
  // up. What the client already sent is read first: closing a Unix socket
  // with unread input resets it, and the client could lose the line.
  void refuse_now(const std::string& line) {
    std::string text = line + "\n";
    uv_buf_t buf = uv_buf_init(text.data(), static_cast<unsigned>(text.size()));
    uv_try_write(stream(), &buf, 1);
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&pipe_), &fd) == 0) {
      char sink[4096];
      for (int i = 0; i < 16 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
      }
    }
    close();
  }

  void close() {
    if (phase_ == Phase::closing) return;
    pause_reading();
    phase_ = Phase::closing;
    linger_.stop();
    idle_.stop();
    // Now, while the server (and its event bus) surely exists.
    if (watch_token_) server_->events_.unsubscribe(watch_token_);
    watch_token_ = 0;
    uv_close(reinterpret_cast<uv_handle_t*>(&pipe_), [](uv_handle_t* h) {
      auto* c = static_cast<Conn*>(h->data);
      if (c->server_) c->server_->forget(c);
      else delete c;
    });
  }

  // The server is being destroyed while this closes: the close callback
  // frees it alone.
  void orphan() { server_ = nullptr; }

 private:
  static void on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
    // One static buffer is enough: the loop is single threaded and every
    // read is consumed before the next one starts.
    static char chunk[64 * 1024];
    *buf = uv_buf_init(chunk, sizeof chunk);
  }

  static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(s->data);
    if (n == 0) return;
    if (c->phase_ == Phase::finishing) {  // draining what the client still sends
      if (n < 0) c->close();
      return;
    }
    if (n > 0) c->take(std::string_view(buf->base, static_cast<size_t>(n)));
    else c->end_of_input(n);
  }

  void take(std::string_view data) {
    if (phase_ == Phase::watching) return;  // a watch stream ignores further input
    arm_idle();
    framer_.feed(data);
    process();
  }

  void end_of_input(ssize_t status) {
    framer_.end_of_input();
    pause_reading();
    if (status != UV_EOF) {  // reset by peer: nobody to answer
      close();
      return;
    }
    process();
  }

  void process() {
    if (processing_) return;  // a synchronous reply finished inside dispatch
    processing_ = true;
    while (phase_ == Phase::reading && !output_full()) {
      RequestFramer::Frame f = framer_.next();
      if (f.kind == RequestFramer::Frame::Kind::none) break;
      if (f.kind == RequestFramer::Frame::Kind::toolong) {
        send_reply(Reply::Err("toolong", "request line longer than " + std::to_string(kMaxRequest) +
                                             " bytes; closing the connection"),
                   false);
        finish();
        break;
      }
      ParseResult pr = parse_request(f.line);
      if (pr.status == ParseStatus::empty) continue;
      if (pr.status == ParseStatus::invalid) {
        send_reply(Reply::Err("usage", pr.error), false);
        continue;
      }
      phase_ = Phase::waiting;
      bool json = pr.request.json;
      server_->commands_.dispatch(pr.request, Caller{},
                                  lifetime_.guard([this, json](Reply r) { on_reply(std::move(r), json); }));
    }
    processing_ = false;
    flush();
    if (phase_ == Phase::finishing || phase_ == Phase::closing) return;
    if (phase_ == Phase::reading && framer_.drained()) {
      finish();
      return;
    }
    bool input_open = phase_ == Phase::watching ? !framer_.eof() : framer_.wants_input();
    if (input_open && !output_full()) resume_reading();
    if (framer_.holding_input() || output_full()) pause_reading();
  }

  void on_reply(Reply r, bool json) {
    if (phase_ != Phase::waiting) return;
    phase_ = Phase::reading;
    send_reply(r, json);
    if (r.after == Reply::After::close) {
      finish();
    } else if (r.after == Reply::After::watch) {
      start_watching(json);
    }
    process();
  }

  // A client that sends nothing for client_idle_s holds a slot for
  // nothing. One waiting for a reply (a slow provision) is not idle, and
  // watchers are expected to be quiet.
  void arm_idle() {
    if (!server_->idle_ms_) return;
    idle_.start(server_->idle_ms_, [this] {
      if (phase_ != Phase::reading && phase_ != Phase::waiting) return;
      if (phase_ == Phase::waiting || framer_.pending()) return arm_idle();
      log_info("control: closing a client idle for %llus", static_cast<unsigned long long>(server_->idle_ms_ / 1000));
      refuse("ERR idle no request for " + std::to_string(server_->idle_ms_ / 1000) +
             "s ([agent] client_idle_s); connect again when needed");
    });
  }

  void start_watching(bool json) {
    idle_.stop();
    phase_ = Phase::watching;
    framer_.clear();
    if (!framer_.eof()) resume_reading();  // only to notice the client leaving
    watch_token_ = server_->events_.subscribe(lifetime_.guard([this, json](const Event& ev) {
      if (phase_ != Phase::watching) return;
      if (output_full()) {
        log_warn("control: dropping a watcher that does not read its events");
        send("ERR slow watcher: events were not read fast enough; dropped");
        finish();
        return;
      }
      send(json ? ev.json().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : ev.text());
    }));
  }

  void send_reply(const Reply& r, bool json) {
    std::string text = format_reply(r, json);
    redact(&text);
    if (out_.empty()) out_ = std::move(text);
    else out_ += text;
  }

  // Appends a line to the output and writes it unless a read is being
  // processed: then process() writes everything in one go at its end.
  void send(std::string line) {
    redact(&line);
    out_ += line;
    out_ += '\n';
    if (!processing_) flush();
  }

  void flush() {
    if (out_.empty() || phase_ == Phase::closing) return;
    auto* w = new WriteReq;
    w->data.swap(out_);
    uv_buf_t buf = uv_buf_init(&w->data[0], static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, stream(), &buf, 1, on_write);
    if (rc < 0) {
      delete w;
      close();
    }
  }

  static void on_write(uv_write_t* req, int status) {
    uv_stream_t* s = req->handle;
    delete reinterpret_cast<WriteReq*>(req);
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) return;
    auto* c = static_cast<Conn*>(s->data);
    if (status < 0) {
      c->close();
      return;
    }
    if (!c->output_full() && c->phase_ != Phase::finishing) c->process();
  }

  // No more requests: write what is pending, shut our side down (which
  // waits for queued writes), then read and discard whatever the client
  // still sends until its end of input, or kLingerMs. Closing with unread
  // input would reset the connection, and the client could lose the last
  // reply (an ERR toolong, ERR busy or ERR denied). A client that reads
  // nothing is closed after kFlushMs.
  void finish() {
    if (phase_ == Phase::finishing || phase_ == Phase::closing) return;
    phase_ = Phase::finishing;
    framer_.clear();
    flush();
    linger_.start(kFlushMs, [this] { close(); });
    auto* req = new uv_shutdown_t;
    int rc = uv_shutdown(req, stream(), [](uv_shutdown_t* r, int status) {
      uv_stream_t* s = r->handle;
      delete r;
      if (uv_is_closing(reinterpret_cast<uv_handle_t*>(s))) return;
      auto* c = static_cast<Conn*>(s->data);
      if (status < 0 || c->framer_.eof()) {
        c->close();
        return;
      }
      c->resume_reading();
      c->linger_.start(kLingerMs, [c] { c->close(); });
    });
    if (rc < 0) {
      delete req;
      close();
    }
  }

  bool output_full() const {
    return out_.size() + uv_stream_get_write_queue_size(reinterpret_cast<const uv_stream_t*>(&pipe_)) > kMaxOutput;
  }

  void resume_reading() {
    if (!reading_ && phase_ != Phase::closing) reading_ = uv_read_start(stream(), on_alloc, on_read) == 0;
  }

  void pause_reading() {
    if (reading_) uv_read_stop(stream());
    reading_ = false;
  }

  Control* server_;
  uv_pipe_t pipe_;
  RequestFramer framer_;
  Timer linger_;
  Timer idle_;
  std::string out_;
  uint64_t watch_token_ = 0;
  Phase phase_ = Phase::reading;
  bool reading_ = false;     // mirrors uv_read_start/uv_read_stop
  bool processing_ = false;  // inside process(): replies are batched
  Lifetime lifetime_;
};

Control::Control(uv_loop_t* loop, Dispatcher& commands, EventBus& events)
    : loop_(loop), commands_(commands), events_(events) {}

Control::~Control() {
  close();
  for (auto& kv : conns_) {
    kv.second->orphan();
    kv.second.release();
  }
}

int Control::listen(const AgentConfig& cfg, std::string* err) {
  path_ = cfg.socket;
  max_clients_ = static_cast<size_t>(cfg.max_clients);
  allow_uids_ = cfg.allow_uids;
  set_client_idle_s(cfg.client_idle_s);
  struct rlimit nofile;
  int limit = getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY
                  ? static_cast<int>(std::min<rlim_t>(nofile.rlim_cur, 1 << 20))
                  : 1 << 20;
  max_client_fd_ = limit - std::max(kMinFdReserve, limit / kFdReserveDivisor);
  // --socket run/x.sock just works.
  make_parent_dirs(path_);
  int rc = check_existing_socket(path_, err);
  if (rc < 0) {
    if (err->empty()) *err = "cannot use socket " + path_ + ": " + uv_strerror(rc);
    return rc;
  }
  server_.init(loop_, this, uv_pipe_init, 0);
  // The socket must never be reachable with wider permissions than asked,
  // not even between bind() and chmod().
  mode_t old = umask(0777 & ~cfg.socket_mode);
  rc = uv_pipe_bind(server_.get(), path_.c_str());
  umask(old);
  if (rc == 0) rc = chmod(path_.c_str(), cfg.socket_mode) == 0 ? 0 : -errno;
  // A burst of clients (a fleet script, a reconnect storm) waits in the
  // kernel's queue instead of being refused.
  if (rc == 0) rc = uv_listen(server_.stream(), SOMAXCONN, on_connection);
  if (rc < 0) {
    *err = "cannot listen on " + path_ + ": " + uv_strerror(rc);
    server_.reset();
    return rc;
  }
  struct stat st;
  if (stat(path_.c_str(), &st) == 0) inode_ = st.st_ino;
  log_info("listening on %s (mode %04o)", path_.c_str(), cfg.socket_mode);
  return 0;
}

void Control::close() {
  if (server_) {
    server_.reset();
    struct stat st;
    if (stat(path_.c_str(), &st) == 0 && st.st_ino == inode_) unlink(path_.c_str());
  }
  for (auto& kv : conns_) kv.second->close();
}

void Control::on_connection(uv_stream_t* server, int status) {
  auto* self = static_cast<Control*>(server->data);
  if (!self) return;
  if (status < 0) {
    log_warn("accept on control socket failed: %s", uv_strerror(status));
    return;
  }
  self->accept_one();
}

void Control::accept_one() {
  auto owned = std::make_unique<Conn>(*this);
  Conn* c = owned.get();
  conns_.emplace(c, std::move(owned));
  if (uv_accept(server_.stream(), c->stream()) != 0) {
    c->close();
    return;
  }
  ++accepted_;
  uv_os_fd_t fd = -1;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(c->pipe()), &fd) == 0 && fd >= max_client_fd_) {
    log_warn("control: refused a client: descriptor %d reaches the reserve kept for tunnels (limit %d)", fd,
             max_client_fd_);
    c->refuse_now("ERR busy the agent is short of file descriptors; try again later (raise LimitNOFILE)");
    return;
  }
  uid_t uid = 0;
  if (!peer_allowed(c->pipe(), &uid)) {
    log_warn("control: refused a client with uid %u (not in [agent] allow_uids)", static_cast<unsigned>(uid));
    c->refuse_now("ERR denied uid " + std::to_string(uid) + " may not use this socket (add it to [agent] allow_uids)");
    return;
  }
  if (conns_.size() > max_clients_) {
    log_warn("control: refused a client: %zu clients already connected", max_clients_);
    c->refuse_now("ERR busy too many clients (limit " + std::to_string(max_clients_) +
                  ", [agent] max_clients); try again later");
    return;
  }
  c->start();
}

bool Control::peer_allowed(uv_pipe_t* pipe, uid_t* uid) const {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(pipe), &fd) != 0) return false;
  struct ucred cred;
  socklen_t len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return false;
  *uid = cred.uid;
  if (cred.uid == 0 || cred.uid == geteuid()) return true;
  for (uid_t u : allow_uids_)
    if (u == cred.uid) return true;
  return false;
}

void Control::forget(Conn* c) { conns_.erase(c); }

}  // namespace tether
