// A small blocking HTTP(S) client for JSON APIs (the Kubernetes API server,
// etcd's v3 JSON gateway), behind cpprestsdk. It exists so that the
// exceptions cpprestsdk throws stop here and callers see Status values, and
// so that TLS (CA, client certificate, bearer token) is configured once.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/status.h"

namespace execgov::kube {

struct HttpConfig {
  std::string base_url;      // "https://host:port" (a path prefix is allowed)
  std::string ca_pem;        // trust only this CA; empty: the system store
  std::string cert_pem;      // client certificate chain, with key_pem
  std::string key_pem;
  std::string bearer_token;  // sent as Authorization: Bearer
  bool insecure_skip_verify = false;
  std::chrono::milliseconds timeout{10000};
};

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends one request. A transport failure (refused, reset, timeout, TLS) is
  // Unavailable; any HTTP status, 4xx and 5xx included, is a response.
  virtual StatusOr<HttpResponse> Request(const std::string& method, const std::string& path,
                                         const std::string& body = "",
                                         const std::string& content_type = "application/json") = 0;
};

StatusOr<std::unique_ptr<HttpClient>> NewHttpClient(const HttpConfig& config);

}  // namespace execgov::kube
