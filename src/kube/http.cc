#include "kube/http.h"

#include <condition_variable>
#include <mutex>

#include <openssl/crypto.h>

#include <boost/asio/ssl.hpp>
#include <cpprest/http_client.h>

namespace execgov::kube {
namespace {

// cpprestsdk frees its TLS contexts on its own thread pool, which it joins
// from an exit handler. OpenSSL's exit handler, registered after it, runs
// first and destroys the locks those frees take, and the pool thread then
// spins at 100% CPU forever inside SSL_CTX_free: a process that used this
// client could hang at exit (seen in CI, in a test binary's exit). Keeping
// OpenSSL's global state until the process is gone avoids it; the kernel
// reclaims the memory. This runs during static initialisation, before
// anything here has touched OpenSSL, and the first init call decides.
[[maybe_unused]] const int kOpenSslKeptUntilExit = OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr);

namespace http = web::http;
using namespace std::chrono_literals;

http::client::http_client_config MakeConfig(const HttpConfig& c, std::chrono::milliseconds timeout) {
  http::client::http_client_config config;
  config.set_timeout(std::chrono::duration_cast<std::chrono::microseconds>(timeout));
  config.set_validate_certificates(!c.insecure_skip_verify);
  if (!c.ca_pem.empty() || !c.cert_pem.empty()) {
    // Copies, not references: the callback runs on cpprestsdk's threads for
    // every new connection, long after this function returned.
    config.set_ssl_context_callback([ca = c.ca_pem, cert = c.cert_pem, key = c.key_pem](
                                        boost::asio::ssl::context& ctx) {
      if (!ca.empty()) ctx.add_certificate_authority(boost::asio::buffer(ca));
      if (!cert.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(cert));
        ctx.use_private_key(boost::asio::buffer(key), boost::asio::ssl::context::pem);
      }
    });
  }
  return config;
}

// Set once by a task continuation; waited on with a timeout, so a blocked
// read can be abandoned when the caller asks to stop.
class Signal {
 public:
  void Set() {
    std::lock_guard<std::mutex> l(mu_);
    set_ = true;
    cv_.notify_all();
  }
  bool WaitFor(std::chrono::milliseconds d) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, d, [&] { return set_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool set_ = false;
};

// Waits for `task`, polling `stop` every 200 ms. When stop is set `abort`
// runs (it ends the exchange, which completes the task) and false is
// returned once the task has finished, or after a bounded grace period if it
// never does.
template <typename T>
bool WaitOrStop(const pplx::task<T>& task, const std::atomic<bool>* stop, const std::function<void()>& abort) {
  auto done = std::make_shared<Signal>();
  task.then([done](pplx::task<T> t) {
    // Observe a failure here: pplx traps on a faulted task that is
    // destroyed unobserved, which is what an abandoned read becomes.
    try {
      t.wait();
    } catch (...) {
    }
    done->Set();
  });
  while (!done->WaitFor(200ms)) {
    if (stop && stop->load()) {
      abort();
      done->WaitFor(5000ms);
      return false;
    }
  }
  return true;
}

int RetryAfter(const http::http_headers& headers) {
  auto it = headers.find("Retry-After");
  if (it == headers.end()) return -1;
  try {
    size_t used = 0;
    int v = std::stoi(it->second, &used);
    return used == it->second.size() && v >= 0 ? v : -1;
  } catch (const std::exception&) {
    return -1;  // an HTTP date: fall back to our own back-off
  }
}

class CppRestHttpClient final : public HttpClient {
 public:
  CppRestHttpClient(std::unique_ptr<http::client::http_client> client, HttpConfig config)
      : client_(std::move(client)), config_(std::move(config)) {}

  StatusOr<HttpResponse> Request(const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& content_type) override {
    try {
      http::http_request req(method);
      req.set_request_uri(path);
      if (!body.empty()) {
        // Bytes, not a std::string: cpprestsdk opens a string body as a
        // stream of unsigned char over a buffer of char and calls it through
        // the wrong type (UBSan's vptr check, cpprest/streams.h:597). The
        // Content-Type goes first, which set_body then keeps.
        req.headers().set_content_type(content_type);
        req.set_body(std::vector<unsigned char>(body.begin(), body.end()));
      }
      AddHeaders(req);
      http::http_response resp = client_->request(req).get();
      HttpResponse out;
      out.status = resp.status_code();
      out.retry_after_seconds = RetryAfter(resp.headers());
      auto bytes = resp.extract_vector().get();
      out.body.assign(bytes.begin(), bytes.end());
      return out;
    } catch (const std::exception& e) {
      return Unavailable(method + " " + client_->base_uri().to_string() + path + ": " + e.what());
    }
  }

  StatusOr<HttpResponse> Stream(const std::string& path, std::chrono::milliseconds idle_timeout,
                                const std::atomic<bool>* stop,
                                const std::function<bool(std::string_view)>& on_data) override {
    const std::string what = "GET " + config_.base_url + path;
    pplx::cancellation_token_source cts;
    // Cancelling the request makes cpprestsdk close the connection.
    auto cancel = [&] { cts.cancel(); };
    try {
      // A client of its own: the shared one's timeout is sized for short
      // requests, a watch stays open for minutes.
      http::client::http_client client(web::uri(config_.base_url), MakeConfig(config_, idle_timeout));
      http::http_request req(http::methods::GET);
      req.set_request_uri(path);
      AddHeaders(req);
      auto pending = client.request(req, cts.get_token());
      HttpResponse out;
      if (!WaitOrStop(pending, stop, cancel)) return out;  // status 0: stopped
      http::http_response resp = pending.get();
      out.status = resp.status_code();
      out.retry_after_seconds = RetryAfter(resp.headers());
      if (out.status < 200 || out.status > 299) {
        auto bytes = resp.extract_vector();
        if (!WaitOrStop(bytes, stop, cancel)) return out;
        auto v = bytes.get();
        out.body.assign(v.begin(), v.end());
        return out;
      }
      auto sb = resp.body().streambuf();
      // Ending a body being read: close our end of the body buffer first,
      // which completes a pending read cleanly (end of stream), then drop
      // the connection. Cancelling under a pending read instead leaves a
      // failed task inside cpprestsdk that nobody observes, and pplx traps.
      auto end_body = [&] {
        try {
          sb.close().wait();
        } catch (const std::exception&) {
        }
        cts.cancel();
      };
      std::vector<char> buf(64 * 1024);
      while (true) {
        if (stop && stop->load()) {
          end_body();
          return out;
        }
        size_t avail = sb.in_avail();
        if (avail > 0) {
          size_t n = sb.getn(reinterpret_cast<uint8_t*>(buf.data()), std::min(avail, buf.size())).get();
          if (n > 0 && !on_data(std::string_view(buf.data(), n))) {
            end_body();
            return out;
          }
          continue;
        }
        // Blocks until a byte arrives or the body ends, without consuming it.
        auto next = sb.getc();
        if (!WaitOrStop(next, stop, end_body)) return out;
        if (next.get() == concurrency::streams::char_traits<uint8_t>::eof()) break;
      }
      // The end of the body: clean, or a connection that failed mid-stream
      // (content_ready then carries the transport error).
      auto ready = resp.content_ready();
      if (!WaitOrStop(ready, stop, cancel)) return out;
      ready.get();
      return out;
    } catch (const std::exception& e) {
      cts.cancel();
      if (stop && stop->load()) return HttpResponse{};
      return Unavailable(what + ": " + e.what());
    }
  }

 private:
  void AddHeaders(http::http_request& req) const {
    req.headers().add("Accept", "application/json");
    std::string token = config_.bearer_token_source ? config_.bearer_token_source() : config_.bearer_token;
    if (!token.empty()) req.headers().add("Authorization", "Bearer " + token);
    if (!config_.user_agent.empty()) req.headers().add("User-Agent", config_.user_agent);
  }

  std::unique_ptr<http::client::http_client> client_;
  HttpConfig config_;
};

}  // namespace

StatusOr<HttpResponse> HttpClient::Stream(const std::string& path, std::chrono::milliseconds,
                                          const std::atomic<bool>*,
                                          const std::function<bool(std::string_view)>& on_data) {
  EXECGOV_ASSIGN_OR_RETURN(HttpResponse r, Request("GET", path));
  if (r.status >= 200 && r.status <= 299) {
    on_data(r.body);
    r.body.clear();
  }
  return r;
}

StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(const HttpConfig& c) {
  try {
    auto client = std::make_unique<http::client::http_client>(web::uri(c.base_url), MakeConfig(c, c.timeout));
    return std::unique_ptr<HttpClient>(new CppRestHttpClient(std::move(client), c));
  } catch (const std::exception& e) {
    return InvalidArgument("HTTP client for \"" + c.base_url + "\": " + e.what());
  }
}

}  // namespace execgov::kube
