// The runtime verifier's findings as a PolicyReport of the Kubernetes Policy
// working group (wgpolicyk8s.io/v1alpha2, the format Kyverno, Kubewarden,
// Trivy and Policy Reporter write and read; `kubectl get polr`). One report
// per namespace, named kPolicyReportName, holding one result per finding.
// Pure: building, not writing.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace execgov::controllers {

inline constexpr const char* kPolicyReportApiVersion = "wgpolicyk8s.io/v1alpha2";
inline constexpr const char* kPolicyReportName = "execgov-runtime";
inline constexpr const char* kPolicyReportSource = "execgov";
// The label every report execgov writes carries (to find its own).
inline constexpr const char* kManagedByLabel = "app.kubernetes.io/managed-by";

struct ReportEntry {
  std::string policy;   // the ExecutionPolicy whose spec.runtime applies ("" none: "execgov")
  std::string rule;     // the finding: Unadmitted, Revoked, Drift, LineageDiscontinuity, Ungoverned, BreakGlass
  std::string message;  // why, in a sentence a person can act on
  std::string api_version, kind, ns, name, uid;  // the workload
  std::string action;   // "Report", "Terminate", "Terminate (dry run)"
  bool warn = false;    // a result of "warn" (break-glass: admitted on purpose), not "fail"
  std::chrono::system_clock::time_point first_seen;  // the result's timestamp
};

// The PolicyReport for `ns` (results sorted by kind, name, rule, so that the
// same findings always give the same object and an unchanged report is
// never rewritten).
nlohmann::json BuildPolicyReport(const std::string& ns, std::vector<ReportEntry> entries);

// The collection path of PolicyReports in `ns`.
std::string PolicyReportsPath(const std::string& ns, const std::string& name = "");

}  // namespace execgov::controllers
