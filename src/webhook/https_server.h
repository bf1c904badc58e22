// The HTTP layer, apart from the decision (controller-runtime's webhook/http.go
// habit): limits, method and content type, decoding, then Handle(). Two
// listeners: the TLS admission port (POST /validate, GET /ping as a trivial
// endpoint for load tests) and the plain ops port (/metrics, /healthz,
// /readyz). Stopping a server (destroying it) closes its connections.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "metrics/metrics.h"
#include "tls/credentials.h"
#include "webhook/admission_handler.h"

namespace execgov::webhook {

// The API server's own request size limit; larger bodies are refused unread.
inline constexpr size_t kMaxBodyBytes = 3u << 20;

class Listener;  // acceptor and I/O threads, hidden from includers

class WebhookServer {
 public:
  // `listen` is HOST:PORT. The credential store must outlive the server.
  static StatusOr<std::unique_ptr<WebhookServer>> Start(const std::string& listen, tls::CredentialStore* credentials,
                                                        AdmissionHandler* handler);
  ~WebhookServer();  // stops accepting and joins the I/O threads

 private:
  WebhookServer() = default;
  std::unique_ptr<Listener> listener_;
};

class OpsServer {
 public:
  static StatusOr<std::unique_ptr<OpsServer>> Start(const std::string& listen, metrics::Metrics* metrics,
                                                    std::function<bool()> ready);
  ~OpsServer();

 private:
  OpsServer() = default;
  std::unique_ptr<Listener> listener_;
};

// Splits "HOST:PORT" (":8443" means all addresses); InvalidArgument otherwise.
StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& listen);

}  // namespace execgov::webhook
