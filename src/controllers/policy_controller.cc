#include "controllers/policy_controller.h"

#include "api/object.h"
#include "controllers/status_conditions.h"
#include "core/log.h"

namespace execgov::controllers {
namespace {

// How soon to look again when the compiled snapshot lags the cache: both
// follow the same informer, so this is a matter of milliseconds.
constexpr std::chrono::milliseconds kCompileLag{200};

}  // namespace

std::string PolicyFailureReason(const Status& compile_error) {
  const std::string& m = compile_error.message();
  if (m.find(".keys[") != std::string::npos || m.find("publicKey") != std::string::npos) return "InvalidKey";
  return "InvalidSpec";
}

nlohmann::json DesiredPolicyStatus(const nlohmann::json& current, const PolicyCompileResult& result,
                                   std::chrono::system_clock::time_point now, bool* changed) {
  nlohmann::json status = current.is_object() ? current : nlohmann::json::object();
  Condition ready{"Ready", "True", "Valid", result.summary, result.generation};
  if (!result.status.ok()) {
    ready.status = "False";
    ready.reason = PolicyFailureReason(result.status);
    ready.message = result.status.message();
  }
  nlohmann::json conditions = status.value("conditions", nlohmann::json::array());
  bool any = SetCondition(conditions, ready, now);
  status["conditions"] = std::move(conditions);
  if (status.value("observedGeneration", int64_t{-1}) != result.generation) {
    status["observedGeneration"] = result.generation;
    any = true;
  }
  // A policy that does not compile loads no keys.
  int64_t keys = result.status.ok() ? static_cast<int64_t>(result.keys) : 0;
  if (!status.contains("keys") || status["keys"] != keys) {
    status["keys"] = keys;
    any = true;
  }
  *changed = any;
  return status;
}

PolicyController::PolicyController(PolicyControllerDeps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = &SystemClock::Get();
}

StatusOr<runtime::ReconcileResult> PolicyController::Reconcile(const std::string& key) {
  runtime::ObjectPtr obj = deps_.policies->Get(key);
  if (!obj) return runtime::ReconcileResult{};  // deleted: nothing to report on
  int64_t generation = (*obj)["metadata"].value("generation", int64_t{0});
  auto result = deps_.compiled->Result(api::NameOf(*obj));
  if (!result || result->generation < generation) return runtime::ReconcileResult{kCompileLag};

  nlohmann::json current = obj->value("status", nlohmann::json::object());
  bool changed = false;
  nlohmann::json status = DesiredPolicyStatus(current, *result, deps_.clock->Now(), &changed);
  if (!changed) return runtime::ReconcileResult{};

  nlohmann::json updated = *obj;
  updated["status"] = status;
  std::string path = kube::ResourcePath(std::string(api::kApiVersion), "executionpolicies", "", api::NameOf(*obj));
  auto written = deps_.client->UpdateStatus(path, updated);
  // A conflict means the cache is behind; the newer object's event requeues us.
  if (!written.ok()) return written.status();

  const nlohmann::json before_conditions = current.value("conditions", nlohmann::json::array());
  const nlohmann::json* before = FindCondition(before_conditions, "Ready");
  const nlohmann::json* after = FindCondition(status["conditions"], "Ready");
  bool transition = !before || (*before)["status"] != (*after)["status"] || (*before)["reason"] != (*after)["reason"] ||
                    (*before)["message"] != (*after)["message"];
  if (transition) {
    bool ok = result->status.ok();
    log::Info("policy status", {{"policy", api::NameOf(*obj)},
                                {"generation", result->generation},
                                {"ready", ok},
                                {"reason", (*after)["reason"]},
                                {"message", (*after)["message"]}});
    if (deps_.events) {
      deps_.events->Record(*written, ok ? kube::EventType::kNormal : kube::EventType::kWarning,
                           (*after)["reason"].get<std::string>(),
                           ok ? "policy compiled at generation " + std::to_string(result->generation) + ": " +
                                    result->summary
                              : result->status.message());
    }
  }
  return runtime::ReconcileResult{};
}

}  // namespace execgov::controllers
