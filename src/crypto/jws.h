// JWS compact serialization (RFC 7515) restricted to what docs/design.md §3.1 allows:
// alg EdDSA (or its RFC 9864 name Ed25519) or ES256, typ execgov-authz+jws, a
// kid, no crit, no keys inside the token, strict JSON. Parsing and signature
// verification are separate steps so that the policy layer can pick the key
// named by kid and report the first failing check in docs/design.md §4.2 order.
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"
#include "crypto/json.h"
#include "crypto/keys.h"

namespace execgov::crypto {

inline constexpr std::string_view kArtifactType = "execgov-authz+jws";

enum class JwsFailure {
  kNone,
  kMalformed,             // structure, encoding, JSON, typ, forbidden header
  kUnsupportedAlgorithm,  // alg outside the allowed set
};

struct ParsedJws {
  Json header;                 // the protected header, a JSON object
  Json claims;                 // the payload, a JSON object
  std::string alg;             // header "alg" as written
  KeyAlgorithm key_algorithm;  // what alg means
  std::string kid;
  std::string_view signing_input;  // "header.payload", a view into the token
  std::string signature;           // decoded signature bytes
};

struct JwsParseResult {
  JwsFailure failure = JwsFailure::kNone;
  std::string message;  // why, when failure != kNone
};

// Parses and checks the header; does not verify the signature. `out` keeps a
// view into `token`, which must outlive it.
JwsParseResult ParseJws(std::string_view token, ParsedJws* out);

// Verifies the signature with `key`. The caller has already checked that the
// key's algorithm is the one the header names.
bool VerifyJwsSignature(const ParsedJws& jws, const PublicKey& key);

// Produces a compact JWS with header {"alg","kid","typ"} over `claims`.
StatusOr<std::string> SignJws(const Json& claims, const std::string& kid, const PrivateKey& key);

}  // namespace execgov::crypto
