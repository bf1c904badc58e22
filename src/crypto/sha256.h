// SHA-256 through OpenSSL's EVP interface (the algorithm fetched once).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace execgov::crypto {

using Hash = std::array<uint8_t, 32>;

Hash Sha256(std::string_view data);
// SHA-256 of prefix byte || data, without copying data (RFC 9162 leaf/node hashes).
Hash Sha256Prefixed(uint8_t prefix, std::string_view data);
// SHA-256(0x01 || left || right): an RFC 9162 interior node.
Hash Sha256Node(const Hash& left, const Hash& right);

std::string_view HashBytes(const Hash& h);
// "sha256:<64 lower-case hex digits>".
std::string HashToSha256Ref(const Hash& h);
// Parses "sha256:<hex>"; false on anything else.
bool ParseSha256Ref(std::string_view ref, Hash* out);

}  // namespace execgov::crypto
