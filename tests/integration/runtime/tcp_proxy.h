// A loopback TCP proxy a test can cut: while down it drops every open
// connection and closes new ones at once, so a client sees its watch and its
// requests fail as on a network outage, while the API server behind it keeps
// running for everyone else.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace execgov::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int upstream_port) : upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
      throw std::runtime_error("proxy: cannot listen");
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TcpProxy() {
    stop_ = true;
    accept_thread_.join();
    std::vector<std::thread> pumps;
    {
      std::lock_guard<std::mutex> l(mu_);
      pumps.swap(pumps_);
    }
    for (auto& t : pumps) t.join();
    ::close(listen_fd_);
  }

  int port() const { return port_; }

  void SetUp(bool up) {
    if (!up) generation_++;  // every pump of an older generation closes
    up_ = up;
  }

 private:
  void AcceptLoop() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int client = ::accept(listen_fd_, nullptr, nullptr);
      if (client < 0) continue;
      if (!up_) {
        ::close(client);
        continue;
      }
      int upstream = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in addr{};
      addr.sin_family = AF_INET;
      addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      addr.sin_port = htons(static_cast<uint16_t>(upstream_port_));
      if (::connect(upstream, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(client);
        ::close(upstream);
        continue;
      }
      std::lock_guard<std::mutex> l(mu_);
      pumps_.emplace_back([this, client, upstream, gen = generation_.load()] { Pump(client, upstream, gen); });
    }
  }

  void Pump(int a, int b, uint64_t gen) {
    char buf[16384];
    while (!stop_ && generation_.load() == gen) {
      pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
      int n = ::poll(p, 2, 100);
      if (n < 0) break;
      if (n == 0) continue;
      bool closed = false;
      for (int i = 0; i < 2 && !closed; ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
        ssize_t got = ::read(p[i].fd, buf, sizeof buf);
        if (got <= 0) {
          closed = true;
          break;
        }
        int to = i == 0 ? b : a;
        for (ssize_t off = 0; off < got;) {
          ssize_t w = ::send(to, buf + off, got - off, MSG_NOSIGNAL);
          if (w <= 0) {
            closed = true;
            break;
          }
          off += w;
        }
      }
      if (closed) break;
    }
    ::close(a);
    ::close(b);
  }

  int upstream_port_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false}, up_{true};
  std::atomic<uint64_t> generation_{0};
  std::mutex mu_;
  std::vector<std::thread> pumps_;
  std::thread accept_thread_;
};

}  // namespace execgov::testing
