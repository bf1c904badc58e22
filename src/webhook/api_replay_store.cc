#include "webhook/api_replay_store.h"

#include <cstdlib>

#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/sha256.h"

namespace execgov::webhook {
namespace {

using Json = nlohmann::json;

constexpr char kReplayLabel[] = "execgov.io/replay";
constexpr char kNamespaceLabel[] = "execgov.io/namespace";
constexpr char kInheritorPrefix[] = "inheritor.";

std::string DataString(const Json& cm, const char* key) {
  if (!cm.contains("data") || !cm["data"].is_object()) return "";
  auto it = cm["data"].find(key);
  return it != cm["data"].end() && it->is_string() ? it->get<std::string>() : "";
}

policy::Consumption ConsumptionOf(const Json& cm, const std::string& inheritor_uid) {
  policy::Consumption c{DataString(cm, "kind"), DataString(cm, "namespace"), DataString(cm, "name"),
                        DataString(cm, "uid")};
  c.inherited = !inheritor_uid.empty() && !DataString(cm, (kInheritorPrefix + inheritor_uid).c_str()).empty();
  return c;
}

}  // namespace

ApiReplayStore::ApiReplayStore(kube::Client* client, std::string install_namespace)
    : client_(client), namespace_(std::move(install_namespace)) {}

std::string ApiReplayStore::ObjectName(const std::string& jti) {
  crypto::Hash h = crypto::Sha256(jti);
  return "execgov-jti-" + crypto::HexEncode(crypto::HashBytes(h)).substr(0, 40);
}

std::optional<policy::Consumption> ApiReplayStore::Find(const std::string& jti, const std::string& inheritor_uid) const {
  auto cm = client_->Get(kube::ConfigMapPath(namespace_, ObjectName(jti)));
  if (!cm.ok()) {
    if (cm.status().code() != StatusCode::kNotFound) {
      log::Warn("replay store: cannot read a consumption", {{"jti", jti}, {"error", cm.status().message()}});
    }
    return std::nullopt;
  }
  return ConsumptionOf(*cm, inheritor_uid);
}

Status ApiReplayStore::Consume(const std::string& jti, const policy::Consumption& who, int64_t expires_at) {
  std::string name = ObjectName(jti);
  Json labels = {{kReplayLabel, "true"}};
  if (!who.ns.empty()) labels[kNamespaceLabel] = who.ns;
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", name}, {"namespace", namespace_}, {"labels", labels}}},
             {"data",
              {{"jti", jti},
               {"kind", who.kind},
               {"namespace", who.ns},
               {"name", who.name},
               {"uid", who.uid},
               {"expiresAt", std::to_string(expires_at)}}}};
  auto created = client_->Create(kube::ConfigMapsPath(namespace_), cm);
  if (created.ok()) return Status::Ok();
  if (created.status().code() != StatusCode::kAlreadyExists) {
    return created.status().WithContext("cannot record the consumption of artifact " + jti);
  }
  // Taken: by us (a retried POST, or the same object admitted again) or by
  // another object. Only the stored uid can tell.
  auto existing = client_->Get(kube::ConfigMapPath(namespace_, name));
  if (!existing.ok()) return existing.status().WithContext("cannot read the consumption of artifact " + jti);
  policy::Consumption c = ConsumptionOf(*existing, "");
  if (c.uid == who.uid) return Status::Ok();
  return AlreadyExists("artifact " + jti + " was consumed by " + c.kind + " " + c.ns + "/" + c.name);
}

Status ApiReplayStore::Inherit(const std::string& jti, const std::string& uid) {
  if (uid.empty()) return InvalidArgument("an inheritor needs a uid");
  Json patch = {{"data", {{kInheritorPrefix + uid, "true"}}}};
  auto patched = client_->Patch(kube::ConfigMapPath(namespace_, ObjectName(jti)), patch, kube::PatchType::kMerge);
  if (patched.ok()) return Status::Ok();
  if (patched.status().code() == StatusCode::kNotFound) return NotFound("artifact " + jti + " was never consumed");
  return patched.status().WithContext("cannot record an inheritor of artifact " + jti);
}

void ApiReplayStore::Prune(int64_t) {}

StatusOr<int> ApiReplayStore::PruneExpired(int64_t now) {
  kube::ListOptions options;
  options.label_selector = std::string(kReplayLabel) + "=true";
  EXECGOV_ASSIGN_OR_RETURN(kube::ListResult list, client_->List(kube::ConfigMapsPath(namespace_), options));
  int deleted = 0;
  for (const auto& cm : list.items) {
    std::string expires = DataString(cm, "expiresAt");
    char* end = nullptr;
    long long at = std::strtoll(expires.c_str(), &end, 10);
    // An unreadable expiry is kept: deleting it could re-open a jti.
    if (expires.empty() || *end != '\0' || at >= now) continue;
    std::string name = cm["metadata"].value("name", "");
    Status st = client_->Delete(kube::ConfigMapPath(namespace_, name));
    if (st.ok() || st.code() == StatusCode::kNotFound) {
      ++deleted;
    } else {
      return st.WithContext("cannot delete the expired consumption " + name);
    }
  }
  return deleted;
}

StatusOr<int> ApiReplayStore::LoadInto(ReplayStore* store, int64_t now) {
  kube::ListOptions options;
  options.label_selector = std::string(kReplayLabel) + "=true";
  EXECGOV_ASSIGN_OR_RETURN(kube::ListResult list, client_->List(kube::ConfigMapsPath(namespace_), options));
  int loaded = 0;
  for (const auto& cm : list.items) {
    std::string jti = DataString(cm, "jti"), expires = DataString(cm, "expiresAt");
    char* end = nullptr;
    long long at = std::strtoll(expires.c_str(), &end, 10);
    if (jti.empty() || expires.empty() || *end != '\0' || at < now) continue;
    policy::Consumption who = ConsumptionOf(cm, "");
    Status st = store->Consume(jti, who, at);
    if (st.code() == StatusCode::kAlreadyExists) continue;  // recorded in the ledger as well
    EXECGOV_RETURN_IF_ERROR(st);
    store->Settle(jti, who.uid, policy::ReplayAction::kConsume, /*durable=*/true);
    for (const auto& [key, value] : cm.value("data", Json::object()).items()) {
      if (key.rfind(kInheritorPrefix, 0) == 0) {
        std::string uid = key.substr(sizeof kInheritorPrefix - 1);
        if (store->Inherit(jti, uid).ok()) store->Settle(jti, uid, policy::ReplayAction::kInherit, true);
      }
    }
    ++loaded;
  }
  return loaded;
}

}  // namespace execgov::webhook
