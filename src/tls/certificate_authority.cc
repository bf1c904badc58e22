#include "tls/certificate_authority.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include <cctype>
#include <memory>

#include "crypto/encoding.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"

namespace execgov::tls {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

std::string BioString(BIO* bio, bool secret) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  if (secret) OPENSSL_cleanse(data, static_cast<size_t>(len));
  return out;
}

std::string CertPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return BioString(bio.get(), false);
}

std::string KeyPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return BioString(bio.get(), true);
}

X509Ptr ReadCert(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

KeyPtr ReadKey(const std::string& pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return KeyPtr(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
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

bool IsIpAddress(const std::string& host) {
  return !host.empty() && (std::isdigit(static_cast<unsigned char>(host[0])) || host.find(':') != std::string::npos);
}

// A certificate for `key`, signed by issuer/issuer_key (self-signed when
// issuer is null), valid from now - 5 min to now + validity.
StatusOr<X509Ptr> MakeCertificate(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                                  int64_t now, std::chrono::seconds validity, bool ca,
                                  const std::vector<std::string>& hosts) {
  X509Ptr cert(X509_new());
  if (!cert) return Internal("cannot allocate a certificate");
  X509_set_version(cert.get(), 2);
  std::string serial = crypto::RandomBytes(16);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  time_t t = static_cast<time_t>(now);
  X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, -300, &t);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, static_cast<long>(validity.count()), &t);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("execgov"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* iss = issuer ? issuer : cert.get();
  bool ok = AddExtension(cert.get(), iss, NID_subject_key_identifier, "hash");
  if (ca) {
    ok = ok && AddExtension(cert.get(), iss, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
         AddExtension(cert.get(), iss, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = ok && AddExtension(cert.get(), iss, NID_authority_key_identifier, "keyid") &&
         AddExtension(cert.get(), iss, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExtension(cert.get(), iss, NID_key_usage, "critical,digitalSignature") &&
         AddExtension(cert.get(), iss, NID_ext_key_usage, "serverAuth");
    std::string san;
    for (const auto& h : hosts) san += (san.empty() ? "" : ",") + std::string(IsIpAddress(h) ? "IP:" : "DNS:") + h;
    if (!san.empty()) ok = ok && AddExtension(cert.get(), iss, NID_subject_alt_name, san);
  }
  if (!ok) return InvalidArgument("cannot build the certificate for " + cn + " (a host name or address is malformed)");
  if (X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) == 0) return Internal("cannot sign a certificate");
  return cert;
}

int64_t UnixTime(const ASN1_TIME* t) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

}  // namespace

StatusOr<CertificateAndKey> CreateCertificateAuthority(const std::string& common_name, int64_t now,
                                                       std::chrono::seconds validity) {
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Internal("CA key generation failed");
  EXECGOV_ASSIGN_OR_RETURN(X509Ptr cert, MakeCertificate(key.get(), common_name, nullptr, nullptr, now, validity, true, {}));
  return CertificateAndKey{CertPem(cert.get()), KeyPem(key.get())};
}

StatusOr<CertificateAndKey> IssueServingCertificate(const CertificateAndKey& ca, const std::vector<std::string>& hosts,
                                                    int64_t now, std::chrono::seconds validity) {
  X509Ptr ca_cert = ReadCert(ca.cert_pem);
  if (!ca_cert) return InvalidArgument("the CA certificate is not PEM");
  KeyPtr ca_key = ReadKey(ca.key_pem);
  if (!ca_key) return InvalidArgument("the CA key is not PEM");
  if (X509_check_private_key(ca_cert.get(), ca_key.get()) != 1) return InvalidArgument("the CA key does not match its certificate");
  KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) return Internal("serving key generation failed");
  EXECGOV_ASSIGN_OR_RETURN(X509Ptr cert, MakeCertificate(key.get(), hosts.empty() ? "localhost" : hosts.front(),
                                                         ca_cert.get(), ca_key.get(), now, validity, false, hosts));
  return CertificateAndKey{CertPem(cert.get()), KeyPem(key.get())};
}

std::string CertificateFingerprint(const std::string& der) { return crypto::HexEncode(crypto::HashBytes(crypto::Sha256(der))); }

StatusOr<CertificateInfo> InspectCertificate(const std::string& pem) {
  X509Ptr cert = ReadCert(pem);
  if (!cert) return InvalidArgument("not a PEM certificate");
  CertificateInfo info;
  info.not_before = UnixTime(X509_get0_notBefore(cert.get()));
  info.not_after = UnixTime(X509_get0_notAfter(cert.get()));
  unsigned char* der = nullptr;
  int len = i2d_X509(cert.get(), &der);
  if (len <= 0) return Internal("cannot encode the certificate");
  info.sha256_hex = CertificateFingerprint(std::string(reinterpret_cast<char*>(der), static_cast<size_t>(len)));
  OPENSSL_free(der);
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; names && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
    if (n->type == GEN_DNS) {
      info.hosts.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName)),
                              static_cast<size_t>(ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      int size = ASN1_STRING_length(n->d.iPAddress);
      char text[INET6_ADDRSTRLEN] = {};
      if ((size == 4 || size == 16) &&
          inet_ntop(size == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(n->d.iPAddress), text, sizeof text)) {
        info.hosts.emplace_back(text);
      }
    }
  }
  GENERAL_NAMES_free(names);
  return info;
}

bool IsSignedBy(const std::string& cert_pem, const std::string& ca_pem) {
  X509Ptr cert = ReadCert(cert_pem), ca = ReadCert(ca_pem);
  if (!cert || !ca) return false;
  EVP_PKEY* ca_key = X509_get0_pubkey(ca.get());
  return ca_key && X509_verify(cert.get(), ca_key) == 1;
}

}  // namespace execgov::tls
