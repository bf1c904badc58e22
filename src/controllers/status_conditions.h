// Status conditions as Kubernetes API conventions define them
// (metav1.Condition): a list keyed by `type`, each with status, reason,
// message, observedGeneration and lastTransitionTime. The controllers write
// status only when something changed, so a reconcile that finds the world as
// it should be makes no API call (no hot loop of self-triggered updates).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace execgov::controllers {

struct Condition {
  std::string type;
  std::string status;  // "True", "False" or "Unknown"
  std::string reason;  // CamelCase, machine-readable
  std::string message;
  int64_t observed_generation = 0;
};

// Sets `c` in `conditions` (a JSON array; null is treated as empty and
// becomes an array). lastTransitionTime becomes `now` only when the
// condition is new or its status changes; a new reason or message alone
// keeps the old time. Returns true when anything changed.
bool SetCondition(nlohmann::json& conditions, const Condition& c, std::chrono::system_clock::time_point now);

// The condition of `type` in `conditions`, or null.
const nlohmann::json* FindCondition(const nlohmann::json& conditions, const std::string& type);

}  // namespace execgov::controllers
