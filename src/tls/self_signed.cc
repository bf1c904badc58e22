#include "tls/self_signed.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <filesystem>

#include "core/file.h"
#include "crypto/keys.h"

namespace execgov::tls {
namespace {

std::string PemOf(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

std::string PemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return true;
}

X509* MakeCert(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key, long days, bool ca,
               const std::vector<std::string>& hosts) {
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  std::string serial = crypto::RandomBytes(16);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert), -300);
  X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("execgov"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : cert;
  AddExtension(cert, iss, NID_subject_key_identifier, "hash");
  if (ca) {
    AddExtension(cert, iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    AddExtension(cert, iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    AddExtension(cert, iss, NID_authority_key_identifier, "keyid");
    AddExtension(cert, iss, NID_basic_constraints, "critical,CA:FALSE");
    AddExtension(cert, iss, NID_key_usage, "critical,digitalSignature");
    AddExtension(cert, iss, NID_ext_key_usage, "serverAuth");
    std::string san;
    for (const auto& h : hosts) {
      bool ip = !h.empty() && (std::isdigit(static_cast<unsigned char>(h[0])) || h.find(':') != std::string::npos);
      san += (san.empty() ? "" : ",") + std::string(ip ? "IP:" : "DNS:") + h;
    }
    if (!san.empty()) AddExtension(cert, iss, NID_subject_alt_name, san);
  }
  X509_sign(cert, issuer_key ? issuer_key : key, EVP_sha256());
  return cert;
}

bool StillValid(const std::string& cert_path) {
  auto pem = ReadFile(cert_path, 1 << 20);
  if (!pem.ok()) return false;
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (!cert) return false;
  time_t horizon = time(nullptr) + 86400;
  bool ok = X509_cmp_time(X509_get0_notAfter(cert), &horizon) > 0;
  X509_free(cert);
  return ok;
}

}  // namespace

StatusOr<GeneratedFiles> EnsureSelfSignedCertificates(const std::string& dir, const std::vector<std::string>& hosts) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return InvalidArgument("cannot create " + dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);
  GeneratedFiles files{dir + "/ca.crt", dir + "/tls.crt", dir + "/tls.key", false};
  if (StillValid(files.ca_cert) && StillValid(files.cert) && std::filesystem::exists(files.key)) return files;

  EVP_PKEY* ca_key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!ca_key || !key) return Internal("key generation failed");
  X509* ca = MakeCert(ca_key, "execgov standalone CA", nullptr, nullptr, 365, true, {});
  X509* cert = MakeCert(key, hosts.empty() ? "localhost" : hosts.front(), ca, ca_key, 365, false, hosts);
  std::string ca_pem = PemOf(ca), cert_pem = PemOf(cert), key_pem = PemOf(key);
  X509_free(ca);
  X509_free(cert);
  EVP_PKEY_free(ca_key);  // the CA key is discarded: nothing else is ever signed with it
  EVP_PKEY_free(key);
  EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(files.key, key_pem, 0600));
  EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(files.cert, cert_pem + ca_pem, 0644));
  EXECGOV_RETURN_IF_ERROR(WriteFileAtomic(files.ca_cert, ca_pem, 0644));
  files.created = true;
  return files;
}

}  // namespace execgov::tls
