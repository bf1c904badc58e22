#include "controllers/policy_report.h"

#include <algorithm>
#include <tuple>

#include "kube/client.h"

namespace execgov::controllers {

using nlohmann::json;

std::string PolicyReportsPath(const std::string& ns, const std::string& name) {
  return kube::ResourcePath(kPolicyReportApiVersion, "policyreports", ns, name);
}

json BuildPolicyReport(const std::string& ns, std::vector<ReportEntry> entries) {
  std::sort(entries.begin(), entries.end(), [](const ReportEntry& a, const ReportEntry& b) {
    return std::tie(a.kind, a.name, a.uid, a.rule) < std::tie(b.kind, b.name, b.uid, b.rule);
  });
  json results = json::array();
  int fail = 0, warn = 0;
  for (const auto& e : entries) {
    (e.warn ? warn : fail) += 1;
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(e.first_seen.time_since_epoch()).count();
    json resource = {{"apiVersion", e.api_version}, {"kind", e.kind}, {"namespace", e.ns}, {"name", e.name}};
    if (!e.uid.empty()) resource["uid"] = e.uid;
    results.push_back({{"source", kPolicyReportSource},
                       {"policy", e.policy.empty() ? std::string(kPolicyReportSource) : e.policy},
                       {"rule", e.rule},
                       {"category", "Execution governance"},
                       {"severity", e.warn ? "medium" : "high"},
                       {"timestamp", {{"seconds", seconds}, {"nanos", 0}}},
                       {"result", e.warn ? "warn" : "fail"},
                       {"scored", true},
                       {"resources", json::array({resource})},
                       {"message", e.message},
                       {"properties", {{"action", e.action}}}});
  }
  return {{"apiVersion", kPolicyReportApiVersion},
          {"kind", "PolicyReport"},
          {"metadata",
           {{"name", kPolicyReportName},
            {"namespace", ns},
            {"labels", {{kManagedByLabel, "execgov"}}}}},
          {"scope", {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"name", ns}}},
          {"summary", {{"pass", 0}, {"fail", fail}, {"warn", warn}, {"error", 0}, {"skip", 0}}},
          {"results", results}};
}

}  // namespace execgov::controllers
