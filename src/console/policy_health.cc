#include "console/policy_health.h"

#include <algorithm>

#include "console/cluster_view.h"
#include "controllers/policy_report.h"

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

namespace {

// What a list the API server did not answer becomes: a 403 is the user's
// refusal, a 404 a CRD not installed.
json ListFailure(const Status& st, const std::string& user_name, const std::string& kind) {
  if (st.code() == StatusCode::kNotFound) return {{"kind", kind}, {"notInstalled", true}};
  const std::string message = Cut(st.message(), 1024);
  if (st.code() == StatusCode::kPermissionDenied) {
    return {{"kind", kind}, {"forbidden", true}, {"error", "the API server refused " + user_name + ": " + message}};
  }
  std::string plural = kind.back() == 'y' ? kind.substr(0, kind.size() - 1) + "ies" : kind + "s";
  return {{"kind", kind}, {"error", "listing " + plural + " as " + user_name + ": " + message}};
}

}  // namespace

json ListPolicyHealth(kube::Client& user, const std::string& user_name, const std::string& kind,
                      const std::string& collection_path) {
  auto list = user.List(collection_path, {});
  if (!list.ok()) return ListFailure(list.status(), user_name, kind);
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

json RuntimeReports(kube::Client& user, const std::string& user_name) {
  kube::ListOptions options;
  options.label_selector = std::string(controllers::kManagedByLabel) + "=execgov";
  auto list = user.List(kube::ResourcePath(controllers::kPolicyReportApiVersion, "policyreports", ""), options);
  if (!list.ok()) return ListFailure(list.status(), user_name, "PolicyReport");
  std::vector<const json*> items;
  for (const json& item : list->items) {
    if (item.is_object()) items.push_back(&item);
  }
  auto ns_of = [](const json& o) { return Member(o.value("metadata", json::object()), "namespace", 253).value_or(""); };
  std::sort(items.begin(), items.end(), [&](const json* a, const json* b) { return ns_of(*a) < ns_of(*b); });
  json reports = json::array();
  size_t results_left = kMaxRuntimeResults;
  bool truncated = items.size() > kMaxRuntimeReports;
  for (size_t i = 0; i < items.size() && i < kMaxRuntimeReports; ++i) {
    const json& r = *items[i];
    const json meta = r.value("metadata", json::object());
    const json summary = r.value("summary", json::object());
    json out = {{"namespace", ns_of(r)},
                {"name", Member(meta, "name", 253).value_or("")},
                {"fail", Integer(summary, "fail").value_or(0)},
                {"warn", Integer(summary, "warn").value_or(0)},
                {"results", json::array()}};
    auto results = r.find("results");
    if (results != r.end() && results->is_array()) {
      for (const json& res : *results) {
        if (!res.is_object()) continue;
        const std::string verdict = Member(res, "result", kMaxConditionWordBytes).value_or("");
        if (verdict != "fail" && verdict != "warn") continue;  // what needs a look
        if (results_left == 0) {
          truncated = true;
          break;
        }
        --results_left;
        json view = {{"result", verdict}};
        for (const char* k : {"rule", "policy"}) {
          if (auto v = Member(res, k, kMaxConditionWordBytes)) view[k] = *v;
        }
        if (auto m = Member(res, "message", kMaxConditionMessageBytes)) view["message"] = *m;
        const json props = res.value("properties", json::object());
        if (props.is_object()) {
          if (auto a = Member(props, "action", kMaxConditionWordBytes)) view["action"] = *a;
        }
        const json ts = res.value("timestamp", json::object());
        if (ts.is_object()) {
          if (auto t = Integer(ts, "seconds")) view["timestamp"] = *t;
        }
        const json resources = res.value("resources", json::array());
        if (resources.is_array() && !resources.empty() && resources[0].is_object()) {
          for (const char* k : {"kind", "namespace", "name"}) {
            if (auto v = Member(resources[0], k, 253)) view[k] = *v;
          }
        }
        out["results"].push_back(std::move(view));
      }
    }
    reports.push_back(std::move(out));
  }
  return {{"reports", std::move(reports)}, {"truncated", truncated}};
}

json StandalonePolicyHealth() {
  return {{"available", false},
          {"reason",
           "standalone: policies' status conditions are written in the cluster by the operator, and this console "
           "reads no cluster (execgov console --kube-auth does)"}};
}

}  // namespace execgov::console
