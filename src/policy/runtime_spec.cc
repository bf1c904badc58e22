#include "policy/runtime_spec.h"

#include <string>

namespace execgov::policy {
namespace {

Status UnknownMembers(const nlohmann::json& obj, const std::string& field, std::initializer_list<const char*> known) {
  for (auto m = obj.begin(); m != obj.end(); ++m) {
    bool ok = false;
    for (const char* k : known) ok = ok || m.key() == k;
    if (!ok) {
      std::string key = m.key().size() > 64 ? m.key().substr(0, 64) + "..." : m.key();
      return InvalidArgument(field + "." + key + ": unknown field");
    }
  }
  return Status::Ok();
}

// obj[key], a list of at most kMaxRuntimeNames names of 1..kMaxRuntimeNameBytes bytes.
Status Names(const nlohmann::json& obj, const char* key, const std::string& field, std::set<std::string>* out) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return Status::Ok();
  const std::string f = field + "." + key;
  if (!it->is_array() || it->size() > kMaxRuntimeNames) {
    return InvalidArgument(f + ": must be a list of at most " + std::to_string(kMaxRuntimeNames) + " names");
  }
  for (const auto& v : *it) {
    if (!v.is_string() || v.get<std::string>().empty() || v.get<std::string>().size() > kMaxRuntimeNameBytes) {
      return InvalidArgument(f + ": each must be a name of 1 to " + std::to_string(kMaxRuntimeNameBytes) + " characters");
    }
    out->insert(v.get<std::string>());
  }
  return Status::Ok();
}

}  // namespace

const char* RuntimeActionName(RuntimeAction a) { return a == RuntimeAction::kTerminate ? "Terminate" : "Report"; }

StatusOr<RuntimeSpec> CompileRuntimeSpec(const nlohmann::json& spec) {
  RuntimeSpec out;
  auto it = spec.find("runtime");
  if (it == spec.end() || it->is_null()) return out;
  const nlohmann::json& r = *it;
  if (!r.is_object()) return InvalidArgument("spec.runtime: must be an object");
  EXECGOV_RETURN_IF_ERROR(
      UnknownMembers(r, "spec.runtime", {"action", "gracePeriodSeconds", "dryRun", "namespaceGuardians", "breakGlass"}));
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
  if (auto g = r.find("namespaceGuardians"); g != r.end() && !g->is_null()) {
    if (!g->is_object()) return InvalidArgument("spec.runtime.namespaceGuardians: must be an object");
    EXECGOV_RETURN_IF_ERROR(UnknownMembers(*g, "spec.runtime.namespaceGuardians", {"users", "groups"}));
    EXECGOV_RETURN_IF_ERROR(Names(*g, "users", "spec.runtime.namespaceGuardians", &out.guardian_users));
    EXECGOV_RETURN_IF_ERROR(Names(*g, "groups", "spec.runtime.namespaceGuardians", &out.guardian_groups));
  }
  if (auto b = r.find("breakGlass"); b != r.end() && !b->is_null()) {
    if (!b->is_object()) return InvalidArgument("spec.runtime.breakGlass: must be an object");
    EXECGOV_RETURN_IF_ERROR(UnknownMembers(*b, "spec.runtime.breakGlass", {"groups"}));
    EXECGOV_RETURN_IF_ERROR(Names(*b, "groups", "spec.runtime.breakGlass", &out.break_glass_groups));
  }
  return out;
}

}  // namespace execgov::policy
