#include "support/artifact_factory.h"

#include "api/execution_scope.h"
#include "api/object.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"
#include "policy/decision.h"

namespace execgov::testing {

Authority Authority::Make(crypto::KeyAlgorithm alg, std::string issuer, std::string kid) {
  return Authority{std::move(issuer), std::move(kid), *crypto::PrivateKey::Generate(alg)};
}

Json Authority::PolicyKey() const {
  return {{"kid", kid}, {"algorithm", crypto::KeyAlgorithmName(key.algorithm())}, {"publicKey", key.Public().ToPem()}};
}

Json MakePolicy(const std::string& name, const std::vector<const Authority*>& authorities, const std::string& enforcement) {
  Json issuers = Json::array();
  for (const Authority* a : authorities) {
    issuers.push_back({{"name", a->issuer}, {"subjects", {"agent:*"}}, {"keys", {a->PolicyKey()}}});
  }
  return {{"apiVersion", "execgov.io/v1alpha1"},
          {"kind", "ExecutionPolicy"},
          {"metadata", {{"name", name}, {"generation", 1}}},
          {"spec",
           {{"enforcement", enforcement},
            {"audience", "cluster-a"},
            {"maxTTL", "15m"},
            {"clockSkew", "30s"},
            {"match", {{"kinds", {"Pod", "Job", "ExecutionRequest"}}}},
            {"issuers", issuers},
            {"trustedControllers",
             {"system:serviceaccount:kube-system:job-controller", "system:serviceaccount:execgov-system:execgov-operator"}}}}};
}

namespace {
Json PodSpec(const std::string& image) {
  return {{"restartPolicy", "Never"},
          {"containers", {{{"name", "main"}, {"image", image}, {"command", {"/run"}}, {"args", {"--once"}}}}}};
}
}  // namespace

Json MakePod(const std::string& ns, const std::string& name, const std::string& image) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-pod-" + name}}},
          {"spec", PodSpec(image)}};
}

Json MakeJob(const std::string& ns, const std::string& name, const std::string& image) {
  return {{"apiVersion", "batch/v1"},
          {"kind", "Job"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-job-" + name}}},
          {"spec", {{"template", {{"spec", PodSpec(image)}}}}}};
}

Json MakeExecutionRequest(const std::string& ns, const std::string& name, const std::string& image) {
  return {{"apiVersion", "execgov.io/v1alpha1"},
          {"kind", "ExecutionRequest"},
          {"metadata", {{"name", name}, {"namespace", ns}, {"uid", "uid-ereq-" + name}}},
          {"spec",
           {{"initiator", "agent:test"},
            {"intent", "test"},
            {"template", {{"spec", {{"template", {{"spec", PodSpec(image)}}}}}}}}}};
}

Json ClaimsFor(const Json& object, const Authority& a, int64_t now) {
  return {{"iss", a.issuer},
          {"sub", "agent:test"},
          {"aud", "cluster-a"},
          {"iat", now},
          {"nbf", now},
          {"exp", now + 600},
          {"jti", crypto::Base64UrlEncode(crypto::RandomBytes(16))},
          {"scope",
           {{"namespace", api::NamespaceOf(object)},
            {"kind", api::KindOf(object)},
            {"digest", *api::ExecutionScopeDigest(object)},
            {"projection", api::kExecutionScopeProjection}}}};
}

std::string Sign(const Json& claims, const Authority& a) { return *crypto::SignJws(claims, a.kid, a.key); }

std::string SignWithHeader(const std::string& header_json, const Json& claims, const Authority& a) {
  std::string input = crypto::Base64UrlEncode(header_json) + "." + crypto::Base64UrlEncode(claims.dump());
  return input + "." + crypto::Base64UrlEncode(*a.key.Sign(input));
}

Json WithArtifact(Json object, const std::string& token) {
  object["metadata"]["annotations"][std::string(api::kArtifactAnnotation)] = token;
  return object;
}

}  // namespace execgov::testing
