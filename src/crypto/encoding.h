// Byte encodings used on the wire: base64url without padding (JWS, RFC 7515
// §2), standard base64 with padding (RFC 9162 proofs, signed notes), and hex.
// Hand-written rather than OpenSSL's EVP_DecodeBlock because that decoder
// skips whitespace and accepts padding where JWS forbids it; these decoders are
// strict: one alphabet, no whitespace, canonical trailing bits.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace execgov::crypto {

std::string Base64UrlEncode(std::string_view bytes);
// Refuses '=', '+', '/', whitespace, a length of 1 mod 4, and non-zero unused bits.
std::optional<std::string> Base64UrlDecode(std::string_view text);

std::string Base64Encode(std::string_view bytes);
// Standard alphabet, padding required; otherwise as strict as Base64UrlDecode.
std::optional<std::string> Base64Decode(std::string_view text);

std::string HexEncode(std::string_view bytes);
std::optional<std::string> HexDecode(std::string_view text);

}  // namespace execgov::crypto
