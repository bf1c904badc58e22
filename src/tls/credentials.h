// Serving certificates that reload without a restart. The HTTPS server asks
// for the current credentials when it sets up each new connection; the store
// re-reads the files when their modification time or size changes (checked
// at most twice a second). A half-written or mismatched pair is refused and
// the previous one keeps serving, so a rotation never fails a handshake.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "core/status.h"

typedef struct ssl_ctx_st SSL_CTX;

namespace execgov::tls {

struct Credentials;  // parsed certificate chain and private key

struct TlsOptions {
  std::string cert_file;       // PEM: leaf first, then intermediates
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // optional: require client certificates signed by this CA
  // How often the files' modification times are looked at, at most (tests
  // use 0: every new connection).
  std::chrono::milliseconds recheck_interval{500};
};

class CredentialStore {
 public:
  // Told the serving certificate's notAfter (Unix seconds) when the first
  // pair is loaded and after every reload, so an expiry gauge follows a
  // rotation (execgov_tls_certificate_not_after_seconds). Called with the
  // store's lock held: it must not call back into the store.
  using LoadObserver = std::function<void(int64_t not_after)>;

  // Loads the files once; fails if they are unreadable or do not match.
  static StatusOr<std::unique_ptr<CredentialStore>> Open(const TlsOptions& options, LoadObserver on_load = nullptr);
  ~CredentialStore();

  // The notAfter (Unix seconds) of the leaf certificate now served.
  int64_t not_after() const;

  // Configures a fresh server SSL_CTX: TLS 1.2 or newer, the current
  // certificate and key, and client verification when a client CA is set.
  // Reloads the files first if they changed. Never throws.
  Status Configure(SSL_CTX* ctx);

  // How many times new files were loaded after the first (for tests/metrics).
  int reloads() const;

 private:
  explicit CredentialStore(TlsOptions options) : options_(std::move(options)) {}
  Status MaybeReload();

  TlsOptions options_;
  LoadObserver on_load_;
  mutable std::mutex mu_;
  std::shared_ptr<const Credentials> current_;
  std::string fingerprint_;  // mtimes and sizes of the files last loaded
  std::chrono::steady_clock::time_point last_check_{};
  int reloads_ = 0;
};

}  // namespace execgov::tls
