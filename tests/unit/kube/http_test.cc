// The HTTP client (src/kube/http.cc) against a scripted HTTP/1.1 server on
// loopback: what it sends, what it returns for each status, keep-alive reuse,
// and how a stream ends. TLS against real servers is covered by the kube
// integration tests (the API server: CA and client certificate) and
// EtcdTlsTest.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kube/http.h"

namespace execgov::kube {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

// Serves one connection at a time on 127.0.0.1:<free port>. For each request
// (head and Content-Length body) `respond` returns the raw bytes to write;
// after writing, `after` says what the connection does. Records every
// request and counts connections.
enum class After { kNextRequest, kHold, kClose };

class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<std::string(const std::string&)> respond, After after = After::kNextRequest)
      : respond_(std::move(respond)), after_(after) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    close(fd_);
  }
  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  std::vector<std::string> requests() {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  // Waits up to 50 ms for `fd` to be readable; false once the server stops.
  bool WaitReadable(int fd) {
    while (!stop_) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 50) > 0) return true;
    }
    return false;
  }

  void Run() {
    while (WaitReadable(fd_)) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++connections_;
      Serve(c);
      close(c);
    }
  }

  void Serve(int c) {
    std::string in;
    char buf[4096];
    while (true) {
      size_t head_end;
      while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
        if (!WaitReadable(c)) return;
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) return;
        in.append(buf, n);
      }
      size_t body_len = 0;
      if (auto cl = in.find("Content-Length: "); cl != std::string::npos && cl < head_end) {
        body_len = std::stoul(in.substr(cl + 16));
      }
      while (in.size() < head_end + 4 + body_len) {
        if (!WaitReadable(c)) return;
        ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) return;
        in.append(buf, n);
      }
      std::string request = in.substr(0, head_end + 4 + body_len);
      in.erase(0, request.size());
      {
        std::lock_guard<std::mutex> l(mu_);
        requests_.push_back(request);
      }
      std::string out = respond_(request);
      if (write(c, out.data(), out.size()) != static_cast<ssize_t>(out.size())) return;
      if (after_ == After::kClose) return;
      if (after_ == After::kHold) {
        // Until the client closes its end (or the server stops).
        while (WaitReadable(c) && read(c, buf, sizeof(buf)) > 0) {
        }
        return;
      }
    }
  }

  std::function<std::string(const std::string&)> respond_;
  After after_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

std::string Response(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
         extra_headers + "\r\n" + body;
}

std::unique_ptr<HttpClient> Client(HttpConfig c) {
  auto client = NewHttpClient(c);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(client).value() : nullptr;
}

TEST(HttpClientTest, SendsMethodBodyAndHeadersAndReusesTheConnection) {
  ScriptedServer server([](const std::string&) { return Response(201, R"({"ok":true})"); });
  HttpConfig c;
  c.base_url = server.Url() + "/";  // a trailing '/' is not doubled
  int token_reads = 0;
  c.bearer_token_source = [&] { return "tok-" + std::to_string(++token_reads); };
  c.user_agent = "execgov-test/1";
  auto client = Client(c);
  ASSERT_TRUE(client);

  auto post = client->Request("POST", "/api/v1/x", R"({"a":1})", "application/merge-patch+json");
  ASSERT_TRUE(post.ok()) << post.status().ToString();
  EXPECT_EQ(post->status, 201);
  EXPECT_EQ(post->body, R"({"ok":true})");
  EXPECT_EQ(post->retry_after_seconds, -1);
  auto del = client->Request("DELETE", "/api/v1/x/y");
  ASSERT_TRUE(del.ok()) << del.status().ToString();
  ASSERT_TRUE(client->Request("PATCH", "/api/v1/x/z", "{}", "application/json-patch+json").ok());
  ASSERT_TRUE(client->Request("GET", "/api/v1/x/z").ok());

  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].rfind("POST /api/v1/x HTTP/1.1\r\n", 0), 0u) << reqs[0];
  EXPECT_NE(reqs[0].find("Content-Type: application/merge-patch+json\r\n"), std::string::npos) << reqs[0];
  EXPECT_NE(reqs[0].find("Authorization: Bearer tok-1\r\n"), std::string::npos) << reqs[0];
  EXPECT_NE(reqs[0].find("User-Agent: execgov-test/1\r\n"), std::string::npos) << reqs[0];
  EXPECT_NE(reqs[0].find("Accept: application/json\r\n"), std::string::npos) << reqs[0];
  EXPECT_EQ(reqs[0].substr(reqs[0].size() - 7), R"({"a":1})");
  // The token source is asked again for the next request; DELETE has no body.
  EXPECT_EQ(reqs[1].rfind("DELETE /api/v1/x/y HTTP/1.1\r\n", 0), 0u) << reqs[1];
  EXPECT_NE(reqs[1].find("Authorization: Bearer tok-2\r\n"), std::string::npos) << reqs[1];
  EXPECT_EQ(reqs[1].find("Content-Type"), std::string::npos) << reqs[1];
  EXPECT_EQ(reqs[2].rfind("PATCH /api/v1/x/z HTTP/1.1\r\n", 0), 0u) << reqs[2];
  EXPECT_NE(reqs[2].find("Content-Type: application/json-patch+json\r\n"), std::string::npos) << reqs[2];
  EXPECT_EQ(reqs[3].rfind("GET /api/v1/x/z HTTP/1.1\r\n", 0), 0u) << reqs[3];  // not the PATCH's method
  EXPECT_EQ(reqs[3].find("Content-Length"), std::string::npos) << reqs[3];
  EXPECT_EQ(server.connections(), 1);  // keep-alive
}

TEST(HttpClientTest, EveryStatusIsAResponseWithItsRetryAfter) {
  ScriptedServer server([](const std::string& req) {
    if (req.find("/busy") != std::string::npos) return Response(429, "slow down", "Retry-After: 7\r\n");
    if (req.find("/date") != std::string::npos) {
      return Response(503, "", "retry-after: Wed, 21 Oct 2015 07:28:00 GMT\r\n");
    }
    return Response(404, R"({"kind":"Status","code":404})");
  });
  HttpConfig c;
  c.base_url = server.Url();
  auto client = Client(c);
  ASSERT_TRUE(client);
  auto busy = client->Request("GET", "/busy");
  ASSERT_TRUE(busy.ok());
  EXPECT_EQ(busy->status, 429);
  EXPECT_EQ(busy->body, "slow down");
  EXPECT_EQ(busy->retry_after_seconds, 7);
  auto date = client->Request("GET", "/date");
  ASSERT_TRUE(date.ok());
  EXPECT_EQ(date->status, 503);
  EXPECT_EQ(date->retry_after_seconds, -1);  // a date: the caller's own back-off
  auto missing = client->Request("GET", "/missing");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(missing->retry_after_seconds, -1);  // not carried over from the previous response
}

TEST(HttpClientTest, TransportFailuresAndTimeoutsAreUnavailable) {
  int closed_port;
  {
    ScriptedServer gone([](const std::string&) { return std::string(); });
    closed_port = std::stoi(gone.Url().substr(gone.Url().rfind(':') + 1));
  }
  HttpConfig c;
  c.base_url = "http://127.0.0.1:" + std::to_string(closed_port);
  auto refused = Client(c)->Request("GET", "/");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();

  // Headers and no body: the request's timeout ends it.
  ScriptedServer silent([](const std::string&) { return std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"); },
                        After::kHold);
  c.base_url = silent.Url();
  c.timeout = 300ms;
  auto start = Steady::now();
  auto timed_out = Client(c)->Request("GET", "/");
  EXPECT_EQ(timed_out.status().code(), StatusCode::kUnavailable) << timed_out.status().ToString();
  EXPECT_LT(Steady::now() - start, 5s);
}

TEST(HttpClientTest, ABadBaseUrlOrAHalfClientCertificateIsRefusedUpFront) {
  HttpConfig c;
  c.base_url = "ftp://127.0.0.1:1";
  EXPECT_EQ(NewHttpClient(c).status().code(), StatusCode::kInvalidArgument);
  c.base_url = "not a url";
  EXPECT_EQ(NewHttpClient(c).status().code(), StatusCode::kInvalidArgument);
  c.base_url = "https://127.0.0.1:1";
  c.cert_pem = "-----BEGIN CERTIFICATE-----";
  EXPECT_EQ(NewHttpClient(c).status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpClientTest, StreamDeliversPiecesAsTheyArriveAndStopEndsAnIdleStream) {
  // One chunk, then nothing: an idle watch.
  ScriptedServer server(
      [](const std::string&) {
        return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n");
      },
      After::kHold);
  HttpConfig c;
  c.base_url = server.Url();
  auto client = Client(c);
  ASSERT_TRUE(client);
  std::atomic<bool> stop{false};
  std::string got;
  Steady::time_point stop_at{};
  std::thread stopper;
  auto r = client->Stream("/watch", 60s, &stop, [&](std::string_view piece) {
    got.append(piece);
    // Stop from another thread once the first piece is here, as an
    // informer's owner does at shutdown.
    if (stopper.joinable()) return true;
    stopper = std::thread([&] {
      std::this_thread::sleep_for(100ms);
      stop_at = Steady::now();
      stop = true;
    });
    return true;
  });
  auto returned = Steady::now();
  if (stopper.joinable()) stopper.join();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(got, "hello\n");
  // The contract says ~200 ms; the margin is for a loaded CI host.
  EXPECT_LT(returned - stop_at, 1500ms);
}

TEST(HttpClientTest, StreamEndsWhenTheConsumerSaysSoAndReturnsAnErrorBodyWhole) {
  ScriptedServer server([](const std::string& req) {
    if (req.find("/gone") != std::string::npos) return Response(410, R"({"kind":"Status","code":410})");
    return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\na\n\r\n2\r\nb\n\r\n");
  }, After::kHold);
  HttpConfig c;
  c.base_url = server.Url();
  auto client = Client(c);
  ASSERT_TRUE(client);
  int calls = 0;
  auto r = client->Stream("/watch", 60s, nullptr, [&](std::string_view) { return ++calls < 1; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(calls, 1);

  bool delivered = false;
  auto gone = client->Stream("/gone", 60s, nullptr, [&](std::string_view) { return delivered = true; });
  ASSERT_TRUE(gone.ok()) << gone.status().ToString();
  EXPECT_EQ(gone->status, 410);
  EXPECT_EQ(gone->body, R"({"kind":"Status","code":410})");
  EXPECT_FALSE(delivered);
}

TEST(HttpClientTest, StreamCutMidBodyIsUnavailable) {
  // A chunked body that ends without its last chunk: the peer went away.
  ScriptedServer server([](const std::string&) {
    return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\na\n\r\n");
  }, After::kClose);
  HttpConfig c;
  c.base_url = server.Url();
  auto client = Client(c);
  ASSERT_TRUE(client);
  std::string got;
  auto r = client->Stream("/watch", 60s, nullptr, [&](std::string_view p) {
    got.append(p);
    return true;
  });
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << (r.ok() ? "ok" : r.status().ToString());
  EXPECT_EQ(got, "a\n");
}

}  // namespace
}  // namespace execgov::kube
