// A small blocking HTTP(S) client for JSON APIs (the Kubernetes API server,
// etcd's v3 JSON gateway), behind libcurl. It exists so that callers see
// Status values whatever the transport does, and so that TLS (CA, client
// certificate, bearer token; TLS 1.2 at least) is configured once. Safe to
// share between threads: concurrent requests each take a pooled keep-alive
// connection.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace execgov::kube {

struct HttpConfig {
  std::string base_url;      // "https://host:port" (a path prefix is allowed)
  std::string ca_pem;        // trust only this CA; empty: the system store
  std::string cert_pem;      // client certificate chain, with key_pem
  std::string key_pem;
  std::string bearer_token;  // sent as Authorization: Bearer
  // When set, asked for the bearer token on every request instead (a token
  // file that is rotated under a running process).
  std::function<std::string()> bearer_token_source;
  bool insecure_skip_verify = false;
  std::chrono::milliseconds timeout{10000};
  std::string user_agent;  // empty: no User-Agent header
};

struct HttpResponse {
  int status = 0;
  std::string body;
  // Seconds from a Retry-After header (429, 503), or -1 when absent.
  int retry_after_seconds = -1;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends one request. A transport failure (refused, reset, timeout, TLS) is
  // Unavailable; any HTTP status, 4xx and 5xx included, is a response.
  virtual StatusOr<HttpResponse> Request(const std::string& method, const std::string& path,
                                         const std::string& body = "",
                                         const std::string& content_type = "application/json") = 0;

  // Sends a GET whose 2xx body is consumed while it arrives (a watch's
  // chunked stream): each piece goes to `on_data` as soon as it is read, and
  // the call returns when the body ends, `on_data` returns false, or `*stop`
  // becomes true (noticed within ~200 ms even while no byte arrives: the
  // connection is cancelled). `idle_timeout` bounds the whole exchange as a
  // safety net against a peer that vanished without closing. A non-2xx body
  // is returned whole in the response instead of streamed. Transport
  // failures, also mid-stream, are Unavailable.
  // The default implementation (for fakes) reads the whole body with
  // Request() and delivers it in one piece.
  virtual StatusOr<HttpResponse> Stream(const std::string& path, std::chrono::milliseconds idle_timeout,
                                        const std::atomic<bool>* stop,
                                        const std::function<bool(std::string_view)>& on_data);
};

StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(const HttpConfig& config);

}  // namespace execgov::kube
