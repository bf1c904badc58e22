// A deliberately low-level HTTPS/1.1 client for tests: it can pin the TLS
// version, send lying headers, stall mid-request and reuse one connection, so
// that tests can reach the server's error paths. Not for production use.
#pragma once

#include <map>
#include <memory>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace execgov::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};

class TlsConnection {
 public:
  // Connects to 127.0.0.1:port and completes a TLS handshake verified against
  // ca_file (empty: no verification). max_version is e.g. TLS1_1_VERSION to
  // force an old protocol; 0 means the library default. Returns null and sets
  // *error when the connection or handshake fails, or the handshake takes
  // longer than handshake_timeout_ms (a server that has not accepted yet).
  static std::unique_ptr<TlsConnection> Connect(int port, const std::string& ca_file, std::string* error,
                                                int max_version = 0, int min_version = 0,
                                                int handshake_timeout_ms = 30000);
  ~TlsConnection();

  bool Send(const std::string& bytes);
  // Reads one response (Content-Length or close-delimited). False on error or
  // when no complete response arrives within timeout_ms.
  bool Read(HttpResponse* out, int timeout_ms = 10000);
  // Convenience: one request with Content-Type application/json.
  bool Post(const std::string& path, const std::string& body, HttpResponse* out);
  // The serving certificate's SHA-256 fingerprint (hex).
  std::string PeerCertificateFingerprint() const;

 private:
  TlsConnection() = default;
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffered_;
};

// A free TCP port on 127.0.0.1 (bound and released; fine for tests).
int FreePort();
// A plain TCP connection to 127.0.0.1:port (blocking); -1 if refused.
int ConnectLoopback(int port);

}  // namespace execgov::testing
