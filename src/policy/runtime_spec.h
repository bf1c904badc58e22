// spec.runtime of an ExecutionPolicy: what the operator does about a
// governed workload that fails verification after admission (the runtime
// verifier, controllers/runtime_verifier.h). Compiled with the rest of the
// policy; the webhook never reads it.
#pragma once

#include <cstdint>
#include <set>
#include <string>

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
  // spec.runtime.namespaceGuardians: who may remove execgov.io/governed from
  // a namespace the policy matches (the webhook refuses everyone else and
  // records each attempt). Exact names, no globs.
  std::set<std::string> guardian_users, guardian_groups;
  // spec.runtime.breakGlass.groups: members may create a Pod, Job or
  // ExecutionRequest the policy matches without an artifact, in an
  // emergency; admitted, recorded as breakGlass, reported until it is gone.
  std::set<std::string> break_glass_groups;

  bool Terminates() const { return action == RuntimeAction::kTerminate && !dry_run; }
};

// The most names a guardian or break-glass list holds, and their length.
inline constexpr size_t kMaxRuntimeNames = 32;
inline constexpr size_t kMaxRuntimeNameBytes = 253;

// Reads spec.runtime of a policy's spec (absent or null: the defaults).
// Errors name the field: "spec.runtime.action: \"Kill\" is not Report or Terminate".
StatusOr<RuntimeSpec> CompileRuntimeSpec(const nlohmann::json& spec);

}  // namespace execgov::policy
