// Signing keys, behind OpenSSL 3's EVP API (Ed25519 verification through
// libsodium, which is twice as fast; see PublicKey::Verify). Each key is pinned to exactly one
// algorithm: Ed25519 (JWS "EdDSA") or ECDSA P-256 with SHA-256 (JWS "ES256").
// Keys are immutable after construction and safe to share across threads.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

typedef struct evp_pkey_st EVP_PKEY;
typedef struct evp_md_ctx_st EVP_MD_CTX;
typedef struct evp_pkey_ctx_st EVP_PKEY_CTX;

namespace execgov::crypto {

enum class KeyAlgorithm { kEd25519, kES256 };

// The policy spelling: "Ed25519" or "ES256".
const char* KeyAlgorithmName(KeyAlgorithm alg);
// The JWS "alg" value this project writes: "EdDSA" or "ES256".
const char* JwsAlgorithmName(KeyAlgorithm alg);
// Accepts "Ed25519"/"ed25519"/"EdDSA" and "ES256"/"es256".
std::optional<KeyAlgorithm> ParseKeyAlgorithm(std::string_view name);

class PublicKey {
 public:
  // SubjectPublicKeyInfo PEM or DER. Anything but an Ed25519 or P-256 key is
  // refused with a message naming the key type found, and so is an Ed25519
  // key that is no usable curve point (a small-order point, say), which no
  // signature could verify with.
  static StatusOr<PublicKey> FromPem(std::string_view pem);
  static StatusOr<PublicKey> FromDer(std::string_view der);
  // A raw 32-byte Ed25519 public key (RFC 8032).
  static StatusOr<PublicKey> FromEd25519Raw(std::string_view raw);

  KeyAlgorithm algorithm() const { return alg_; }
  // True only for a valid signature. ES256 signatures are the 64-byte r||s
  // form (RFC 7518 §3.4); any other length is invalid.
  bool Verify(std::string_view message, std::string_view signature) const;
  std::string ToPem() const;
  // Ed25519 only: the 32 raw public key bytes.
  std::string Ed25519Raw() const;

 private:
  friend class PrivateKey;
  // ES256 verification contexts initialised once for this key and reused: OpenSSL 3
  // spends as much on fetching and initialising a context as on an ECDSA
  // verification itself. Shared by copies of the key; thread-safe.
  struct VerifierPool;
  PublicKey(std::shared_ptr<EVP_PKEY> pkey, KeyAlgorithm alg);
  std::shared_ptr<EVP_PKEY> pkey_;
  KeyAlgorithm alg_;
  std::shared_ptr<VerifierPool> pool_;        // ES256 only
  std::array<unsigned char, 32> ed25519_{};  // Ed25519 only: the raw key libsodium verifies with
};

// A private key held elsewhere (a PKCS#11 token: crypto/pkcs11.h) that signs
// on request and never hands the key out. Sign returns what PrivateKey::Sign
// does: 64 bytes, Ed25519's signature or ES256's r||s. Thread-safe.
class ExternalSigner {
 public:
  virtual ~ExternalSigner() = default;
  virtual StatusOr<std::string> Sign(std::string_view message) const = 0;
};

class PrivateKey {
 public:
  static StatusOr<PrivateKey> Generate(KeyAlgorithm alg);
  // A key that `signer` holds, whose public half is `public_key`. The caller
  // has checked that they are a pair (crypto/pkcs11.cc signs and verifies once).
  static PrivateKey FromExternal(std::shared_ptr<const ExternalSigner> signer, const PublicKey& public_key);
  // PKCS#8 PEM (also accepts the traditional "EC PRIVATE KEY" form).
  static StatusOr<PrivateKey> FromPem(std::string_view pem);

  KeyAlgorithm algorithm() const { return alg_; }
  PublicKey Public() const;
  // ES256 signatures come out as 64-byte r||s.
  StatusOr<std::string> Sign(std::string_view message) const;
  // PKCS#8 PEM. The caller must write it only to a file created mode 0600.
  // Empty for an external key, which cannot be exported.
  std::string ToPkcs8Pem() const;
  bool external() const { return external_ != nullptr; }

 private:
  PrivateKey(std::shared_ptr<EVP_PKEY> pkey, KeyAlgorithm alg) : pkey_(std::move(pkey)), alg_(alg) {}
  std::shared_ptr<EVP_PKEY> pkey_;  // for an external key: only its public half
  KeyAlgorithm alg_;
  std::shared_ptr<const ExternalSigner> external_;
};

// Cryptographically secure random bytes (RAND_bytes).
std::string RandomBytes(size_t n);

}  // namespace execgov::crypto
