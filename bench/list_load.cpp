// `list` latency from N concurrent clients, each sending M sequential
// requests: the client side in C++ so that the figure is the agent's, not a
// scripting language's (ten Python clients on two cores measure mostly
// themselves). Prints one latency in milliseconds per line.
//
// usage: list_load SOCKET CLIENTS REQUESTS
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int connect_to(const char* path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd < 0 || connect(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror(path);
    std::exit(1);
  }
  return fd;
}

// Reads until the status line (a line starting with OK or ERR) ends.
void read_reply(int fd) {
  std::string buf;
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n <= 0) {
      std::fprintf(stderr, "connection closed mid-reply\n");
      std::exit(1);
    }
    buf.append(chunk, static_cast<size_t>(n));
    if (buf.back() != '\n') continue;
    size_t start = buf.rfind('\n', buf.size() - 2);
    start = start == std::string::npos ? 0 : start + 1;
    if (buf.compare(start, 2, "OK") == 0 || buf.compare(start, 3, "ERR") == 0) return;
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: list_load SOCKET CLIENTS REQUESTS\n");
    return 2;
  }
  const char* path = argv[1];
  int clients = std::atoi(argv[2]), requests = std::atoi(argv[3]);
  std::vector<std::vector<double>> latencies(static_cast<size_t>(clients));
  std::vector<int> fds;
  for (int i = 0; i < clients; ++i) fds.push_back(connect_to(path));
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      for (int r = 0; r < requests; ++r) {
        auto t0 = std::chrono::steady_clock::now();
        if (write(fds[static_cast<size_t>(i)], "list\n", 5) != 5) std::exit(1);
        read_reply(fds[static_cast<size_t>(i)]);
        std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - t0;
        latencies[static_cast<size_t>(i)].push_back(ms.count());
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int fd : fds) close(fd);
  for (const auto& l : latencies)
    for (double ms : l) std::printf("%.4f\n", ms);
  return 0;
}
