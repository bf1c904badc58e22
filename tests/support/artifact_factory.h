// Builders for tests and benchmarks: an authority with a fresh key, policies
// that trust it, governed objects, and artifacts signed for them. Each builder
// returns plain JSON so a test can change any field before use.
#pragma once

#include <string>
#include <vector>

#include "crypto/json.h"
#include "crypto/keys.h"

namespace execgov::testing {

using Json = nlohmann::json;

struct Authority {
  std::string issuer;
  std::string kid;
  crypto::PrivateKey key;

  static Authority Make(crypto::KeyAlgorithm alg = crypto::KeyAlgorithm::kEd25519, std::string issuer = "ops-authority",
                        std::string kid = "ops-1");
  // {kid, algorithm, publicKey}: an entry for spec.issuers[].keys.
  Json PolicyKey() const;
};

// An ExecutionPolicy trusting `authorities` (one issuer each, subjects
// "agent:*"), audience "cluster-a", maxTTL 15m, clockSkew 30s.
Json MakePolicy(const std::string& name, const std::vector<const Authority*>& authorities,
                const std::string& enforcement = "Enforce");

Json MakeJob(const std::string& ns, const std::string& name, const std::string& image = "registry.example.com/tools/rotate:1");
Json MakePod(const std::string& ns, const std::string& name, const std::string& image = "registry.example.com/tools/rotate:1");
Json MakeExecutionRequest(const std::string& ns, const std::string& name,
                          const std::string& image = "registry.example.com/tools/rotate:1");

// Claims authorizing `object` now: iss/kid of `a`, sub "agent:test",
// aud "cluster-a", 10 minute validity, random jti, scope from the object
// (with the projection version this execgov verifies).
Json ClaimsFor(const Json& object, const Authority& a, int64_t now);
std::string Sign(const Json& claims, const Authority& a);
// Signs with an arbitrary header (for refusal tests); the signature is by `a`.
std::string SignWithHeader(const std::string& header_json, const Json& claims, const Authority& a);
// The object with its execgov.io/authorization annotation set.
Json WithArtifact(Json object, const std::string& token);

}  // namespace execgov::testing
