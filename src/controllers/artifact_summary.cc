#include "controllers/artifact_summary.h"

#include "crypto/jws.h"

namespace execgov::controllers {
namespace {

std::string StringClaim(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  return it != claims.end() && it->is_string() ? it->get<std::string>() : "";
}

int64_t IntClaim(const nlohmann::json& claims, const char* name) {
  auto it = claims.find(name);
  return it != claims.end() && it->is_number() ? it->get<int64_t>() : 0;
}

}  // namespace

std::optional<policy::ArtifactFacts> UnverifiedFacts(const std::string& token) {
  crypto::ParsedJws jws;
  if (crypto::ParseJws(token, &jws).failure != crypto::JwsFailure::kNone || !jws.claims.is_object()) {
    return std::nullopt;
  }
  const nlohmann::json& c = jws.claims;
  policy::ArtifactFacts f;
  f.iss = StringClaim(c, "iss");
  f.sub = StringClaim(c, "sub");
  f.kid = jws.kid;
  f.jti = StringClaim(c, "jti");
  f.parent = StringClaim(c, "parent");
  f.intent = StringClaim(c, "intent");
  f.iat = IntClaim(c, "iat");
  f.exp = IntClaim(c, "exp");
  if (auto scope = c.find("scope"); scope != c.end() && scope->is_object()) {
    f.digest = StringClaim(*scope, "digest");
    f.scope_kind = StringClaim(*scope, "kind");
  }
  return f;
}

nlohmann::json ArtifactRecord(const policy::ArtifactFacts& f) {
  return {{"iss", f.iss}, {"sub", f.sub}, {"kid", f.kid}, {"jti", f.jti}, {"digest", f.digest}};
}

}  // namespace execgov::controllers
