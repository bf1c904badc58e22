#include "crypto/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>
#include <initializer_list>
#include <string>

#include "crypto/encoding.h"

namespace execgov::crypto {
namespace {

// SHA-256 over the concatenation of `parts`. OpenSSL 3's one-shot SHA256()
// fetches the algorithm from its provider on every call (EVP_Q_digest), which
// cost more than hashing a short record; the algorithm is fetched once here
// and each thread reuses one context.
Hash Digest(std::initializer_list<std::string_view> parts) {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  struct Ctx {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Ctx() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Ctx tl;
  Hash h;
  unsigned int len = 0;
  bool ok = md && tl.ctx && EVP_DigestInit_ex2(tl.ctx, md, nullptr) == 1;
  for (std::string_view p : parts) ok = ok && EVP_DigestUpdate(tl.ctx, p.data(), p.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(tl.ctx, h.data(), &len) == 1 && len == h.size();
  // Only a broken OpenSSL installation gets here; a wrong hash must never
  // stand in for a real one (records, digests and proofs rest on it).
  if (!ok) std::abort();
  return h;
}

}  // namespace

Hash Sha256(std::string_view data) { return Digest({data}); }

Hash Sha256Prefixed(uint8_t prefix, std::string_view data) {
  const char p = static_cast<char>(prefix);
  return Digest({std::string_view(&p, 1), data});
}

Hash Sha256Node(const Hash& left, const Hash& right) {
  const char p = 0x01;
  return Digest({std::string_view(&p, 1), HashBytes(left), HashBytes(right)});
}

std::string_view HashBytes(const Hash& h) { return {reinterpret_cast<const char*>(h.data()), h.size()}; }

std::string HashToSha256Ref(const Hash& h) { return "sha256:" + HexEncode(HashBytes(h)); }

bool ParseSha256Ref(std::string_view ref, Hash* out) {
  constexpr std::string_view kPrefix = "sha256:";
  if (ref.size() != kPrefix.size() + 64 || ref.substr(0, kPrefix.size()) != kPrefix) return false;
  auto hex = ref.substr(kPrefix.size());
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;  // lower-case only
  }
  auto bytes = HexDecode(hex);
  if (!bytes) return false;
  std::copy(bytes->begin(), bytes->end(), out->begin());
  return true;
}

}  // namespace execgov::crypto
