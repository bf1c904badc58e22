// The health dashboard's policies (issue 22): each ExecutionPolicy's and
// AuthorityPolicy's status conditions as the operator and the authority
// wrote them (controllers/status_conditions.h), read from the API server
// with the logged-in user's own token, like everything else the console
// reads from the cluster (cluster_view.h): RBAC decides which policies a user
// sees, and a refusal is reported as such rather than as an empty list.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "kube/client.h"

namespace execgov::console {

inline constexpr char kAuthorityPoliciesPath[] = "/apis/execgov.io/v1alpha1/authoritypolicies";
// At most this many policies of a kind and conditions of a policy are sent
// to the browser, and condition strings are cut to these lengths: the
// objects come from the API server, but whoever may write a policy's status
// may write anything in it.
inline constexpr size_t kMaxHealthPolicies = 500;
inline constexpr size_t kMaxConditions = 16;
inline constexpr size_t kMaxConditionWordBytes = 128;    // type, status, reason, lastTransitionTime
inline constexpr size_t kMaxConditionMessageBytes = 1024;

// What the dashboard shows of one policy object: {name, generation,
// observedGeneration, ready ("True"/"False"/"Unknown", or null when the
// controller has not written a Ready condition), conditions: [{type, status,
// reason, message, lastTransitionTime}]} with the bounds above; members
// missing or of the wrong type are left out (or null for `ready`).
nlohmann::json PolicyHealthView(const nlohmann::json& object);

// One kind's answer: {kind, policies: [PolicyHealthView...] (by name),
// truncated} when the list succeeded; {kind, error, forbidden: true} when
// the API server refused `user_name` (403); {kind, notInstalled: true} when
// the CRD is not there (404: AuthorityPolicy without the authority);
// {kind, error} otherwise.
nlohmann::json ListPolicyHealth(kube::Client& user, const std::string& user_name, const std::string& kind,
                                const std::string& collection_path);

// /api/health's `policies` in cluster: {available: true, kinds: [the
// ExecutionPolicies', the AuthorityPolicies']}.
nlohmann::json ClusterPolicyHealth(kube::Client& user, const std::string& user_name);

// /api/health's `policies` standalone: {available: false, reason}. Not an
// error: conditions exist only where an operator writes them.
nlohmann::json StandalonePolicyHealth();

// The runtime verifier's findings as the operator writes them, one
// PolicyReport per namespace (controllers/policy_report.h, `kubectl get polr`),
// listed as the user across the namespaces RBAC lets them list: {reports:
// [{namespace, name, fail, warn, results: [{result ("fail"/"warn"), rule,
// policy, message, kind, namespace, name, action, timestamp (Unix seconds)}]}]
// (by namespace), truncated}; at most kMaxRuntimeReports reports and
// kMaxRuntimeResults results in all, messages cut like conditions'. A 403 is
// {forbidden: true, error}; no PolicyReport CRD is {notInstalled: true}.
inline constexpr size_t kMaxRuntimeReports = 200;
inline constexpr size_t kMaxRuntimeResults = 500;
nlohmann::json RuntimeReports(kube::Client& user, const std::string& user_name);

}  // namespace execgov::console
