// Signing keys on a PKCS#11 token (an HSM, SoftHSM2 in the tests), named by
// an RFC 7512 URI, so that the private key never leaves the token: every
// signature is the token's C_Sign (CKM_EDDSA for Ed25519, CKM_ECDSA over our
// SHA-256 for ES256).
//
// Why not libp11 or an OpenSSL provider: Debian bookworm's libp11 (0.4.12,
// and its engine) knows only RSA and EC keys, not the token's EC_EDWARDS
// keys, and bookworm has no pkcs11-provider; Ed25519 is this project's
// default algorithm. The token's own module (the .so the URI names) is loaded
// and spoken to through the OASIS PKCS#11 C API (header from p11-kit).
//
// URI (RFC 7512 §2.3), e.g.
//   pkcs11:token=execgov;object=authority?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin
// Path attributes: token, manufacturer, model, serial (which token: exactly
// one present token must match), object, id (which private key: exactly one
// must match; at least one of the two is required), type (only "private").
// Query attributes: module-path (required), pin-source (required: a file, as
// "file:/path" or "/path", mode 0600/0400/0440/0640, its first line is the
// PIN). pin-value is refused: a PIN on a command line is visible in ps. Any
// other attribute is refused rather than ignored, so a typo cannot select a
// different key. Values are percent-decoded.
//
// The key must be sensitive and not extractable (CKA_SENSITIVE true,
// CKA_EXTRACTABLE false): one that may leave the token is refused. Its public
// half comes from the token's public key object with the same CKA_ID (or
// label); loading signs a random message and verifies it with that public key,
// so a mismatched pair is refused before the first grant.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "crypto/keys.h"

namespace execgov::crypto {

// True when `spec` is a PKCS#11 URI (starts with "pkcs11:").
bool IsPkcs11Uri(std::string_view spec);

struct Pkcs11Uri {
  std::string token, manufacturer, model, serial;  // token selection; empty: any
  std::string object;                              // CKA_LABEL; empty: any
  std::string id;                                  // CKA_ID bytes; empty: any
  std::string module_path;
  std::string pin_file;
};

// Parses and checks `uri` (no file or module is touched).
StatusOr<Pkcs11Uri> ParsePkcs11Uri(std::string_view uri);

// Loads the module, logs in and finds the key; the returned PrivateKey signs
// on the token (PrivateKey::external()). The session stays open for the life
// of the key; one the token dropped (a restarted HSM, a removed token) is
// opened again once per signature before that signature fails.
StatusOr<PrivateKey> LoadPkcs11Key(std::string_view uri);

}  // namespace execgov::crypto
