#include "tls/credentials.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <ctime>

#include <vector>

#include "core/file.h"
#include "core/log.h"

namespace execgov::tls {

struct Credentials {
  X509* leaf = nullptr;
  int64_t not_after = 0;  // the leaf's, Unix seconds
  std::vector<X509*> chain;
  EVP_PKEY* key = nullptr;
  X509_STORE* client_ca = nullptr;
  ~Credentials() {
    X509_free(leaf);
    for (X509* c : chain) X509_free(c);
    EVP_PKEY_free(key);
    X509_STORE_free(client_ca);
  }
};

namespace {

std::string Fingerprint(const TlsOptions& o) {
  std::string out;
  for (const std::string* f : {&o.cert_file, &o.key_file, &o.client_ca_file}) {
    struct stat st{};
    if (f->empty()) continue;
    if (::stat(f->c_str(), &st) != 0) return "";
    out += std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ":" + std::to_string(st.st_size) + ";";
  }
  return out;
}

StatusOr<std::shared_ptr<const Credentials>> Load(const TlsOptions& o) {
  auto creds = std::make_shared<Credentials>();
  EXECGOV_ASSIGN_OR_RETURN(std::string cert_pem, ReadFile(o.cert_file, 1 << 20));
  EXECGOV_ASSIGN_OR_RETURN(std::string key_pem, ReadFile(o.key_file, 1 << 20));
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    if (!creds->leaf) creds->leaf = c;
    else creds->chain.push_back(c);
  }
  BIO_free(bio);
  ERR_clear_error();
  if (!creds->leaf) return InvalidArgument(o.cert_file + ": no PEM certificate");
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(creds->leaf), &tm) != 1) {
    ERR_clear_error();
    return InvalidArgument(o.cert_file + ": the certificate's notAfter does not parse");
  }
  creds->not_after = static_cast<int64_t>(timegm(&tm));
  bio = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  creds->key = PEM_read_bio_PrivateKey(bio, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (!creds->key) return InvalidArgument(o.key_file + ": no unencrypted PEM private key");
  if (X509_check_private_key(creds->leaf, creds->key) != 1) {
    ERR_clear_error();
    return InvalidArgument(o.key_file + " does not match the certificate in " + o.cert_file);
  }
  if (!o.client_ca_file.empty()) {
    creds->client_ca = X509_STORE_new();
    if (X509_STORE_load_file(creds->client_ca, o.client_ca_file.c_str()) != 1) {
      ERR_clear_error();
      return InvalidArgument(o.client_ca_file + ": cannot load the client CA");
    }
  }
  return std::shared_ptr<const Credentials>(std::move(creds));
}

}  // namespace

StatusOr<std::unique_ptr<CredentialStore>> CredentialStore::Open(const TlsOptions& options, LoadObserver on_load) {
  std::unique_ptr<CredentialStore> store(new CredentialStore(options));
  store->on_load_ = std::move(on_load);
  store->fingerprint_ = Fingerprint(options);
  EXECGOV_ASSIGN_OR_RETURN(store->current_, Load(options));
  store->last_check_ = std::chrono::steady_clock::now();
  if (store->on_load_) store->on_load_(store->current_->not_after);
  return store;
}

int64_t CredentialStore::not_after() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_->not_after;
}

CredentialStore::~CredentialStore() = default;

int CredentialStore::reloads() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reloads_;
}

Status CredentialStore::MaybeReload() {
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - last_check_ < options_.recheck_interval) return Status::Ok();
    last_check_ = now;
  }
  std::string fp = Fingerprint(options_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (fp.empty() || fp == fingerprint_) return Status::Ok();
  }
  auto loaded = Load(options_);
  std::lock_guard<std::mutex> lock(mu_);
  if (!loaded.ok()) {
    // Probably caught mid-rotation: keep serving the old pair, try again later.
    log::Warn("tls: keeping the previous certificate", {{"error", loaded.status().message()}});
    return Status::Ok();
  }
  current_ = std::move(loaded).value();
  fingerprint_ = fp;
  ++reloads_;
  if (on_load_) on_load_(current_->not_after);
  log::Info("tls: loaded a new serving certificate", {{"cert", options_.cert_file}});
  return Status::Ok();
}

Status CredentialStore::Configure(SSL_CTX* ctx) {
  EXECGOV_RETURN_IF_ERROR(MaybeReload());
  std::shared_ptr<const Credentials> creds;
  {
    std::lock_guard<std::mutex> lock(mu_);
    creds = current_;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate(ctx, creds->leaf) != 1 || SSL_CTX_use_PrivateKey(ctx, creds->key) != 1) {
    ERR_clear_error();
    return Internal("cannot install the serving certificate");
  }
  for (X509* c : creds->chain) SSL_CTX_add1_chain_cert(ctx, c);
  if (creds->client_ca) {
    X509_STORE_up_ref(creds->client_ca);
    SSL_CTX_set_cert_store(ctx, creds->client_ca);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  }
  return Status::Ok();
}

}  // namespace execgov::tls
