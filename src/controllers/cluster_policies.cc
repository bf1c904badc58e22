#include "controllers/cluster_policies.h"

#include <algorithm>

#include "api/object.h"
#include "core/log.h"
#include "crypto/encoding.h"

namespace execgov::controllers {
namespace {

using Json = nlohmann::json;

// The value of `key` in a Secret (base64 data) or a ConfigMap (text data, or
// base64 binaryData).
StatusOr<std::string> KeyValue(const Json& obj, const std::string& kind, const std::string& key) {
  std::string where = kind + " " + api::NamespaceOf(obj) + "/" + api::NameOf(obj);
  auto field = [&](const char* name) -> const Json* {
    if (!obj.contains(name) || !obj[name].is_object()) return nullptr;
    auto it = obj[name].find(key);
    return it != obj[name].end() && it->is_string() ? &*it : nullptr;
  };
  bool base64 = kind == "Secret";
  const Json* value = field("data");
  if (!value && kind == "ConfigMap") {
    value = field("binaryData");
    base64 = true;
  }
  if (!value) return NotFound(where + " has no key \"" + key + "\"");
  if (!base64) return value->get<std::string>();
  auto decoded = crypto::Base64Decode(value->get<std::string>());
  if (!decoded) return InvalidArgument(where + ": the value of \"" + key + "\" is not base64");
  return *decoded;
}

}  // namespace

policy::KeyRefResolver MakeKeyRefResolver(std::string install_namespace, KeySourceFinder find) {
  return [ns = std::move(install_namespace), find = std::move(find)](const Json& ref) -> StatusOr<std::string> {
    // CompilePolicy has checked the shape: kind is Secret or ConfigMap and
    // namespace, name and key are non-empty strings.
    std::string kind = ref.value("kind", ""), ref_ns = ref.value("namespace", ""), name = ref.value("name", ""),
                key = ref.value("key", "");
    if (ref_ns != ns) {
      return InvalidArgument("namespace: \"" + ref_ns + "\" is not " + ns +
                             ", the install namespace, the only one keys are read from");
    }
    runtime::ObjectPtr obj = find ? find(kind, name) : nullptr;
    if (!obj) return NotFound(kind + " " + ns + "/" + name + " does not exist");
    return KeyValue(*obj, kind, key);
  };
}

std::vector<std::shared_ptr<const policy::CompiledPolicy>> PolicyCompiler::Compile(
    const std::vector<runtime::ObjectPtr>& objects, const policy::KeyRefResolver& resolver) {
  std::map<std::string, PolicyCompileResult> results;
  std::map<std::string, std::shared_ptr<const policy::CompiledPolicy>> last_good;
  for (const auto& obj : objects) {
    if (!obj) continue;
    PolicyCompileResult r;
    r.name = api::NameOf(*obj);
    if (r.name.empty()) continue;
    const Json* generation = obj->contains("metadata") ? &(*obj)["metadata"] : nullptr;
    if (generation && generation->contains("generation") && (*generation)["generation"].is_number_integer()) {
      r.generation = (*generation)["generation"].get<int64_t>();
    }
    auto compiled = policy::CompilePolicy(*obj, resolver);
    if (compiled.ok()) {
      r.keys = (*compiled)->KeyCount();
      r.summary = (*compiled)->Summary();
      last_good[r.name] = *compiled;
    } else {
      r.status = compiled.status();
      // A bad edit keeps the last good compilation in force.
      if (auto it = last_good_.find(r.name); it != last_good_.end()) last_good[r.name] = it->second;
    }
    results[r.name] = std::move(r);
  }
  results_ = std::move(results);
  last_good_ = std::move(last_good);
  std::vector<std::shared_ptr<const policy::CompiledPolicy>> out;
  out.reserve(last_good_.size());
  for (const auto& [name, p] : last_good_) out.push_back(p);  // a map: sorted by name
  return out;
}

std::optional<PolicyCompileResult> PolicyCompiler::Result(const std::string& name) const {
  auto it = results_.find(name);
  if (it == results_.end()) return std::nullopt;
  return it->second;
}

ClusterPolicies::ClusterPolicies(runtime::Informer* policies, runtime::Informer* secrets,
                                 runtime::Informer* configmaps, std::string install_namespace,
                                 metrics::Metrics* metrics)
    : policies_(policies),
      secrets_(secrets),
      configmaps_(configmaps),
      install_namespace_(std::move(install_namespace)),
      metrics_(metrics),
      current_(std::make_shared<const policy::PolicySet>()) {}

void ClusterPolicies::Register() {
  auto rebuild = [this](const runtime::ObjectPtr& old_obj, const runtime::ObjectPtr& new_obj) {
    if (old_obj && old_obj == new_obj) return;  // a resync: nothing changed
    Rebuild();
  };
  policies_->AddHandler(rebuild);
  secrets_->AddHandler(rebuild);
  configmaps_->AddHandler(rebuild);
}

bool ClusterPolicies::Synced() const {
  return policies_->HasSynced() && secrets_->HasSynced() && configmaps_->HasSynced();
}

std::shared_ptr<const policy::PolicySet> ClusterPolicies::Current() const {
  auto snapshot = current_.load();
  // The informers report synced after delivering their last initial event,
  // so no handler runs at that moment: the first caller to see them all
  // synced builds the ready snapshot. Rebuild only reads the informers.
  if (!snapshot->ready && Synced()) {
    const_cast<ClusterPolicies*>(this)->Rebuild();
    snapshot = current_.load();
  }
  return snapshot;
}

std::optional<PolicyCompileResult> ClusterPolicies::Result(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return compiler_.Result(name);
}

void ClusterPolicies::Rebuild() {
  std::lock_guard<std::mutex> lock(mu_);
  // Read before listing: a snapshot is only called ready when every store
  // it was built from had synced.
  bool ready = Synced();
  auto find = [this](const std::string& kind, const std::string& name) -> runtime::ObjectPtr {
    runtime::Informer* informer = kind == "Secret" ? secrets_ : kind == "ConfigMap" ? configmaps_ : nullptr;
    return informer ? informer->Get(install_namespace_ + "/" + name) : nullptr;
  };
  std::map<std::string, PolicyCompileResult> before = compiler_.results();
  auto set = std::make_shared<policy::PolicySet>();
  set->policies = compiler_.Compile(policies_->List(), MakeKeyRefResolver(install_namespace_, find));
  set->ready = ready;
  set->version = ++version_;
  // Report each change of a policy's outcome once, and only once the caches
  // are complete: before that a missing Secret may just not be listed yet.
  if (ready) {
    for (const auto& [name, r] : compiler_.results()) {
      auto old = before.find(name);
      bool changed = old == before.end() || old->second.generation != r.generation ||
                     old->second.status.message() != r.status.message() || !current_.load()->ready;
      if (!changed) continue;
      if (r.status.ok()) {
        log::Info("policy compiled", {{"policy", name}, {"generation", r.generation}, {"summary", r.summary}});
      } else {
        bool kept = std::any_of(set->policies.begin(), set->policies.end(),
                                [&](const auto& p) { return p->name == name; });
        log::Error("policy does not compile", {{"policy", name},
                                               {"generation", r.generation},
                                               {"error", r.status.message()},
                                               {"enforcing", kept ? "the last good generation" : "nothing"}});
        if (metrics_) metrics_->RecordPolicyReloadError();
      }
    }
  }
  if (metrics_) metrics_->SetPoliciesLoaded(set->policies.size());
  current_.store(std::move(set));
}

}  // namespace execgov::controllers
