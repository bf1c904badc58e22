// A private CA and a serving certificate for standalone mode, so that
// `execgov serve` works with no certificate given and a real API server can
// trust it through a caBundle. Keys are ECDSA P-256, written mode 0600.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"

namespace execgov::tls {

struct GeneratedFiles {
  std::string ca_cert, cert, key;
  bool created = false;  // false: existing files were reused
};

// Reuses dir/{ca.crt,tls.crt,tls.key} when present and valid for another 24h;
// otherwise creates a CA and a certificate for `hosts` (IP addresses and DNS
// names) signed by it.
StatusOr<GeneratedFiles> EnsureSelfSignedCertificates(const std::string& dir, const std::vector<std::string>& hosts);

}  // namespace execgov::tls
