#include "crypto/jws.h"

#include "crypto/encoding.h"

namespace execgov::crypto {
namespace {

JwsParseResult Malformed(std::string message) { return {JwsFailure::kMalformed, std::move(message)}; }

}  // namespace

JwsParseResult ParseJws(std::string_view token, ParsedJws* out) {
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Malformed("the artifact is not a JWS in compact form (three base64url parts separated by '.')");
  }
  std::string_view h64 = token.substr(0, dot1);
  std::string_view p64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  std::string_view s64 = token.substr(dot2 + 1);
  if (h64.empty() || p64.empty() || s64.empty()) {
    return Malformed("the artifact has an empty header, payload or signature part");
  }
  auto header_bytes = Base64UrlDecode(h64);
  if (!header_bytes) return Malformed("the JWS header is not unpadded base64url");
  auto header = ParseJsonStrict(*header_bytes);
  if (!header.ok()) return Malformed("the JWS header is not valid JSON: " + header.status().message());
  if (!header->is_object()) return Malformed("the JWS header is not a JSON object");
  const Json& h = *header;

  auto typ = h.find("typ");
  if (typ == h.end() || !typ->is_string() || typ->get_ref<const std::string&>() != kArtifactType) {
    return Malformed("the JWS header typ must be \"" + std::string(kArtifactType) + "\"");
  }
  if (h.contains("crit")) return Malformed("the JWS header has a crit parameter, which is not supported");
  for (const char* forbidden : {"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"}) {
    if (h.contains(forbidden)) {
      return Malformed(std::string("the JWS header carries a key reference (") + forbidden +
                       "); keys come only from the ExecutionPolicy");
    }
  }
  if (h.contains("b64") || h.contains("zip")) return Malformed("the JWS header uses b64/zip, which are not supported");
  auto kid = h.find("kid");
  if (kid == h.end() || !kid->is_string() || kid->get_ref<const std::string&>().empty()) {
    return Malformed("the JWS header has no kid naming the signing key");
  }
  auto alg = h.find("alg");
  if (alg == h.end() || !alg->is_string()) return Malformed("the JWS header has no alg");

  auto payload_bytes = Base64UrlDecode(p64);
  if (!payload_bytes) return Malformed("the JWS payload is not unpadded base64url");
  auto claims = ParseJsonStrict(*payload_bytes);
  if (!claims.ok()) return Malformed("the JWS payload is not valid JSON: " + claims.status().message());
  if (!claims->is_object()) return Malformed("the JWS payload is not a JSON object");
  auto sig = Base64UrlDecode(s64);
  if (!sig) return Malformed("the JWS signature is not unpadded base64url");

  const std::string& alg_name = alg->get_ref<const std::string&>();
  if (alg_name == "EdDSA" || alg_name == "Ed25519") {
    out->key_algorithm = KeyAlgorithm::kEd25519;
  } else if (alg_name == "ES256") {
    out->key_algorithm = KeyAlgorithm::kES256;
  } else {
    return {JwsFailure::kUnsupportedAlgorithm,
            "alg \"" + alg_name + "\" is not allowed; only EdDSA (Ed25519) and ES256 are accepted"};
  }
  out->alg = alg_name;
  out->kid = kid->get<std::string>();
  out->header = std::move(header).value();
  out->claims = std::move(claims).value();
  out->signing_input = token.substr(0, dot2);
  out->signature = std::move(*sig);
  return {};
}

bool VerifyJwsSignature(const ParsedJws& jws, const PublicKey& key) {
  if (key.algorithm() != jws.key_algorithm) return false;
  return key.Verify(jws.signing_input, jws.signature);
}

StatusOr<std::string> SignJws(const Json& claims, const std::string& kid, const PrivateKey& key) {
  Json header = {{"alg", JwsAlgorithmName(key.algorithm())}, {"kid", kid}, {"typ", std::string(kArtifactType)}};
  EXECGOV_ASSIGN_OR_RETURN(std::string header_json, Canonicalize(header));
  EXECGOV_ASSIGN_OR_RETURN(std::string claims_json, Canonicalize(claims));
  std::string signing_input = Base64UrlEncode(header_json) + "." + Base64UrlEncode(claims_json);
  EXECGOV_ASSIGN_OR_RETURN(std::string sig, key.Sign(signing_input));
  return signing_input + "." + Base64UrlEncode(sig);
}

}  // namespace execgov::crypto
