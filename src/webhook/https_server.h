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
  // `listen` is HOST:PORT. The credential store and the handler must outlive
  // the server. `io_threads` run every connection's TLS, parsing and
  // decisions; an answer waiting for its ledger record holds none of them, so
  // as many as cores suffice unless the handler itself blocks (the in-cluster
  // replay store's API calls).
  static StatusOr<std::unique_ptr<WebhookServer>> Start(const std::string& listen, tls::CredentialStore* credentials,
                                                        AdmissionHandler* handler, int io_threads);
  // Stops accepting, answers the requests in flight (up to 10 s), and joins
  // the I/O threads.
  ~WebhookServer();

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
