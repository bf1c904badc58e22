#include "crypto/keys.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "crypto/sha256.h"

namespace execgov::crypto {
namespace {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

std::string OpensslError() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Determines which of our two algorithms a key is for, or explains why none.
StatusOr<KeyAlgorithm> Classify(EVP_PKEY* pkey) {
  if (EVP_PKEY_is_a(pkey, "ED25519")) return KeyAlgorithm::kEd25519;
  if (EVP_PKEY_is_a(pkey, "EC")) {
    char group[64] = {0};
    size_t len = 0;
    if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &len) == 1 &&
        (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0)) {
      return KeyAlgorithm::kES256;
    }
    return InvalidArgument(std::string("EC key on curve ") + (group[0] ? group : "?") +
                           " is not supported (only P-256 for ES256)");
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  return InvalidArgument(std::string("key type ") + (type ? type : "unknown") +
                         " is not supported (only Ed25519 and P-256)");
}

// sodium_init is idempotent and thread-safe; it picks the CPU's fastest
// implementations. -1 means libsodium cannot be used (no entropy source):
// verification then fails closed.
bool SodiumReady() {
  static const bool ready = sodium_init() >= 0;
  return ready;
}

// An Ed25519 key no signature could ever verify with: not a canonical
// encoding of a point in the curve's prime-order subgroup (a small-order
// point, say). Refused when the key is loaded, with a message, rather than
// failing every artifact later with InvalidSignature.
Status CheckEd25519Point(std::string_view raw) {
  if (!SodiumReady()) return Internal("libsodium cannot be initialised");
  if (raw.size() != crypto_core_ed25519_BYTES ||
      crypto_core_ed25519_is_valid_point(reinterpret_cast<const unsigned char*>(raw.data())) != 1) {
    return InvalidArgument(
        "the Ed25519 public key is not a usable curve point (small order, outside the prime-order subgroup, or "
        "not canonically encoded): no signature can verify with it");
  }
  return Status::Ok();
}

StatusOr<KeyAlgorithm> ClassifyUsable(EVP_PKEY* pkey) {
  EXECGOV_ASSIGN_OR_RETURN(KeyAlgorithm alg, Classify(pkey));
  if (alg == KeyAlgorithm::kEd25519) {
    unsigned char raw[32];
    size_t len = sizeof raw;
    if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1) {
      ERR_clear_error();
      return InvalidArgument("cannot read the Ed25519 public key");
    }
    EXECGOV_RETURN_IF_ERROR(CheckEd25519Point(std::string_view(reinterpret_cast<const char*>(raw), len)));
  }
  return alg;
}

// r||s (32+32 bytes) -> DER ECDSA-Sig-Value (SEQUENCE of two INTEGERs),
// written directly: at most 72 bytes, no bignum allocations on the hot path.
bool RawToDer(std::string_view raw, std::string* der) {
  if (raw.size() != 64) return false;
  auto integer = [](const unsigned char* p) {
    size_t i = 0;
    while (i < 31 && p[i] == 0) ++i;  // minimal encoding keeps at least one byte
    std::string out;
    out += '\x02';
    bool pad = p[i] & 0x80;  // a set high bit would read as negative
    out += static_cast<char>(32 - i + (pad ? 1 : 0));
    if (pad) out += '\0';
    out.append(reinterpret_cast<const char*>(p + i), 32 - i);
    return out;
  };
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::string body = integer(bytes) + integer(bytes + 32);
  der->clear();
  *der += '\x30';
  *der += static_cast<char>(body.size());
  *der += body;
  return true;
}

bool DerToRaw(std::string_view der, std::string* raw) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  if (!sig) return false;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  unsigned char buf[64];
  bool ok = BN_bn2binpad(r, buf, 32) == 32 && BN_bn2binpad(s, buf + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (ok) raw->assign(reinterpret_cast<char*>(buf), 64);
  return ok;
}

}  // namespace

const char* KeyAlgorithmName(KeyAlgorithm alg) { return alg == KeyAlgorithm::kEd25519 ? "Ed25519" : "ES256"; }
const char* JwsAlgorithmName(KeyAlgorithm alg) { return alg == KeyAlgorithm::kEd25519 ? "EdDSA" : "ES256"; }

std::optional<KeyAlgorithm> ParseKeyAlgorithm(std::string_view name) {
  if (name == "Ed25519" || name == "ed25519" || name == "EdDSA") return KeyAlgorithm::kEd25519;
  if (name == "ES256" || name == "es256") return KeyAlgorithm::kES256;
  return std::nullopt;
}

StatusOr<PublicKey> PublicKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("BIO_new_mem_buf failed");
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (!raw) {
    ERR_clear_error();
    return InvalidArgument("not a PEM public key (expected -----BEGIN PUBLIC KEY-----, SubjectPublicKeyInfo)");
  }
  std::shared_ptr<EVP_PKEY> pkey(raw, PkeyDeleter());
  EXECGOV_ASSIGN_OR_RETURN(KeyAlgorithm alg, ClassifyUsable(raw));
  return PublicKey(std::move(pkey), alg);
}

StatusOr<PublicKey> PublicKey::FromDer(std::string_view der) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (!raw) {
    ERR_clear_error();
    return InvalidArgument("not a DER SubjectPublicKeyInfo");
  }
  std::shared_ptr<EVP_PKEY> pkey(raw, PkeyDeleter());
  EXECGOV_ASSIGN_OR_RETURN(KeyAlgorithm alg, ClassifyUsable(raw));
  return PublicKey(std::move(pkey), alg);
}

StatusOr<PublicKey> PublicKey::FromEd25519Raw(std::string_view raw) {
  if (raw.size() != 32) return InvalidArgument("an Ed25519 public key is 32 bytes");
  EXECGOV_RETURN_IF_ERROR(CheckEd25519Point(raw));
  EVP_PKEY* k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                            reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (!k) return InvalidArgument("invalid Ed25519 public key: " + OpensslError());
  return PublicKey(std::shared_ptr<EVP_PKEY>(k, PkeyDeleter()), KeyAlgorithm::kEd25519);
}

struct PublicKey::VerifierPool {
  std::mutex mu;
  std::vector<EVP_PKEY_CTX*> pkey_ctxs;  // ES256: EVP_PKEY_verify over our SHA-256
  ~VerifierPool() {
    for (auto* c : pkey_ctxs) EVP_PKEY_CTX_free(c);
  }
};

PublicKey::PublicKey(std::shared_ptr<EVP_PKEY> pkey, KeyAlgorithm alg)
    : pkey_(std::move(pkey)), alg_(alg), pool_(std::make_shared<VerifierPool>()) {
  if (alg_ == KeyAlgorithm::kEd25519) {
    size_t len = ed25519_.size();
    // Cannot fail for a key Classify called Ed25519; a zero key (which
    // libsodium refuses as small-order) would only ever fail to verify.
    if (EVP_PKEY_get_raw_public_key(pkey_.get(), ed25519_.data(), &len) != 1 || len != ed25519_.size()) {
      ed25519_.fill(0);
      ERR_clear_error();
    }
  }
}

bool PublicKey::Verify(std::string_view message, std::string_view signature) const {
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  bool ok = false;
  if (alg_ == KeyAlgorithm::kEd25519) {
    // libsodium rather than OpenSSL's EVP_DigestVerify: the same RFC 8032
    // check (and stricter: it also refuses small-order R and keys, and
    // non-canonical S), at about twice the speed on the machines measured
    // (bench/crypto), and verification is most of a fresh admission's CPU.
    if (signature.size() != crypto_sign_BYTES || !SodiumReady()) return false;
    return crypto_sign_verify_detached(sig, msg, message.size(), ed25519_.data()) == 0;
  } else {
    std::string der;
    if (!RawToDer(signature, &der)) return false;
    Hash digest = Sha256(message);
    EVP_PKEY_CTX* ctx = nullptr;
    {
      std::lock_guard<std::mutex> lock(pool_->mu);
      if (!pool_->pkey_ctxs.empty()) {
        ctx = pool_->pkey_ctxs.back();
        pool_->pkey_ctxs.pop_back();
      }
    }
    if (!ctx) {
      ctx = EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr);
      if (!ctx || EVP_PKEY_verify_init(ctx) != 1) {
        EVP_PKEY_CTX_free(ctx);
        ERR_clear_error();
        return false;
      }
    }
    ok = EVP_PKEY_verify(ctx, reinterpret_cast<const unsigned char*>(der.data()), der.size(), digest.data(),
                         digest.size()) == 1;
    if (ok) {
      std::lock_guard<std::mutex> lock(pool_->mu);
      pool_->pkey_ctxs.push_back(ctx);
    } else {
      EVP_PKEY_CTX_free(ctx);
    }
  }
  if (!ok) ERR_clear_error();
  return ok;
}

std::string PublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PUBKEY(bio.get(), pkey_.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

std::string PublicKey::Ed25519Raw() const {
  unsigned char buf[32];
  size_t len = sizeof buf;
  if (alg_ != KeyAlgorithm::kEd25519 || EVP_PKEY_get_raw_public_key(pkey_.get(), buf, &len) != 1) return "";
  return std::string(reinterpret_cast<char*>(buf), len);
}

StatusOr<PrivateKey> PrivateKey::Generate(KeyAlgorithm alg) {
  EVP_PKEY* k = alg == KeyAlgorithm::kEd25519 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")
                                              : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (!k) return Internal("key generation failed: " + OpensslError());
  return PrivateKey(std::shared_ptr<EVP_PKEY>(k, PkeyDeleter()), alg);
}

StatusOr<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return Internal("BIO_new_mem_buf failed");
  // An empty passphrase callback result makes encrypted keys fail instead of prompting.
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (!raw) {
    ERR_clear_error();
    return InvalidArgument("not an unencrypted PEM private key (expected PKCS#8 -----BEGIN PRIVATE KEY-----)");
  }
  std::shared_ptr<EVP_PKEY> pkey(raw, PkeyDeleter());
  EXECGOV_ASSIGN_OR_RETURN(KeyAlgorithm alg, Classify(raw));
  return PrivateKey(std::move(pkey), alg);
}

PrivateKey PrivateKey::FromExternal(std::shared_ptr<const ExternalSigner> signer, const PublicKey& public_key) {
  PrivateKey key(public_key.pkey_, public_key.algorithm());
  key.external_ = std::move(signer);
  return key;
}

PublicKey PrivateKey::Public() const {
  // Round-trip through SPKI DER so the public object holds no private material.
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(pkey_.get(), &der);
  const unsigned char* p = der;
  EVP_PKEY* pub = d2i_PUBKEY(nullptr, &p, len);
  OPENSSL_free(der);
  return PublicKey(std::shared_ptr<EVP_PKEY>(pub, PkeyDeleter()), alg_);
}

StatusOr<std::string> PrivateKey::Sign(std::string_view message) const {
  if (external_) return external_->Sign(message);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return Internal("EVP_MD_CTX_new failed");
  const char* md = alg_ == KeyAlgorithm::kEd25519 ? nullptr : "SHA256";
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, md, nullptr, nullptr, pkey_.get(), nullptr) != 1) {
    return Internal("signing setup failed: " + OpensslError());
  }
  size_t len = 0;
  const auto* msg = reinterpret_cast<const unsigned char*>(message.data());
  if (EVP_DigestSign(ctx.get(), nullptr, &len, msg, message.size()) != 1) return Internal("signing failed: " + OpensslError());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, msg, message.size()) != 1) {
    return Internal("signing failed: " + OpensslError());
  }
  sig.resize(len);
  if (alg_ == KeyAlgorithm::kEd25519) return sig;
  std::string raw;
  if (!DerToRaw(sig, &raw)) return Internal("could not convert the ECDSA signature to r||s");
  return raw;
}

std::string PrivateKey::ToPkcs8Pem() const {
  if (external_) return "";
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string out(data, static_cast<size_t>(len));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return out;
}

std::string RandomBytes(size_t n) {
  std::string out(n, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) std::abort();
  return out;
}

}  // namespace execgov::crypto
