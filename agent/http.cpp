#include "http.hpp"

#include <algorithm>
#include <cctype>

#include "version.hpp"

namespace tether {

struct Http::Transfer {
  uint64_t id = 0;
  CurlEasy easy;
  CurlSlist headers;
  std::string body;  // the request body; curl reads it in place
  HttpResponse response;
  size_t max_response = 0;
  bool too_large = false;
  Done done;
};

struct Http::Socket {
  Http* http = nullptr;
  curl_socket_t fd = CURL_SOCKET_BAD;
  UvHandle<uv_poll_t> poll;
};

size_t Http::on_body(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Http::Transfer*>(userp);
  size_t len = size * n;
  if (t->response.body.size() + len > t->max_response) {
    t->too_large = true;
    return 0;  // makes curl abort the transfer
  }
  t->response.body.append(data, len);
  return len;
}

size_t Http::on_header(char* data, size_t size, size_t n, void* userp) {
  auto* t = static_cast<Http::Transfer*>(userp);
  size_t len = size * n;
  std::string line(data, len);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after a 100 Continue)
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string::npos) return len;
  std::string name = line.substr(0, colon);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t v = line.find_first_not_of(" \t", colon + 1);
  std::string value = v == std::string::npos ? "" : line.substr(v);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.pop_back();
  t->response.headers[name] = value;
  return len;
}

Http::Http(uv_loop_t* loop) : loop_(loop), multi_(curl_multi_init()), timer_(loop) {
  curl_multi_setopt(multi_, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(multi_, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi_, CURLMOPT_TIMERFUNCTION, on_timer);
  curl_multi_setopt(multi_, CURLMOPT_TIMERDATA, this);
}

Http::~Http() {
  for (auto& kv : transfers_) curl_multi_remove_handle(multi_, kv.second->easy.get());
  transfers_.clear();
  sockets_.clear();
  curl_multi_cleanup(multi_);
}

uint64_t Http::fetch(const HttpRequest& req, Done done) {
  auto t = std::make_unique<Transfer>();
  t->id = next_id_++;
  t->easy.reset(curl_easy_init());
  t->body = req.body;
  t->max_response = req.max_response;
  t->done = std::move(done);
  CURL* e = t->easy.get();
  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  if (!t->body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->body.c_str());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, static_cast<long>(t->body.size()));
  }
  curl_slist* list = nullptr;
  for (const auto& h : req.headers) list = curl_slist_append(list, h.c_str());
  // curl would add "Expect: 100-continue" to larger bodies: one more round trip for nothing.
  list = curl_slist_append(list, "Expect:");
  t->headers.reset(list);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(e, CURLOPT_USERAGENT, (std::string("tether/") + kVersion).c_str());
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req.timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, std::min(req.timeout_ms, 10000L));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
#if LIBCURL_VERSION_NUM >= 0x075500
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  curl_easy_setopt(e, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
  curl_easy_setopt(e, CURLOPT_PRIVATE, reinterpret_cast<void*>(static_cast<uintptr_t>(t->id)));
  uint64_t id = t->id;
  transfers_.emplace(id, std::move(t));
  curl_multi_add_handle(multi_, e);
  return id;
}

void Http::cancel(uint64_t id) {
  auto it = transfers_.find(id);
  if (it == transfers_.end()) return;
  curl_multi_remove_handle(multi_, it->second->easy.get());
  transfers_.erase(it);
}

void Http::shutdown() {
  for (auto& kv : transfers_) curl_multi_remove_handle(multi_, kv.second->easy.get());
  transfers_.clear();
  timer_.stop();
  for (auto& kv : sockets_) curl_multi_assign(multi_, kv.first, nullptr);
  sockets_.clear();
}

int Http::on_socket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* self = static_cast<Http*>(userp);
  auto* s = static_cast<Socket*>(socketp);
  if (what == CURL_POLL_REMOVE) {
    curl_multi_assign(self->multi_, fd, nullptr);
    self->sockets_.erase(fd);
    return 0;
  }
  if (!s) {
    auto owned = std::make_unique<Socket>();
    s = owned.get();
    s->http = self;
    s->fd = fd;
    if (s->poll.init(self->loop_, s, uv_poll_init_socket, fd) < 0) return -1;
    self->sockets_[fd] = std::move(owned);
    curl_multi_assign(self->multi_, fd, s);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= UV_WRITABLE;
  uv_poll_start(s->poll.get(), events, on_poll);
  return 0;
}

int Http::on_timer(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<Http*>(userp);
  if (timeout_ms < 0) {
    self->timer_.stop();
    return 0;
  }
  // Even a 0 ms timeout goes through the loop: curl forbids calling
  // socket_action from inside its own callback.
  self->timer_.start(static_cast<uint64_t>(timeout_ms), [self] { self->drive(CURL_SOCKET_TIMEOUT, 0); });
  return 0;
}

void Http::on_poll(uv_poll_t* h, int status, int events) {
  auto* s = static_cast<Socket*>(h->data);
  if (!s) return;
  int flags = 0;
  if (status < 0) flags = CURL_CSELECT_ERR;
  if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
  if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
  // s may be freed by curl's socket callback during drive(): copy first.
  Http* http = s->http;
  curl_socket_t fd = s->fd;
  http->drive(fd, flags);
}

void Http::drive(curl_socket_t fd, int flags) {
  int running = 0;
  curl_multi_socket_action(multi_, fd, flags, &running);
  collect();
}

void Http::collect() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    void* priv = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    auto it = transfers_.find(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(priv)));
    if (it == transfers_.end()) continue;
    std::unique_ptr<Transfer> t = std::move(it->second);
    transfers_.erase(it);
    CURLcode rc = msg->data.result;
    curl_multi_remove_handle(multi_, t->easy.get());
    HttpResponse& r = t->response;
    if (rc == CURLE_OK) {
      long code = 0;
      curl_easy_getinfo(t->easy.get(), CURLINFO_RESPONSE_CODE, &code);
      r.status = static_cast<int>(code);
    } else {
      r.status = 0;
      r.timed_out = rc == CURLE_OPERATION_TIMEDOUT;
      r.error =
          t->too_large ? "response larger than " + std::to_string(t->max_response) + " bytes" : curl_easy_strerror(rc);
    }
    Done done = std::move(t->done);
    HttpResponse response = std::move(r);
    t.reset();
    done(std::move(response));
  }
}

}  // namespace tether
