// What the admission and JWS harnesses decide with: the policy the captured
// AdmissionReviews (tests/unit/webhook/testdata/apiserver) were decided
// under (corpus/policy_yaml/captured.json, also a seed of fuzz_policy_yaml;
// its key is the captures' authority.pub), and a clock fixed just after
// their artifacts were signed, so that the seeds reach the end of Decide
// (Allowed) and mutations of them every check on the way there.
#pragma once

#include <string>

#include "policy/decision.h"

namespace execgov::fuzz {

// Five seconds after the captured artifacts' iat.
inline constexpr int64_t kCapturedNow = 1796319453 + 5;

// Decide() with the captured policy, the clock above, a replay store in
// which every jti was consumed by the Job of job-create.json (so a Pod of
// that Job inherits, and anything else with that jti is a replay) and a
// ledger that holds no record. Aborts if the policy does not compile.
policy::Decision DecideCaptured(const policy::AdmissionAttributes& attrs);

}  // namespace execgov::fuzz
