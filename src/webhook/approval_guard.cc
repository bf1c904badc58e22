#include "webhook/approval_guard.h"

#include <algorithm>
#include <chrono>

#include "api/object.h"
#include "authority/approval.h"
#include "core/log.h"

namespace execgov::webhook {
namespace {

constexpr const char* kRefused = "ApprovalRefused";

AdmissionResponse Refused(const AdmissionRequest& req, const std::string& message) {
  AdmissionResponse resp;
  resp.uid = req.uid;
  resp.allowed = false;
  resp.code = 403;
  resp.message = std::string("execgov: ") + kRefused + ": " + message;
  resp.audit_annotations["decision"] = "denied";
  resp.audit_annotations["reason"] = kRefused;
  return resp;
}

}  // namespace

bool IsApprovalRequest(const AdmissionRequest& req) {
  return req.resource ==
         GroupVersionResource{std::string(api::kGroup), std::string(api::kVersion), authority::kApprovalResource};
}

ApprovalContextProvider ApprovalContextFromApi(kube::Client* client) {
  return [client](const std::string& ns, const std::string& name) -> StatusOr<ApprovalContext> {
    ApprovalContext ctx;
    const std::string api_version(api::kApiVersion);
    auto request = client->Get(kube::ResourcePath(api_version, "executionrequests", ns, name));
    if (request.ok()) {
      ctx.request = std::move(request).value();
    } else if (request.status().code() != StatusCode::kNotFound) {
      return request.status().WithContext("reading the ExecutionRequest");
    }
    auto listed = client->List(kube::ResourcePath(api_version, "authoritypolicies"), kube::ListOptions{});
    if (!listed.ok()) return listed.status().WithContext("listing the AuthorityPolicies");
    for (const auto& obj : listed->items) {
      auto compiled = authority::CompileAuthorityPolicy(obj);
      if (compiled.ok()) ctx.policies.push_back(std::move(compiled).value());
    }
    std::sort(ctx.policies.begin(), ctx.policies.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
    return ctx;
  };
}

AdmissionResponse GuardApproval(const AdmissionRequest& req, const ApprovalContextProvider& context,
                                ledger::Ledger* ledger, const Clock& clock, metrics::Metrics* metrics) {
  const auto start = std::chrono::steady_clock::now();
  auto answer = [&](AdmissionResponse resp, const std::string& message) {
    const bool allowed = resp.allowed;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (metrics) metrics->RecordAdmission(authority::kApprovalKind, allowed ? "allowed" : "denied",
                                          allowed ? "Allowed" : kRefused, secs);
    log::Info("approval", nlohmann::json{{"uid", req.uid}, {"namespace", req.ns}, {"name", req.name},
                                        {"operation", policy::OperationName(req.operation)}, {"user", req.user},
                                        {"decision", allowed ? "allowed" : "denied"}, {"message", message},
                                        {"dryRun", req.dry_run}});
    return resp;
  };
  if (!req.sub_resource.empty()) {
    // The CRD has no subresources; a review for one is not what we judge.
    return answer(Refused(req, "the ExecutionApproval subresource " + req.sub_resource + " is not served"), "subresource");
  }
  if (req.operation == policy::Operation::kDelete) {
    // Deleting an approval withdraws nothing: the ledger holds it. Allowed,
    // so a namespace can be cleaned up.
    AdmissionResponse resp;
    resp.uid = req.uid;
    resp.allowed = true;
    return resp;
  }
  if (req.operation != policy::Operation::kCreate) {
    const std::string m = "an ExecutionApproval cannot be changed once made; create another (a new decision)";
    return answer(Refused(req, m), m);
  }
  auto approval = authority::ParseApproval(req.object);
  if (!approval.ok()) return answer(Refused(req, approval.status().message()), approval.status().message());
  if (approval->ns != req.ns) {
    const std::string m = "the approval's namespace is not the request's";
    return answer(Refused(req, m), m);
  }
  if (approval->uid.empty()) {
    const std::string m = "the approval has no metadata.uid (the API server sets it before any webhook runs)";
    return answer(Refused(req, m), m);
  }
  authority::ApprovalJudgement j;
  if (!context) {
    j.message = "this webhook cannot read the cluster, so it cannot judge approvals";
  } else {
    auto ctx = context(approval->ns, approval->request_name);
    if (!ctx.ok()) {
      j.message = "cannot judge the approval: " + ctx.status().message();
    } else {
      j = authority::JudgeApproval(*approval, req.user, req.groups, ctx->request ? &*ctx->request : nullptr,
                                   ctx->policies, clock.NowUnix());
    }
  }
  std::optional<uint64_t> seq;
  if (ledger && !req.dry_run) {
    auto appended = ledger->Append(authority::ApprovalRecord(*approval, j, req.user));
    if (metrics) metrics->RecordLedgerAppend(appended.ok(), 0, appended.ok() ? appended->seq : 0);
    if (appended.ok()) {
      seq = appended->seq;
    } else if (j.allowed) {  // the authority counts only recorded approvals
      j.allowed = false;
      j.message = "cannot record the approval in the lineage ledger: " + appended.status().message();
    }
  } else if (!ledger && j.allowed) {
    j.allowed = false;
    j.message = "this webhook has no ledger to record the approval in";
  }
  AdmissionResponse resp = j.allowed ? AdmissionResponse{} : Refused(req, j.message);
  if (j.allowed) {
    resp.uid = req.uid;
    resp.allowed = true;
    resp.audit_annotations["decision"] = "allowed";
    resp.audit_annotations["reason"] = "Allowed";
  }
  if (seq) resp.audit_annotations["ledger-seq"] = std::to_string(*seq);
  return answer(std::move(resp), j.message);
}

}  // namespace execgov::webhook
