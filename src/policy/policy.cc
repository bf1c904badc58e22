#include "policy/policy.h"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>

#include "api/manifest.h"
#include "api/object.h"
#include "core/clock.h"
#include "core/file.h"
#include "core/json_string.h"
#include "policy/glob.h"

namespace execgov::policy {
namespace {

Status FieldError(const std::string& field, const std::string& why) { return InvalidArgument(field + ": " + why); }

Status CheckKnownFields(const Json& obj, const std::string& field, std::initializer_list<const char*> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find_if(known.begin(), known.end(), [&](const char* k) { return it.key() == k; }) == known.end()) {
      return FieldError(field + "." + it.key(), "unknown field");
    }
  }
  return Status::Ok();
}

StatusOr<std::vector<std::string>> StringList(const Json& obj, const char* key, const std::string& field) {
  std::vector<std::string> out;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return out;
  if (!it->is_array()) return FieldError(field + "." + key, "must be a list of strings");
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) return FieldError(field + "." + key + "[" + std::to_string(i) + "]", "must be a string");
    out.push_back((*it)[i].get<std::string>());
  }
  return out;
}

StatusOr<std::string> OptString(const Json& obj, const char* key, const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::string();
  if (!it->is_string()) return FieldError(field + "." + key, "must be a string");
  return it->get<std::string>();
}

StatusOr<bool> OptBool(const Json& obj, const char* key, const std::string& field) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_boolean()) return FieldError(field + "." + key, "must be true or false");
  return it->get<bool>();
}

StatusOr<int64_t> DurationField(const Json& spec, const char* key, const char* fallback, int64_t max_seconds) {
  std::string field = std::string("spec.") + key;
  std::string text = fallback;
  if (spec.contains(key) && !spec[key].is_null()) {
    if (!spec[key].is_string()) return FieldError(field, "must be a duration such as \"15m\"");
    text = spec[key].get<std::string>();
  }
  auto d = ParseDuration(text);
  if (!d) return FieldError(field, "\"" + text + "\" is not a duration such as \"15m\", \"30s\" or \"1h\"");
  int64_t secs = d->count() / 1000;
  if (secs > max_seconds) {
    return FieldError(field, text + " is longer than " + FormatDuration(std::chrono::seconds(max_seconds)) +
                                 ", the most execgov allows (" + std::to_string(max_seconds) + "s)");
  }
  return secs;
}

StatusOr<TrustedKey> CompileKey(const Json& k, const std::string& field, const KeyRefResolver& resolver) {
  if (!k.is_object()) return FieldError(field, "must be an object");
  EXECGOV_RETURN_IF_ERROR(CheckKnownFields(k, field, {"kid", "algorithm", "publicKey", "publicKeyRef", "notAfter"}));
  EXECGOV_ASSIGN_OR_RETURN(std::string kid, OptString(k, "kid", field));
  if (kid.empty()) return FieldError(field + ".kid", "is required");
  EXECGOV_ASSIGN_OR_RETURN(std::string alg, OptString(k, "algorithm", field));
  auto parsed = alg == "Ed25519" ? std::optional(crypto::KeyAlgorithm::kEd25519)
                : alg == "ES256" ? std::optional(crypto::KeyAlgorithm::kES256)
                                 : std::nullopt;
  if (!parsed) return FieldError(field + ".algorithm", "\"" + alg + "\" is not Ed25519 or ES256");
  bool inline_key = k.contains("publicKey") && !k["publicKey"].is_null();
  bool ref_key = k.contains("publicKeyRef") && !k["publicKeyRef"].is_null();
  if (inline_key == ref_key) return FieldError(field, "exactly one of publicKey and publicKeyRef must be set");
  std::string pem;
  if (inline_key) {
    if (!k["publicKey"].is_string()) return FieldError(field + ".publicKey", "must be a PEM string");
    pem = k["publicKey"].get<std::string>();
  } else {
    const Json& ref = k["publicKeyRef"];
    if (!ref.is_object()) return FieldError(field + ".publicKeyRef", "must be an object");
    EXECGOV_RETURN_IF_ERROR(CheckKnownFields(ref, field + ".publicKeyRef", {"kind", "namespace", "name", "key"}));
    std::string kind = ref.value("kind", "");
    if (kind != "Secret" && kind != "ConfigMap") return FieldError(field + ".publicKeyRef.kind", "must be Secret or ConfigMap");
    for (const char* req : {"namespace", "name", "key"}) {
      if (!ref.contains(req) || !ref[req].is_string() || ref[req].get<std::string>().empty())
        return FieldError(field + ".publicKeyRef." + req, "is required");
    }
    if (!resolver) return FieldError(field + ".publicKeyRef", "needs a cluster to resolve; use publicKey in policy files");
    auto resolved = resolver(ref);
    if (!resolved.ok()) return FieldError(field + ".publicKeyRef", resolved.status().message());
    pem = std::move(resolved).value();
  }
  auto key = crypto::PublicKey::FromPem(pem);
  if (!key.ok()) return FieldError(field + (inline_key ? ".publicKey" : ".publicKeyRef"), key.status().message());
  if (key->algorithm() != *parsed) {
    return FieldError(field + ".algorithm", std::string("is ") + crypto::KeyAlgorithmName(*parsed) +
                                                " but the public key is " + crypto::KeyAlgorithmName(key->algorithm()));
  }
  EXECGOV_ASSIGN_OR_RETURN(std::string not_after_text, OptString(k, "notAfter", field));
  std::optional<int64_t> not_after;
  if (!not_after_text.empty()) {
    auto t = ParseRfc3339(not_after_text);
    if (!t) return FieldError(field + ".notAfter", "\"" + not_after_text + "\" is not an RFC 3339 time");
    not_after = std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  }
  return TrustedKey{kid, *parsed, std::move(key).value(), not_after};
}

// spec.authorization: {allowPendingRequests, initiatorMappings: [{user, initiators}], relayUsers}.
// Bounded as the CRD bounds it (64 mappings of 16 names, 16 relay users, each 1..253 bytes).
Status CompileAuthorization(const Json& spec, CompiledPolicy* p) {
  auto it = spec.find("authorization");
  if (it == spec.end() || it->is_null()) return Status::Ok();
  const Json& au = *it;
  if (!au.is_object()) return FieldError("spec.authorization", "must be an object");
  EXECGOV_RETURN_IF_ERROR(
      CheckKnownFields(au, "spec.authorization", {"allowPendingRequests", "initiatorMappings", "relayUsers"}));
  EXECGOV_ASSIGN_OR_RETURN(p->allow_pending_requests, OptBool(au, "allowPendingRequests", "spec.authorization"));
  auto bounded_name = [](const std::string& v) { return !v.empty() && v.size() <= 253; };
  EXECGOV_ASSIGN_OR_RETURN(std::vector<std::string> relays, StringList(au, "relayUsers", "spec.authorization"));
  if (relays.size() > 16) return FieldError("spec.authorization.relayUsers", "lists more than 16 users");
  for (const auto& user : relays) {
    if (!bounded_name(user)) return FieldError("spec.authorization.relayUsers", "each must be a name of 1 to 253 characters");
  }
  p->relay_users.insert(relays.begin(), relays.end());
  auto maps = au.find("initiatorMappings");
  if (maps == au.end() || maps->is_null()) return Status::Ok();
  if (!maps->is_array()) return FieldError("spec.authorization.initiatorMappings", "must be a list");
  if (maps->size() > 64) return FieldError("spec.authorization.initiatorMappings", "lists more than 64 mappings");
  for (size_t i = 0; i < maps->size(); ++i) {
    const Json& m = (*maps)[i];
    const std::string field = "spec.authorization.initiatorMappings[" + std::to_string(i) + "]";
    if (!m.is_object()) return FieldError(field, "must be an object");
    EXECGOV_RETURN_IF_ERROR(CheckKnownFields(m, field, {"user", "initiators"}));
    EXECGOV_ASSIGN_OR_RETURN(std::string user, OptString(m, "user", field));
    if (!bounded_name(user)) return FieldError(field + ".user", "must be a user name of 1 to 253 characters");
    if (p->initiator_mappings.count(user)) return FieldError(field + ".user", "\"" + user + "\" is mapped twice");
    EXECGOV_ASSIGN_OR_RETURN(std::vector<std::string> initiators, StringList(m, "initiators", field));
    if (initiators.empty() || initiators.size() > 16) {
      return FieldError(field + ".initiators", "must list 1 to 16 initiators");
    }
    for (const auto& name : initiators) {
      if (!bounded_name(name)) return FieldError(field + ".initiators", "each must be a name of 1 to 253 characters");
    }
    p->initiator_mappings[user].insert(initiators.begin(), initiators.end());
  }
  return Status::Ok();
}

}  // namespace

const char* EnforcementName(Enforcement e) {
  switch (e) {
    case Enforcement::kEnforce: return "Enforce";
    case Enforcement::kWarn: return "Warn";
    case Enforcement::kAudit: return "Audit";
  }
  return "Enforce";
}

size_t CompiledPolicy::KeyCount() const {
  size_t n = 0;
  for (const auto& i : issuers) n += i.keys.size();
  return n;
}

std::string CompiledPolicy::Summary() const {
  size_t keys = KeyCount();
  return std::to_string(issuers.size()) + (issuers.size() == 1 ? " issuer, " : " issuers, ") + std::to_string(keys) +
         (keys == 1 ? " key" : " keys");
}


StatusOr<std::shared_ptr<const CompiledPolicy>> CompilePolicy(const Json& obj, const KeyRefResolver& resolver) {
  auto p = std::make_shared<CompiledPolicy>();
  if (!obj.is_object()) return InvalidArgument("an ExecutionPolicy must be an object");
  p->name = api::NameOf(obj);
  std::string prefix = "ExecutionPolicy " + (p->name.empty() ? std::string("<unnamed>") : p->name) + ": ";
  auto wrap = [&](const Status& st) { return InvalidArgument(prefix + st.message()); };

  if (api::StringAt(obj, {"apiVersion"}) != api::kApiVersion) {
    return wrap(FieldError("apiVersion", "must be " + std::string(api::kApiVersion)));
  }
  if (api::KindOf(obj) != "ExecutionPolicy") return wrap(FieldError("kind", "must be ExecutionPolicy"));
  if (p->name.empty()) return wrap(FieldError("metadata.name", "is required"));
  // The API server refuses such a name; a standalone policy file must too,
  // so a file that loads here also applies with kubectl.
  if (!api::IsDns1123Subdomain(p->name)) {
    std::string quoted;  // the name as a JSON string: it may hold anything
    AppendJsonStringReplacingInvalid(p->name, &quoted);
    return InvalidArgument("ExecutionPolicy: metadata.name: " + quoted +
                           " is not a valid name (lowercase letters, digits, '-' and '.', starting and ending " +
                           "with a letter or digit, at most 253 characters)");
  }
  if (obj["metadata"].contains("generation") && obj["metadata"]["generation"].is_number_integer()) {
    p->generation = obj["metadata"]["generation"].get<int64_t>();
  }
  if (!obj.contains("spec") || !obj["spec"].is_object()) return wrap(FieldError("spec", "is required"));
  const Json& spec = obj["spec"];
  Status st = CheckKnownFields(spec, "spec",
                               {"enforcement", "audience", "maxTTL", "clockSkew", "match", "issuers",
                                "trustedControllers", "bindRequester", "images", "revocations", "authorization", "runtime"});
  if (!st.ok()) return wrap(st);

  auto enforcement = OptString(spec, "enforcement", "spec");
  if (!enforcement.ok()) return wrap(enforcement.status());
  if (enforcement->empty() || *enforcement == "Enforce") p->enforcement = Enforcement::kEnforce;
  else if (*enforcement == "Warn") p->enforcement = Enforcement::kWarn;
  else if (*enforcement == "Audit") p->enforcement = Enforcement::kAudit;
  else return wrap(FieldError("spec.enforcement", "\"" + *enforcement + "\" is not Enforce, Warn or Audit"));

  auto audience = OptString(spec, "audience", "spec");
  if (!audience.ok()) return wrap(audience.status());
  if (audience->empty()) return wrap(FieldError("spec.audience", "is required (the cluster identity artifacts must name)"));
  p->audience = *audience;

  // Both bounded (policy.h): the decision adds them to claim values.
  auto ttl = DurationField(spec, "maxTTL", "15m", kMaxTTLSeconds);
  if (!ttl.ok()) return wrap(ttl.status());
  if (*ttl <= 0) return wrap(FieldError("spec.maxTTL", "must be at least 1s"));
  p->max_ttl_seconds = *ttl;
  auto skew = DurationField(spec, "clockSkew", "30s", kMaxClockSkewSeconds);
  if (!skew.ok()) return wrap(skew.status());
  p->clock_skew_seconds = *skew;

  if (spec.contains("match") && !spec["match"].is_null()) {
    const Json& m = spec["match"];
    if (!m.is_object()) return wrap(FieldError("spec.match", "must be an object"));
    st = CheckKnownFields(m, "spec.match", {"kinds", "namespaceSelector", "namespaces", "excludedNamespaces"});
    if (!st.ok()) return wrap(st);
    auto kinds = StringList(m, "kinds", "spec.match");
    if (!kinds.ok()) return wrap(kinds.status());
    for (const auto& k : *kinds) {
      if (!api::ParseGovernedKind(k)) return wrap(FieldError("spec.match.kinds", "\"" + k + "\" is not Pod, Job or ExecutionRequest"));
      p->kinds.insert(k);
    }
    if (m.contains("namespaceSelector") && !m["namespaceSelector"].is_null()) {
      auto sel = LabelSelector::FromJson(m["namespaceSelector"], "spec.match.namespaceSelector");
      if (!sel.ok()) return wrap(sel.status());
      p->namespace_selector = std::move(sel).value();
    }
    auto ns = StringList(m, "namespaces", "spec.match");
    if (!ns.ok()) return wrap(ns.status());
    p->namespaces.insert(ns->begin(), ns->end());
    auto ex = StringList(m, "excludedNamespaces", "spec.match");
    if (!ex.ok()) return wrap(ex.status());
    p->excluded_namespaces.insert(ex->begin(), ex->end());
  }
  if (p->kinds.empty()) p->kinds = {"Pod", "Job", "ExecutionRequest"};

  if (!spec.contains("issuers") || !spec["issuers"].is_array() || spec["issuers"].empty()) {
    return wrap(FieldError("spec.issuers", "must list at least one issuer"));
  }
  std::set<std::string> issuer_names;
  for (size_t i = 0; i < spec["issuers"].size(); ++i) {
    const Json& is = spec["issuers"][i];
    std::string field = "spec.issuers[" + std::to_string(i) + "]";
    if (!is.is_object()) return wrap(FieldError(field, "must be an object"));
    st = CheckKnownFields(is, field, {"name", "subjects", "keys"});
    if (!st.ok()) return wrap(st);
    Issuer issuer;
    auto name = OptString(is, "name", field);
    if (!name.ok()) return wrap(name.status());
    if (name->empty()) return wrap(FieldError(field + ".name", "is required"));
    if (!issuer_names.insert(*name).second) return wrap(FieldError(field + ".name", "\"" + *name + "\" is listed twice"));
    issuer.name = *name;
    auto subjects = StringList(is, "subjects", field);
    if (!subjects.ok()) return wrap(subjects.status());
    for (const auto& s : *subjects) {
      if (!IsValidGlob(s)) return wrap(FieldError(field + ".subjects", "\"" + s + "\" is not a valid glob (only * and ? are special)"));
    }
    issuer.subjects = *subjects;
    if (!is.contains("keys") || !is["keys"].is_array() || is["keys"].empty()) {
      return wrap(FieldError(field + ".keys", "must list at least one key"));
    }
    for (size_t j = 0; j < is["keys"].size(); ++j) {
      std::string kfield = field + ".keys[" + std::to_string(j) + "]";
      auto key = CompileKey(is["keys"][j], kfield, resolver);
      if (!key.ok()) return wrap(key.status());
      if (p->key_index.count(key->kid)) return wrap(FieldError(kfield + ".kid", "\"" + key->kid + "\" is used by another key"));
      p->key_index[key->kid] = {p->issuers.size(), issuer.keys.size()};
      issuer.keys.push_back(std::move(key).value());
    }
    p->issuers.push_back(std::move(issuer));
  }

  auto controllers = StringList(spec, "trustedControllers", "spec");
  if (!controllers.ok()) return wrap(controllers.status());
  p->trusted_controllers = *controllers;
  auto bind = OptBool(spec, "bindRequester", "spec");
  if (!bind.ok()) return wrap(bind.status());
  p->bind_requester = *bind;

  if (spec.contains("images") && !spec["images"].is_null()) {
    const Json& im = spec["images"];
    if (!im.is_object()) return wrap(FieldError("spec.images", "must be an object"));
    st = CheckKnownFields(im, "spec.images", {"allowedRegistries", "requireDigest"});
    if (!st.ok()) return wrap(st);
    auto regs = StringList(im, "allowedRegistries", "spec.images");
    if (!regs.ok()) return wrap(regs.status());
    for (const auto& r : *regs) {
      if (!IsValidGlob(r)) return wrap(FieldError("spec.images.allowedRegistries", "\"" + r + "\" is not a valid glob"));
    }
    p->allowed_registries = *regs;
    auto rd = OptBool(im, "requireDigest", "spec.images");
    if (!rd.ok()) return wrap(rd.status());
    p->require_digest = *rd;
  }
  if (spec.contains("revocations") && !spec["revocations"].is_null()) {
    const Json& rv = spec["revocations"];
    if (!rv.is_object()) return wrap(FieldError("spec.revocations", "must be an object"));
    st = CheckKnownFields(rv, "spec.revocations", {"kids", "jtis"});
    if (!st.ok()) return wrap(st);
    auto kids = StringList(rv, "kids", "spec.revocations");
    if (!kids.ok()) return wrap(kids.status());
    p->revoked_kids.insert(kids->begin(), kids->end());
    auto jtis = StringList(rv, "jtis", "spec.revocations");
    if (!jtis.ok()) return wrap(jtis.status());
    p->revoked_jtis.insert(jtis->begin(), jtis->end());
  }
  auto runtime = CompileRuntimeSpec(spec);
  if (!runtime.ok()) return wrap(runtime.status());
  p->runtime = *runtime;
  st = CompileAuthorization(spec, p.get());
  if (!st.ok()) return wrap(st);
  return std::shared_ptr<const CompiledPolicy>(std::move(p));
}

StatusOr<PolicySet> LoadPolicyPath(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string ext = entry.path().extension().string();
      if (entry.is_regular_file() && (ext == ".yaml" || ext == ".yml" || ext == ".json")) files.push_back(entry.path().string());
    }
    if (ec) return InvalidArgument("cannot list " + path + ": " + ec.message());
    std::sort(files.begin(), files.end());
    if (files.empty()) return InvalidArgument(path + ": no policy files (*.yaml, *.yml, *.json)");
  } else {
    files.push_back(path);
  }
  PolicySet set;
  std::set<std::string> names;
  for (const auto& file : files) {
    EXECGOV_ASSIGN_OR_RETURN(std::string text, ReadFile(file));
    EXECGOV_ASSIGN_OR_RETURN(auto docs, api::ParseManifests(text, file));
    for (const auto& doc : docs) {
      if (api::KindOf(doc) != "ExecutionPolicy") {
        return InvalidArgument(file + ": a " + (api::KindOf(doc).empty() ? "document without kind" : api::KindOf(doc)) +
                               " is not an ExecutionPolicy");
      }
      auto compiled = CompilePolicy(doc);
      if (!compiled.ok()) return InvalidArgument(file + ": " + compiled.status().message());
      if (!names.insert((*compiled)->name).second) {
        return InvalidArgument(file + ": ExecutionPolicy " + (*compiled)->name + " is defined twice");
      }
      set.policies.push_back(std::move(compiled).value());
    }
  }
  if (set.policies.empty()) return InvalidArgument(path + ": no ExecutionPolicy found");
  std::sort(set.policies.begin(), set.policies.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  set.ready = true;
  return set;
}

}  // namespace execgov::policy
