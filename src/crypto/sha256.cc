#include "crypto/sha256.h"

#include <openssl/sha.h>

#include <string>

#include "crypto/encoding.h"

namespace execgov::crypto {

Hash Sha256(std::string_view data) {
  Hash h;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), h.data());
  return h;
}

Hash Sha256Prefixed(uint8_t prefix, std::string_view data) {
  // SHA256() is OpenSSL's one-shot without a provider fetch per call; the
  // streaming SHA256_* calls are deprecated in OpenSSL 3, so copy once instead.
  thread_local std::string buf;
  buf.assign(1, static_cast<char>(prefix));
  buf.append(data);
  Hash h;
  SHA256(reinterpret_cast<const unsigned char*>(buf.data()), buf.size(), h.data());
  return h;
}

Hash Sha256Node(const Hash& left, const Hash& right) {
  unsigned char buf[65];
  buf[0] = 0x01;
  std::copy(left.begin(), left.end(), buf + 1);
  std::copy(right.begin(), right.end(), buf + 33);
  Hash h;
  SHA256(buf, sizeof buf, h.data());
  return h;
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
