// spec.runtime of an ExecutionPolicy: what the operator does about a
// governed workload that fails verification after admission (the runtime
// verifier, controllers/runtime_verifier.h). Compiled with the rest of the
// policy; the webhook never reads it.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "crypto/json.h"

namespace execgov::policy {

enum class RuntimeAction {
  kReport,     // PolicyReport result, Event, metric: nothing is stopped
  kTerminate,  // and the workload is stopped: Pod deleted, Job suspended, ExecutionRequest Revoked
};
const char* RuntimeActionName(RuntimeAction a);

// The longest spec.runtime.gracePeriodSeconds: a day. Longer is no longer a
// grace but a policy that never terminates; Report says that plainly.
inline constexpr int64_t kMaxRuntimeGraceSeconds = 86400;
inline constexpr int64_t kDefaultRuntimeGraceSeconds = 30;

struct RuntimeSpec {
  RuntimeAction action = RuntimeAction::kReport;
  // How long a finding must have been seen, continuously, before the
  // workload is terminated: time for an admin to see what will be stopped,
  // and for caches that lag a moment to catch up. 0..kMaxRuntimeGraceSeconds.
  int64_t grace_period_seconds = kDefaultRuntimeGraceSeconds;
  // With Terminate: say what would be stopped (report, Event) and stop nothing.
  bool dry_run = false;

  bool Terminates() const { return action == RuntimeAction::kTerminate && !dry_run; }
};

// Reads spec.runtime of a policy's spec (absent or null: the defaults).
// Errors name the field: "spec.runtime.action: \"Kill\" is not Report or Terminate".
StatusOr<RuntimeSpec> CompileRuntimeSpec(const nlohmann::json& spec);

}  // namespace execgov::policy
