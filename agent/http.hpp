// HTTP on the agent's loop: libcurl's multi interface driven by libuv
// (curl's socket callback -> uv_poll per socket, its timer callback -> one
// uv_timer), so any number of requests run at once on the one thread and
// nothing ever blocks. Name resolution uses curl's threaded resolver.
#pragma once

#include <curl/curl.h>
#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "uvpp.hpp"

namespace tether {

// RAII for the two curl objects a request owns.
struct CurlEasyDeleter {
  void operator()(CURL* h) const { curl_easy_cleanup(h); }
};
using CurlEasy = std::unique_ptr<CURL, CurlEasyDeleter>;
struct CurlSlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};
using CurlSlist = std::unique_ptr<curl_slist, CurlSlistDeleter>;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // sent when not empty
  long timeout_ms = 15000;
  size_t max_response = 1 << 20;  // a larger body fails the request
};

struct HttpResponse {
  int status = 0;  // 0: no HTTP response at all
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string error;                           // transport failure, when status is 0
  bool timed_out = false;
};

class Http {
 public:
  using Done = std::function<void(HttpResponse)>;

  explicit Http(uv_loop_t* loop);
  ~Http();
  Http(const Http&) = delete;
  Http& operator=(const Http&) = delete;

  // Starts a request; done is called once, from the loop, unless the
  // request is cancelled first. Returns its id.
  uint64_t fetch(const HttpRequest& req, Done done);
  void cancel(uint64_t id);
  // Cancels everything and lets go of every socket and timer, so the loop
  // can end (agent shutdown).
  void shutdown();
  size_t pending() const { return transfers_.size(); }

 private:
  struct Transfer;
  struct Socket;

  static size_t on_body(char* data, size_t size, size_t n, void* userp);
  static size_t on_header(char* data, size_t size, size_t n, void* userp);
  static int on_socket(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int on_timer(CURLM* multi, long timeout_ms, void* userp);
  static void on_poll(uv_poll_t* h, int status, int events);
  void drive(curl_socket_t fd, int flags);
  void collect();

  uv_loop_t* loop_;
  CURLM* multi_;
  Timer timer_;
  std::map<uint64_t, std::unique_ptr<Transfer>> transfers_;
  std::map<curl_socket_t, std::unique_ptr<Socket>> sockets_;
  uint64_t next_id_ = 1;
};

}  // namespace tether
