// AuthorityPolicy (issue 20): the rules by which `execgov authority` grants,
// refuses or holds ExecutionRequests that wait for an artifact. Compiled once
// into an immutable form (globs checked, durations in seconds), matched with
// no I/O, as ExecutionPolicies are (policy/policy.h).
//
// A request is judged by the first rule that applies to it: AuthorityPolicies
// in the order of their names, each one's rules in the order written. A rule
// applies when every selector it states matches (namespace, initiator, every
// image, kind) and one of its time windows is open (none: always). A request
// no rule applies to waits, and expires after the authority's default
// timeout.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace execgov::authority {

enum class Action { kAutoApprove, kAutoDeny, kRequireApprovals };
const char* ActionName(Action a);

// An interval of the week, UTC: on `days` (0 = Monday .. 6 = Sunday), from
// start_minute to end_minute of the day (start < end; 0..1440).
struct TimeWindow {
  std::set<int> days;
  int start_minute = 0, end_minute = 1440;
};

struct AuthorityRule {
  std::string name;
  std::vector<std::string> namespaces;  // globs; empty: any
  // Globs over spec.initiator; serviceAccounts "ns/name" globs are kept here
  // as "system:serviceaccount:ns:name". Both empty: any initiator.
  std::vector<std::string> initiators;
  // Globs over image references; empty: any. An AutoDeny rule applies when
  // any image matches one, any other rule only when every image does.
  std::vector<std::string> images;
  std::set<std::string> kinds;      // governed kinds; default {ExecutionRequest}
  Action action = Action::kRequireApprovals;
  int approvals = 0;                // kRequireApprovals: distinct approvers needed (1..10)
  std::vector<std::string> approver_groups;
  int64_t ttl_seconds = 600;        // the grant's exp - iat, before the ExecutionPolicies' maxTTL bounds it
  int64_t timeout_seconds = 3600;   // a request not granted this long after its creation expires
  int rate_count = 0;               // 0: no rate limit; else at most this many grants per initiator...
  int64_t rate_per_seconds = 0;     // ...in any such period, under this rule
  std::vector<TimeWindow> windows;  // empty: always open
};

struct CompiledAuthorityPolicy {
  std::string name;
  int64_t generation = 0;
  std::vector<AuthorityRule> rules;
};

// Errors name the field: "AuthorityPolicy ops: spec.rules[1].ttl: ...".
StatusOr<std::shared_ptr<const CompiledAuthorityPolicy>> CompileAuthorityPolicy(const nlohmann::json& object);

// What a rule is matched against.
struct AuthorityRequest {
  std::string ns, kind, initiator;
  std::vector<std::string> images;
};

struct RuleMatch {
  const CompiledAuthorityPolicy* policy = nullptr;
  const AuthorityRule* rule = nullptr;
  // "<policy>/<rule>": how records and messages name it.
  std::string Name() const { return policy->name + "/" + rule->name; }
};

// Whether `rule`'s selectors match `request`, windows aside.
bool RuleSelects(const AuthorityRule& rule, const AuthorityRequest& request);
// Whether one of the rule's windows is open at Unix time `now` (UTC).
bool WindowOpen(const AuthorityRule& rule, int64_t now);

// The first rule that applies at `now`; `policies` sorted by name.
std::optional<RuleMatch> MatchRule(const std::vector<std::shared_ptr<const CompiledAuthorityPolicy>>& policies,
                                   const AuthorityRequest& request, int64_t now);

}  // namespace execgov::authority
