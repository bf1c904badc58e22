// What a TLS server presents: used by the operator to see which serving
// certificate each webhook replica has loaded before it stops trusting an old
// CA. The peer is not verified (the point is to read what it serves).
#pragma once

#include <chrono>
#include <string>

#include "core/status.h"

namespace execgov::tls {

// Connects to host:port (TLS 1.2+, SNI `server_name` when not empty) and
// returns the SHA-256 (hex) of the leaf certificate's DER, as
// CertificateFingerprint computes it. Unavailable when the connection or the
// handshake fails or takes longer than `timeout`.
StatusOr<std::string> PeerCertificateFingerprint(const std::string& host, int port, const std::string& server_name,
                                                 std::chrono::milliseconds timeout);

}  // namespace execgov::tls
