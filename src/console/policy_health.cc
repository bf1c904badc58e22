#include "console/policy_health.h"

#include <algorithm>

#include "console/cluster_view.h"

namespace execgov::console {
namespace {

using nlohmann::json;

// `s` cut to at most `max` bytes, never inside a UTF-8 sequence.
std::string Cut(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end) + "…";
}

// The string at `key` of `obj`, cut; nullopt when absent or not a string.
std::optional<std::string> Member(const json& obj, const char* key, size_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return Cut(it->get<std::string>(), max);
}

std::optional<int64_t> Integer(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

}  // namespace

json PolicyHealthView(const json& object) {
  static const json kEmpty = json::object();
  const json& meta = object.is_object() && object.contains("metadata") && object["metadata"].is_object()
                         ? object["metadata"]
                         : kEmpty;
  const json& status = object.is_object() && object.contains("status") && object["status"].is_object()
                           ? object["status"]
                           : kEmpty;
  json view = {{"name", Member(meta, "name", 253).value_or("")}, {"ready", nullptr}, {"conditions", json::array()}};
  if (auto g = Integer(meta, "generation")) view["generation"] = *g;
  if (auto g = Integer(status, "observedGeneration")) view["observedGeneration"] = *g;
  auto conditions = status.find("conditions");
  if (conditions == status.end() || !conditions->is_array()) return view;
  for (const json& c : *conditions) {
    if (!c.is_object()) continue;
    auto type = Member(c, "type", kMaxConditionWordBytes);
    if (!type) continue;  // a condition is keyed by its type
    if (view["conditions"].size() == kMaxConditions) {
      view["conditionsTruncated"] = true;
      break;
    }
    json out = {{"type", *type}};
    for (const char* k : {"status", "reason", "lastTransitionTime"}) {
      if (auto v = Member(c, k, kMaxConditionWordBytes)) out[k] = *v;
    }
    if (auto m = Member(c, "message", kMaxConditionMessageBytes)) out["message"] = *m;
    if (auto g = Integer(c, "observedGeneration")) out["observedGeneration"] = *g;
    if (*type == "Ready" && view["ready"].is_null() && out.contains("status")) view["ready"] = out["status"];
    view["conditions"].push_back(std::move(out));
  }
  return view;
}

json ListPolicyHealth(kube::Client& user, const std::string& user_name, const std::string& kind,
                      const std::string& collection_path) {
  auto list = user.List(collection_path, {});
  if (!list.ok()) {
    const Status& st = list.status();
    if (st.code() == StatusCode::kNotFound) return {{"kind", kind}, {"notInstalled", true}};
    const std::string message = Cut(st.message(), 1024);
    if (st.code() == StatusCode::kPermissionDenied) {
      return {{"kind", kind}, {"forbidden", true}, {"error", "the API server refused " + user_name + ": " + message}};
    }
    std::string plural = kind.back() == 'y' ? kind.substr(0, kind.size() - 1) + "ies" : kind + "s";
    return {{"kind", kind}, {"error", "listing " + plural + " as " + user_name + ": " + message}};
  }
  json policies = json::array();
  for (const json& item : list->items) policies.push_back(PolicyHealthView(item));
  std::sort(policies.begin(), policies.end(),
            [](const json& a, const json& b) { return a["name"].get<std::string>() < b["name"].get<std::string>(); });
  const bool truncated = policies.size() > kMaxHealthPolicies;
  if (truncated) policies.erase(policies.begin() + kMaxHealthPolicies, policies.end());
  return {{"kind", kind}, {"policies", std::move(policies)}, {"truncated", truncated}};
}

json ClusterPolicyHealth(kube::Client& user, const std::string& user_name) {
  json kinds = json::array();
  kinds.push_back(ListPolicyHealth(user, user_name, "ExecutionPolicy", kPoliciesPath));
  kinds.push_back(ListPolicyHealth(user, user_name, "AuthorityPolicy", kAuthorityPoliciesPath));
  return {{"available", true}, {"kinds", std::move(kinds)}};
}

json StandalonePolicyHealth() {
  return {{"available", false},
          {"reason",
           "standalone: policies' status conditions are written in the cluster by the operator, and this console "
           "reads no cluster (execgov console --kube-auth does)"}};
}

}  // namespace execgov::console
