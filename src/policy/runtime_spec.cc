#include "policy/runtime_spec.h"

#include <string>

namespace execgov::policy {

const char* RuntimeActionName(RuntimeAction a) { return a == RuntimeAction::kTerminate ? "Terminate" : "Report"; }

StatusOr<RuntimeSpec> CompileRuntimeSpec(const nlohmann::json& spec) {
  RuntimeSpec out;
  auto it = spec.find("runtime");
  if (it == spec.end() || it->is_null()) return out;
  const nlohmann::json& r = *it;
  if (!r.is_object()) return InvalidArgument("spec.runtime: must be an object");
  for (auto m = r.begin(); m != r.end(); ++m) {
    if (m.key() != "action" && m.key() != "gracePeriodSeconds" && m.key() != "dryRun") {
      return InvalidArgument("spec.runtime." + m.key() + ": unknown field");
    }
  }
  if (auto a = r.find("action"); a != r.end() && !a->is_null()) {
    if (!a->is_string()) return InvalidArgument("spec.runtime.action: must be Report or Terminate");
    const std::string action = a->get<std::string>();
    if (action == "Terminate") {
      out.action = RuntimeAction::kTerminate;
    } else if (action != "Report") {
      std::string shown = action.size() > 64 ? action.substr(0, 64) + "..." : action;
      return InvalidArgument("spec.runtime.action: \"" + shown + "\" is not Report or Terminate");
    }
  }
  if (auto g = r.find("gracePeriodSeconds"); g != r.end() && !g->is_null()) {
    // An integer only: a float or a huge value is a typo, not a grace.
    if (!g->is_number_integer() || g->get<int64_t>() < 0 || g->get<int64_t>() > kMaxRuntimeGraceSeconds) {
      return InvalidArgument("spec.runtime.gracePeriodSeconds: must be an integer from 0 to " +
                             std::to_string(kMaxRuntimeGraceSeconds));
    }
    out.grace_period_seconds = g->get<int64_t>();
  }
  if (auto d = r.find("dryRun"); d != r.end() && !d->is_null()) {
    if (!d->is_boolean()) return InvalidArgument("spec.runtime.dryRun: must be true or false");
    out.dry_run = d->get<bool>();
  }
  return out;
}

}  // namespace execgov::policy
