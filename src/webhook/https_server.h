// The HTTP layer, apart from the decision (controller-runtime's webhook/http.go
// habit): limits, method and content type, decoding, then Handle(). Two
// listeners: the TLS admission port (POST /validate, GET /ping as a trivial
// endpoint for load tests) and the plain ops port (/metrics, /healthz,
// /readyz). Stopping a server (destroying it) closes its connections.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "metrics/metrics.h"
#include "tls/credentials.h"
#include "webhook/admission_handler.h"

namespace execgov::webhook {

// The limits every connection is held to before any work is done
// (docs/webhook.md). Past any of them the request is answered with the
// status named and the connection closed, with nothing more read.
//
// The API server's own request size limit; larger bodies are refused unread
// (413), whether announced by Content-Length or reached by chunks.
inline constexpr size_t kMaxBodyBytes = 3u << 20;
// The request line and header fields (Beast's header_limit): 431.
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;
// Header fields, and header plus trailer fields, in number; the trailer
// fields' bytes count toward kMaxHeaderBytes too: 431. The API server sends
// six headers and no trailers.
inline constexpr size_t kMaxHeaderFields = 64;
// All the chunk extensions of one request together: 400. Nothing here reads
// them (RFC 9112 §7.1.1 lets a server ignore them), so a little is enough.
inline constexpr size_t kMaxChunkExtensionBytes = 1024;
// What is read ahead of the parser per connection: a chunk-size line or a
// trailer section must fit in it whole (Beast finds their end there before
// parsing), so anything longer is a 400. With the body this bounds what a
// connection buffers: kMaxReadBufferBytes + kMaxBodyBytes + one response.
inline constexpr size_t kMaxReadBufferBytes = 64 * 1024;
// Concurrent connections on the admission port by default (--max-connections).
inline constexpr int kDefaultMaxConnections = 1024;
// Descriptors kept out of the connection cap: the ops port's connections
// (kOpsMaxConnections), the ledger, policy files, the API client's sockets.
inline constexpr int kReservedDescriptors = 256;
inline constexpr int kOpsMaxConnections = 64;

// The cap a server applies for `requested` connections: no more than
// RLIMIT_NOFILE's soft limit less kReservedDescriptors (or less a quarter of
// it, when that is fewer) allows, since a full descriptor table makes accept
// fail over and over; at least 1.
int EffectiveMaxConnections(int requested);

class Listener;  // acceptor and I/O threads, hidden from includers

class WebhookServer {
 public:
  // `listen` is HOST:PORT. The credential store and the handler must outlive
  // the server. `io_threads` run every connection's TLS, parsing and
  // decisions; an answer waiting for its ledger record holds none of them, so
  // as many as cores suffice unless the handler itself blocks (the in-cluster
  // replay store's API calls). Past EffectiveMaxConnections(max_connections)
  // open connections, new ones wait in the listen backlog until one closes.
  static StatusOr<std::unique_ptr<WebhookServer>> Start(const std::string& listen, tls::CredentialStore* credentials,
                                                        AdmissionHandler* handler, int io_threads,
                                                        int max_connections = kDefaultMaxConnections);
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

// A small HTTP(S) server for endpoints other than admission (the ledger's
// tiles, the witness): the same limits, deadlines and connection cap as the
// admission port, the answer computed by `handler` on an I/O thread.
struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: the path and any query
  std::string content_type;
  std::string authorization;  // the Authorization field, for handlers that check a bearer token
  std::string cookie;         // the Cookie field
  std::string body;
};
struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields (Cache-Control, ...)
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;
  // `listen` is HOST:PORT; port 0 takes a free port (port() says which).
  // Without credentials the server speaks plain HTTP. A body larger than
  // max_body_bytes (at most kMaxBodyBytes) is refused (413) unread. The
  // handler must be thread-safe (it runs on every I/O thread) and must
  // outlive nothing: the server keeps its own copy.
  static StatusOr<std::unique_ptr<HttpServer>> Start(const std::string& listen, tls::CredentialStore* credentials,
                                                     Handler handler, int io_threads, size_t max_body_bytes,
                                                     int max_connections = kOpsMaxConnections);
  int port() const { return port_; }
  ~HttpServer();

 private:
  HttpServer() = default;
  std::unique_ptr<Listener> listener_;
  int port_ = 0;
};

// Splits "HOST:PORT" (":8443" means all addresses); InvalidArgument otherwise.
StatusOr<std::pair<std::string, int>> ParseListenAddress(const std::string& listen);

}  // namespace execgov::webhook
