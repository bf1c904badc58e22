// A small private CA for webhook serving certificates: create a CA, issue a
// serving certificate from it, and read back what a certificate says (its
// validity, its hosts, who signed it). Keys are ECDSA P-256. Times are Unix
// seconds passed in by the caller, so a FakeClock drives expiry in tests.
// PEM private keys returned here are secrets: never log them.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace execgov::tls {

struct CertificateAndKey {
  std::string cert_pem;  // one certificate
  std::string key_pem;   // its PKCS#8 private key
};

// A self-signed CA certificate (CA:TRUE, pathlen 0, keyCertSign) valid from
// `now` - 5 minutes (clock differences) to `now` + validity.
StatusOr<CertificateAndKey> CreateCertificateAuthority(const std::string& common_name, int64_t now,
                                                       std::chrono::seconds validity);

// A serverAuth certificate for `hosts` (IP addresses and DNS names in
// subjectAltName; the first is the common name), signed by `ca`.
StatusOr<CertificateAndKey> IssueServingCertificate(const CertificateAndKey& ca, const std::vector<std::string>& hosts,
                                                    int64_t now, std::chrono::seconds validity);

struct CertificateInfo {
  int64_t not_before = 0, not_after = 0;  // Unix seconds
  std::string sha256_hex;                 // of the DER: what a TLS peer presents
  std::vector<std::string> hosts;         // subjectAltName DNS names and IP addresses
};

// The first certificate of a PEM string.
StatusOr<CertificateInfo> InspectCertificate(const std::string& pem);
// The SHA-256 (hex) of a DER certificate, as InspectCertificate reports it.
std::string CertificateFingerprint(const std::string& der);
// True when the first certificate of `cert_pem` carries a valid signature by
// the key of the first certificate of `ca_pem`.
bool IsSignedBy(const std::string& cert_pem, const std::string& ca_pem);

}  // namespace execgov::tls
