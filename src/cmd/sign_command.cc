// execgov sign: authorizes exactly the executions in a manifest. For each
// document it computes the execution-scope digest, signs an artifact bound to
// namespace, kind (and optionally name), digest and the projection version,
// and writes the manifest back with the execgov.io/authorization annotation,
// so that
//   execgov sign ... -f job.yaml | kubectl apply -f -
// works. Jobs also get the annotation on their pod template, which is how the
// Job controller's Pods inherit it.
#include <iostream>

#include "api/execution_scope.h"
#include "api/manifest.h"
#include "api/object.h"
#include "cmd/cli.h"
#include "core/clock.h"
#include "core/file.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"
#include "crypto/keys.h"
#include "crypto/pkcs11.h"
#include "crypto/sha256.h"
#include "policy/decision.h"

namespace execgov::cmd {
namespace {

struct SignOptions {
  std::string key_file, kid, issuer, subject, audience;
  std::string ttl = "10m";
  bool bind_name = false;
  std::string parent, intent, file, ns, issued_at;
  bool artifact_only = false;
};

void SetAnnotation(nlohmann::json* obj, const std::string& value) {
  (*obj)["metadata"]["annotations"][std::string(api::kArtifactAnnotation)] = value;
}

int RunSign(const SignOptions& o) {
  auto ttl = ParseDuration(o.ttl);
  if (!ttl || ttl->count() < 1000) return UsageError("--ttl: \"" + o.ttl + "\" is not a duration of at least 1s such as \"10m\"");
  crypto::Hash unused;
  if (!o.parent.empty() && !crypto::ParseSha256Ref(o.parent, &unused)) {
    return UsageError("--parent: \"" + o.parent + "\" is not a ledger record hash (sha256:<64 hex digits>)");
  }
  if (o.intent.size() > 1024) return UsageError("--intent: longer than 1 KiB");
  int64_t iat = SystemClock::Get().NowUnix();
  if (!o.issued_at.empty()) {
    auto t = ParseRfc3339(o.issued_at);
    if (!t) return UsageError("--issued-at: \"" + o.issued_at + "\" is not an RFC 3339 time");
    iat = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  }
  const int64_t exp = iat + ttl->count() / 1000;  // both far from overflow: ParseDuration caps at 1e15 ms
  if (iat < 0 || exp > policy::kMaxNumericDate) {
    return UsageError("--issued-at/--ttl: the artifact would be valid from " + std::to_string(iat) + " to " +
                      std::to_string(exp) + ", outside the NumericDates execgov accepts (0 to " +
                      std::to_string(policy::kMaxNumericDate) + ")");
  }
  // A pkcs11: URI names a key that signs on its token (crypto/pkcs11.h).
  StatusOr<crypto::PrivateKey> key = InvalidArgument("no key");
  if (crypto::IsPkcs11Uri(o.key_file)) {
    key = crypto::LoadPkcs11Key(o.key_file);
    if (!key.ok()) return UsageError("--key: " + key.status().message());
  } else {
    auto pem = ReadFile(o.key_file, 1 << 20);
    if (!pem.ok()) return UsageError(pem.status().message());
    key = crypto::PrivateKey::FromPem(*pem);
    if (!key.ok()) return UsageError(o.key_file + ": " + key.status().message());
  }
  auto manifests = ReadManifests(o.file);
  if (!manifests.ok()) return UsageError(manifests.status().message());

  std::vector<std::string> artifacts;
  for (size_t i = 0; i < manifests->docs.size(); ++i) {
    auto& doc = manifests->docs[i];
    std::string where = (o.file == "-" ? "<stdin>" : o.file) + ": document " + std::to_string(i + 1);
    std::string kind = api::KindOf(doc);
    if (!api::ParseGovernedKind(kind)) {
      return UsageError(where + ": kind \"" + kind + "\" cannot be signed (only Pod, Job and ExecutionRequest)");
    }
    std::string ns = api::NamespaceOf(doc);
    if (ns.empty()) ns = o.ns;
    if (ns.empty()) return UsageError(where + ": no metadata.namespace; set it or pass --namespace (the artifact binds it)");
    if (api::NamespaceOf(doc).empty()) doc["metadata"]["namespace"] = ns;
    std::string name = api::NameOf(doc);
    if (o.bind_name && name.empty()) return UsageError(where + ": --name needs metadata.name");
    auto digest = api::ExecutionScopeDigest(*api::ParseGovernedKind(kind), doc);
    if (!digest.ok()) return UsageError(where + ": " + digest.status().message());

    // projection: the version of the projection the digest was made with,
    // without which a verifier refuses the artifact.
    nlohmann::json scope = {
        {"namespace", ns}, {"kind", kind}, {"digest", *digest}, {"projection", api::kExecutionScopeProjection}};
    if (o.bind_name) scope["name"] = name;
    nlohmann::json claims = {
        {"iss", o.issuer},
        {"sub", o.subject},
        {"aud", o.audience},
        {"iat", iat},
        {"nbf", iat},
        {"exp", exp},
        {"jti", crypto::Base64UrlEncode(crypto::RandomBytes(16))},
        {"scope", scope},
    };
    if (!o.parent.empty()) claims["parent"] = o.parent;
    if (!o.intent.empty()) claims["intent"] = o.intent;
    auto jws = crypto::SignJws(claims, o.kid, *key);
    if (!jws.ok()) return UsageError(jws.status().message());
    SetAnnotation(&doc, *jws);
    if (kind == "Job" && doc["spec"].is_object() && doc["spec"]["template"].is_object()) {
      SetAnnotation(&doc["spec"]["template"], *jws);
    }
    artifacts.push_back(*jws);
  }
  if (o.artifact_only) {
    for (const auto& a : artifacts) std::cout << a << "\n";
  } else if (manifests->was_json) {
    for (const auto& d : manifests->docs) std::cout << d.dump(2) << "\n";
  } else {
    std::cout << api::EmitYaml(manifests->docs);
  }
  return kExitOk;
}

}  // namespace

void RegisterSign(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<SignOptions>();
  auto* cmd = app.add_subcommand("sign", "Sign an authorization for the executions in a manifest");
  cmd->add_option("--key", o->key_file, "private key file (PKCS#8 PEM) or a pkcs11: URI naming a key on a token")->required();
  cmd->add_option("--kid", o->kid, "key id, as the policy names it")->required();
  cmd->add_option("--issuer", o->issuer, "issuer name (iss)")->required();
  cmd->add_option("--subject", o->subject, "initiator identity (sub)")->required();
  cmd->add_option("--audience", o->audience, "the cluster's identity (aud)")->required();
  cmd->add_option("--ttl", o->ttl, "validity, e.g. 10m")->capture_default_str();
  cmd->add_flag("--name", o->bind_name, "bind the artifact to the object's name too");
  cmd->add_option("--parent", o->parent, "ledger hash of the parent execution's record (sha256:...)");
  cmd->add_option("--intent", o->intent, "human-readable purpose, at most 1 KiB");
  cmd->add_option("-n,--namespace", o->ns, "namespace for documents without metadata.namespace");
  cmd->add_option("--issued-at", o->issued_at, "issue time (RFC 3339) instead of now, for testing");
  cmd->add_option("-f,--filename", o->file, "manifest file, or - for standard input")->required();
  cmd->add_flag("--artifact-only", o->artifact_only, "print only the JWS, one per document");
  cmd->callback([o, exit_code] { *exit_code = RunSign(*o); });
}

}  // namespace execgov::cmd
