#include "authority/approval.h"

#include <algorithm>
#include <set>

#include "api/execution_scope.h"
#include "api/object.h"
#include "authority/relay.h"

namespace execgov::authority {
namespace {

using nlohmann::json;

constexpr size_t kMaxNameBytes = 253;
constexpr size_t kMaxUidBytes = 128;
constexpr size_t kMaxUserBytes = 1024;  // user names are not DNS names (OIDC subjects, emails)

Status FieldError(const std::string& field, const std::string& why) {
  return InvalidArgument("ExecutionApproval: " + field + ": " + why);
}

bool IsDigest(const std::string& s) {
  if (s.size() != 7 + 64 || s.compare(0, 7, "sha256:") != 0) return false;
  return std::all_of(s.begin() + 7, s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A required string member of `obj` of 1..max bytes.
StatusOr<std::string> RequiredString(const json& obj, const char* key, const std::string& field, size_t max) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return FieldError(field + "." + key, "is required (a string)");
  const std::string& v = it->get_ref<const std::string&>();
  if (v.empty() || v.size() > max) {
    return FieldError(field + "." + key, "must be 1 to " + std::to_string(max) + " bytes");
  }
  return v;
}

}  // namespace

StatusOr<Approval> ParseApproval(const json& object) {
  if (!object.is_object()) return InvalidArgument("ExecutionApproval: not an object");
  if (api::KindOf(object) != kApprovalKind || object.value("apiVersion", json()) != json(std::string(api::kApiVersion))) {
    return FieldError("kind", "must be " + std::string(kApprovalKind) + " " + std::string(api::kApiVersion));
  }
  Approval a;
  a.ns = api::NamespaceOf(object);
  a.name = api::NameOf(object);
  a.uid = api::UidOf(object);
  if (a.ns.empty()) return FieldError("metadata.namespace", "is required: the request's namespace");
  auto spec = object.find("spec");
  if (spec == object.end() || !spec->is_object()) return FieldError("spec", "is required");
  static const std::set<std::string> known = {"requestName", "requestUID", "requestDigest", "decision", "approver",
                                              "reason"};
  for (auto it = spec->begin(); it != spec->end(); ++it) {
    if (!known.count(it.key())) return FieldError("spec." + it.key(), "unknown field");
  }
  EXECGOV_ASSIGN_OR_RETURN(a.request_name, RequiredString(*spec, "requestName", "spec", kMaxNameBytes));
  if (!api::IsDns1123Subdomain(a.request_name)) return FieldError("spec.requestName", "is not an object name");
  EXECGOV_ASSIGN_OR_RETURN(a.request_uid, RequiredString(*spec, "requestUID", "spec", kMaxUidBytes));
  EXECGOV_ASSIGN_OR_RETURN(a.request_digest, RequiredString(*spec, "requestDigest", "spec", 71));
  if (!IsDigest(a.request_digest)) return FieldError("spec.requestDigest", "must be sha256: and 64 lowercase hex digits");
  EXECGOV_ASSIGN_OR_RETURN(std::string decision, RequiredString(*spec, "decision", "spec", 16));
  if (decision != kApprove && decision != kDeny) return FieldError("spec.decision", "must be Approve or Deny");
  a.approve = decision == kApprove;
  EXECGOV_ASSIGN_OR_RETURN(a.approver, RequiredString(*spec, "approver", "spec", kMaxUserBytes));
  if (auto r = spec->find("reason"); r != spec->end() && !r->is_null()) {
    if (!r->is_string() || r->get_ref<const std::string&>().size() > kMaxApprovalReasonBytes) {
      return FieldError("spec.reason", "must be a string of at most " + std::to_string(kMaxApprovalReasonBytes) + " bytes");
    }
    a.reason = r->get<std::string>();
  }
  return a;
}

ApprovalJudgement JudgeApproval(const Approval& a, const std::string& user, const std::vector<std::string>& user_groups,
                                const json* request,
                                const std::vector<std::shared_ptr<const CompiledAuthorityPolicy>>& policies,
                                int64_t now) {
  ApprovalJudgement j;
  const std::string what = "request " + a.ns + "/" + a.request_name;
  auto refuse = [&](std::string message) {
    j.allowed = false;
    j.message = std::move(message);
    return j;
  };
  if (user.empty() || a.approver != user) {
    return refuse("the approver must be the user creating the approval: spec.approver is \"" + a.approver +
                  "\", the requesting user \"" + user + "\"");
  }
  if (!request || !request->is_object()) return refuse("there is no " + what);
  if (api::UidOf(*request) != a.request_uid) {
    return refuse(what + " is not the one approved (uid " + api::UidOf(*request) + ", not " + a.request_uid +
                  "): it was deleted and made again");
  }
  j.initiator = api::StringAt(*request, {"spec", "initiator"});
  if (api::StringAt(*request, {"status", "phase"}) != "AwaitingAuthorization" || api::ArtifactOf(*request)) {
    const std::string phase = api::StringAt(*request, {"status", "phase"});
    return refuse(what + " is not awaiting authorization (phase " + (phase.empty() ? "none yet" : phase) + ")");
  }
  auto digest = api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, *request);
  if (!digest.ok()) return refuse("cannot compute the digest of " + what + ": " + digest.status().message());
  if (*digest != a.request_digest) {
    return refuse(what + " changed since it was approved (digest " + *digest + ", not " + a.request_digest + ")");
  }
  if (j.initiator.empty() || a.approver == j.initiator) {
    return refuse(a.approver + " is the initiator of " + what + " and may not approve or deny it (separation of duties)");
  }
  // A relayed request (relay.h) is judged as the Job or Pod it stands for.
  const AuthorityRequest facts = RequestFacts(*request);
  const std::optional<RuleMatch> match = MatchRule(policies, facts, now);
  if (!match) return refuse("no AuthorityPolicy rule applies to " + what + ", so no one may approve it");
  j.rule = match->Name();
  if (match->rule->action != Action::kRequireApprovals) {
    return refuse("AuthorityPolicy rule " + j.rule + " (" + ActionName(match->rule->action) + ") takes no approvals");
  }
  for (const auto& g : match->rule->approver_groups) {
    if (std::find(user_groups.begin(), user_groups.end(), g) != user_groups.end()) j.groups.push_back(g);
  }
  if (j.groups.empty()) {
    std::string groups;
    for (const auto& g : match->rule->approver_groups) groups += (groups.empty() ? "" : ", ") + g;
    return refuse(a.approver + " is in none of the approver groups of AuthorityPolicy rule " + j.rule + " (" + groups +
                  ")");
  }
  j.allowed = true;
  j.message = std::string(a.approve ? kApprove : kDeny) + " of " + what + " by " + a.approver + " under rule " + j.rule;
  return j;
}

json ApprovalRecord(const Approval& a, const ApprovalJudgement& j, const std::string& user) {
  json record = {{"type", "approval"},
                 {"decision", j.allowed ? "allowed" : "denied"},
                 {"verdict", a.approve ? kApprove : kDeny},
                 {"approver", a.approver},
                 {"user", user},
                 {"groups", j.groups},
                 {"digest", a.request_digest},
                 {"message", j.message},
                 {"object",
                  {{"kind", "ExecutionRequest"}, {"namespace", a.ns}, {"name", a.request_name}, {"uid", a.request_uid}}},
                 {"approval", {{"kind", kApprovalKind}, {"name", a.name}, {"uid", a.uid}}}};
  if (!a.reason.empty()) record["reason"] = a.reason;
  if (!j.rule.empty()) record["rule"] = j.rule;
  if (!j.initiator.empty()) record["initiator"] = j.initiator;
  return record;
}

std::optional<std::pair<std::string, RecordedApproval>> ReadApprovalRecord(const json& r) {
  if (!r.is_object() || r.value("type", json()) != json("approval") || r.value("decision", json()) != json("allowed")) {
    return std::nullopt;
  }
  auto str = [&](std::initializer_list<const char*> path) { return api::StringAt(r, path); };
  const std::string request_uid = str({"object", "uid"});
  const std::string verdict = str({"verdict"});
  RecordedApproval a;
  a.approval_name = str({"approval", "name"});
  a.approval_uid = str({"approval", "uid"});
  a.approver = str({"approver"});
  a.reason = str({"reason"});
  a.digest = str({"digest"});
  a.approve = verdict == kApprove;
  if (request_uid.empty() || a.approver.empty() || a.digest.empty() || (verdict != kApprove && verdict != kDeny)) {
    return std::nullopt;
  }
  auto groups = r.find("groups");
  if (groups == r.end() || !groups->is_array()) return std::nullopt;
  for (const auto& g : *groups) {
    if (!g.is_string()) return std::nullopt;
    a.groups.push_back(g.get<std::string>());
  }
  return std::make_pair(request_uid, std::move(a));
}

ApprovalTally TallyApprovals(const std::vector<RecordedApproval>& recorded, const AuthorityRule& rule,
                             const std::string& initiator, const std::string& creator, const std::string& digest) {
  ApprovalTally t;
  for (const auto& a : recorded) {
    const bool entitled =
        !a.approver.empty() && a.approver != initiator && a.approver != creator &&
        std::any_of(a.groups.begin(), a.groups.end(), [&](const std::string& g) {
          return std::find(rule.approver_groups.begin(), rule.approver_groups.end(), g) != rule.approver_groups.end();
        });
    if (!entitled) {
      ++t.ineligible;
      continue;
    }
    if (a.digest != digest) {
      ++t.voided;
      continue;
    }
    if (!a.approve) {
      if (!t.denial) t.denial = a;
      continue;
    }
    if (std::find(t.approvers.begin(), t.approvers.end(), a.approver) == t.approvers.end()) {
      t.approvers.push_back(a.approver);
      t.counted.push_back(a);
    }
  }
  return t;
}

std::string WaitingForApprovals(const AuthorityRule& rule, size_t given) {
  std::string groups;
  for (const auto& g : rule.approver_groups) groups += (groups.empty() ? "" : ", ") + g;
  return std::to_string(rule.approvals) + (rule.approvals == 1 ? " approval" : " approvals") + " from " + groups + " (" +
         std::to_string(given) + " given)";
}

StatusOr<nlohmann::json> NewApproval(const nlohmann::json& request, bool approve, const std::string& approver,
                                     const std::string& reason) {
  const std::string ns = api::NamespaceOf(request), name = api::NameOf(request);
  const std::string phase = api::StringAt(request, {"status", "phase"});
  if (phase != "AwaitingAuthorization") {
    return FailedPrecondition(ns + "/" + name + " is not awaiting authorization (phase " +
                              (phase.empty() ? "none yet" : phase) + ")");
  }
  EXECGOV_ASSIGN_OR_RETURN(std::string digest,
                           api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, request));
  const std::string prefix = name.substr(0, 200) + (approve ? "-approve-" : "-deny-");
  nlohmann::json approval = {{"apiVersion", std::string(api::kApiVersion)},
                             {"kind", kApprovalKind},
                             {"metadata", {{"generateName", prefix}, {"namespace", ns}}},
                             {"spec",
                              {{"requestName", name},
                               {"requestUID", api::UidOf(request)},
                               {"requestDigest", digest},
                               {"decision", approve ? kApprove : kDeny},
                               {"approver", approver}}}};
  if (!reason.empty()) approval["spec"]["reason"] = reason;
  return approval;
}

}  // namespace execgov::authority
