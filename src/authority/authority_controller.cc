#include "authority/authority_controller.h"

#include <algorithm>

#include "api/execution_scope.h"
#include "api/object.h"
#include "authority/relay.h"
#include "controllers/status_conditions.h"
#include "core/log.h"
#include "crypto/encoding.h"
#include "crypto/jws.h"
#include "policy/decision.h"

namespace execgov::authority {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kWaitForParent{2000};
constexpr milliseconds kWaitForAdmissionRecord{2000};
// A grant this close to its exp is not attached: the webhook would refuse it
// as expired by the time it arrived.
constexpr int64_t kAttachMarginSeconds = 5;
constexpr size_t kMaxIntentBytes = 1024;

int64_t UnixOf(const std::string& rfc3339, int64_t fallback) {
  auto t = ParseRfc3339(rfc3339);
  return t ? std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count() : fallback;
}

std::string RequestPath(const json& request) {
  return kube::ResourcePath(std::string(api::kApiVersion), "executionrequests", api::NamespaceOf(request),
                            api::NameOf(request));
}

milliseconds Until(int64_t deadline, int64_t now) {
  return milliseconds(std::max<int64_t>(1, deadline - now) * 1000);
}

}  // namespace

void GrantIndex::Observe(std::string_view record) {
  // Cheap filter first: most records are admissions.
  if (record.find("\"type\":\"grant\"") == std::string_view::npos &&
      record.find("\"type\":\"denial\"") == std::string_view::npos &&
      record.find("\"authorization\":\"awaiting\"") == std::string_view::npos &&
      record.find("\"type\":\"approval\"") == std::string_view::npos) {
    return;
  }
  json r = json::parse(record, nullptr, /*allow_exceptions=*/false);
  if (!r.is_object()) return;
  const std::string type = r.value("type", "");
  const std::string uid = api::StringAt(r, {"object", "uid"});
  if (uid.empty()) return;
  if (type == "denial") {
    NoteRefusal(uid);
    return;
  }
  if (type == "approval") {
    if (auto a = ReadApprovalRecord(r)) NoteApproval(a->first, std::move(a->second));
    return;
  }
  if (type == "admission") {
    if (r.value("decision", "") == "allowed" && r.value("authorization", "") == "awaiting" &&
        api::StringAt(r, {"object", "kind"}) == "ExecutionRequest") {
      NoteAdmitted(uid, r.value("initiator", ""), r.value("user", ""));
    }
    return;
  }
  if (type != "grant" || !r.contains("claims") || !r["claims"].is_object()) return;
  Grant g;
  g.claims = r["claims"];
  g.rule = r.value("rule", json::object()).value("policy", "") + "/" + r.value("rule", json::object()).value("name", "");
  g.initiator = r.value("initiator", "");
  g.iat = g.claims.value("iat", int64_t{0});
  g.exp = g.claims.value("exp", int64_t{0});
  NoteGrant(uid, std::move(g));
}

void GrantIndex::NoteGrant(const std::string& uid, Grant grant) {
  std::lock_guard lock(mu_);
  if (grants_.count(uid)) return;  // the first grant is the grant
  issued_[{grant.rule, grant.initiator}].push_back(grant.iat);
  grants_.emplace(uid, std::move(grant));
}

void GrantIndex::NoteAdmitted(const std::string& uid, const std::string& initiator, const std::string& user) {
  std::lock_guard lock(mu_);
  admitted_.emplace(uid, std::make_pair(initiator, user));
}

std::optional<std::string> GrantIndex::AdmittedInitiator(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = admitted_.find(uid);
  if (it == admitted_.end()) return std::nullopt;
  return it->second.first;
}

std::string GrantIndex::AdmittedUser(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = admitted_.find(uid);
  return it == admitted_.end() ? "" : it->second.second;
}

void GrantIndex::NoteApproval(const std::string& request_uid, RecordedApproval approval) {
  std::lock_guard lock(mu_);
  if (approval.approval_uid.empty() || !approval_uids_.insert(approval.approval_uid).second) return;
  approvals_[request_uid].push_back(std::move(approval));
}

std::vector<RecordedApproval> GrantIndex::Approvals(const std::string& request_uid) const {
  std::lock_guard lock(mu_);
  auto it = approvals_.find(request_uid);
  return it == approvals_.end() ? std::vector<RecordedApproval>{} : it->second;
}

bool GrantIndex::HasApproval(const std::string& approval_uid) const {
  std::lock_guard lock(mu_);
  return approval_uids_.count(approval_uid) > 0;
}

void GrantIndex::NoteRefusal(const std::string& uid) {
  std::lock_guard lock(mu_);
  refused_.insert(uid);
}

std::optional<GrantIndex::Grant> GrantIndex::FindGrant(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = grants_.find(uid);
  if (it == grants_.end()) return std::nullopt;
  return it->second;
}

bool GrantIndex::Refused(const std::string& uid) const {
  std::lock_guard lock(mu_);
  return refused_.count(uid) > 0;
}

int GrantIndex::CountGrants(const std::string& rule, const std::string& initiator, int64_t since) const {
  std::lock_guard lock(mu_);
  auto it = issued_.find({rule, initiator});
  if (it == issued_.end()) return 0;
  return static_cast<int>(std::count_if(it->second.begin(), it->second.end(), [&](int64_t t) { return t >= since; }));
}

AuthorityController::AuthorityController(AuthorityControllerDeps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = &SystemClock::Get();
}

std::vector<std::shared_ptr<const CompiledAuthorityPolicy>> AuthorityController::Policies() const {
  std::vector<std::shared_ptr<const CompiledAuthorityPolicy>> out;
  for (const auto& obj : deps_.authority_policies->List()) {
    auto compiled = CompileAuthorityPolicy(*obj);
    if (compiled.ok()) out.push_back(std::move(compiled).value());
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->name < b->name; });
  return out;
}

std::optional<int64_t> AuthorityController::MaxTTLFor(const std::string& ns) const {
  std::optional<int64_t> least;
  for (const auto& obj : deps_.execution_policies->List()) {
    const json spec = obj->value("spec", json::object());
    const json match = spec.value("match", json::object());
    auto listed = [&](const char* key) {
      const json list = match.value(key, json::array());
      return list.is_array() && std::find(list.begin(), list.end(), json(ns)) != list.end();
    };
    const json kinds = match.value("kinds", json::array());
    if (kinds.is_array() && !kinds.empty() && std::find(kinds.begin(), kinds.end(), json("ExecutionRequest")) == kinds.end()) {
      continue;
    }
    const json namespaces = match.value("namespaces", json::array());
    if (namespaces.is_array() && !namespaces.empty() && !listed("namespaces")) continue;
    if (listed("excludedNamespaces")) continue;
    const json max_ttl = spec.value("maxTTL", json("15m"));
    auto d = ParseDuration(max_ttl.is_string() ? max_ttl.get<std::string>() : "15m");
    const int64_t secs = d ? d->count() / 1000 : 900;
    if (!least || secs < *least) least = secs;
  }
  return least;
}

bool AuthorityController::Watches(const std::string& ns) const {
  return deps_.watch_namespaces.empty() || deps_.watch_namespaces.count(ns) > 0;
}

size_t AuthorityController::PendingRelays(const std::string& initiator) const {
  size_t n = 0;
  for (const auto& obj : deps_.requests->List()) {
    const std::string phase = api::StringAt(*obj, {"status", "phase"});
    if ((phase.empty() || phase == kPhaseAwaiting || phase == "Pending") &&
        api::StringAt(*obj, {"spec", "initiator"}) == initiator && api::StringAt(*obj, {"spec", "relay", "kind"}) != "") {
      ++n;
    }
  }
  return n;
}

json AuthorityController::ObjectRecord(const json& request) const {
  return {{"kind", "ExecutionRequest"},
          {"namespace", api::NamespaceOf(request)},
          {"name", api::NameOf(request)},
          {"uid", api::UidOf(request)},
          {"generation", request.value("metadata", json::object()).value("generation", int64_t{0})}};
}

StatusOr<runtime::ReconcileResult> AuthorityController::Reconcile(const std::string& key) {
  runtime::ObjectPtr cached = deps_.requests->Get(key);
  if (!cached) return runtime::ReconcileResult{};
  const json& request = *cached;
  const std::string ns = api::NamespaceOf(request), uid = api::UidOf(request);
  if (!Watches(ns)) return runtime::ReconcileResult{};
  // Only what the operator confirmed waits, and only until something is attached.
  if (api::StringAt(request, {"status", "phase"}) != kPhaseAwaiting) return runtime::ReconcileResult{};
  if (api::ArtifactOf(request)) return runtime::ReconcileResult{};

  const int64_t now = deps_.clock->NowUnix();
  const int64_t created = UnixOf(api::StringAt(request, {"metadata", "creationTimestamp"}), now);
  const std::string initiator = api::StringAt(request, {"spec", "initiator"});
  auto digest = api::ExecutionScopeDigest(api::GovernedKind::kExecutionRequest, request);
  if (!digest.ok()) {
    return Refuse(request, kPhaseDenied, "", "cannot compute the request's execution scope: " + digest.status().message());
  }
  // A relayed request (relay.h) is judged as the Job or Pod it stands for,
  // and its grant is for that Job or Pod.
  auto relay = RelayOf(request);
  if (!relay.ok()) return Refuse(request, kPhaseDenied, "", relay.status().message());
  std::string scope_kind = "ExecutionRequest", scope_name = api::NameOf(request), scope_digest = *digest;
  if (*relay) {
    auto manifest = RelayedManifest(request);
    StatusOr<std::string> relayed_digest = manifest.status();
    if (manifest.ok()) relayed_digest = api::ExecutionScopeDigest((*relay)->kind, *manifest);
    if (!relayed_digest.ok()) {
      return Refuse(request, kPhaseDenied, "", "cannot compute the relayed manifest's scope: " +
                                                   relayed_digest.status().message());
    }
    scope_kind = api::GovernedKindName((*relay)->kind);
    scope_name = (*relay)->name;
    scope_digest = *relayed_digest;
  }
  const AuthorityRequest facts = RequestFacts(request);
  const auto policies = Policies();
  const std::optional<RuleMatch> match = MatchRule(policies, facts, now);
  const std::string rule_name = match ? match->Name() : "";
  const int64_t deadline = created + (match ? match->rule->timeout_seconds : deps_.default_timeout_seconds);

  if (auto grant = deps_.index->FindGrant(uid)) {
    if (*relay) return MarkGranted(request, *grant);
    if (now + kAttachMarginSeconds < grant->exp) {
      if (auto wait = AttachWait(uid); wait.count() > 0) return runtime::ReconcileResult{wait};
      return Attach(request, *grant);
    }
    return Refuse(request, kPhaseExpired, grant->rule,
                  "the grant of rule " + grant->rule + " expired before it could be attached; create a new request");
  }
  // The webhook's record of admitting it, for this initiator (the ledger
  // read again once when this process has not seen it yet).
  auto admitted = deps_.index->AdmittedInitiator(uid);
  if (!admitted) {
    if (Status st = deps_.ledger->CatchUp(); !st.ok()) return st.WithContext("reading the ledger's tail");
    admitted = deps_.index->AdmittedInitiator(uid);
  }
  if (admitted && *admitted != initiator) {
    return Refuse(request, kPhaseDenied, "",
                  "the request's initiator is not the one the webhook admitted it for (" + *admitted + ")");
  }
  if (!admitted) {
    if (now >= deadline) {
      return Refuse(request, kPhaseExpired, rule_name,
                    "the ledger holds no record of the webhook admitting this request without an artifact");
    }
    EXECGOV_RETURN_IF_ERROR(ShowWaiting(request, rule_name, "the record of its admission in the ledger", deadline));
    return runtime::ReconcileResult{std::min(kWaitForAdmissionRecord, Until(deadline, now))};
  }
  if (now >= deadline) {
    return Refuse(request, kPhaseExpired, rule_name,
                  match ? "not authorized within the timeout of AuthorityPolicy rule " + rule_name
                        : "no AuthorityPolicy rule applied to the request within the authority's default timeout");
  }
  if (!match) {
    EXECGOV_RETURN_IF_ERROR(ShowWaiting(request, "", "an AuthorityPolicy rule that applies", deadline));
    return runtime::ReconcileResult{Until(deadline, now)};
  }
  const AuthorityRule& rule = *match->rule;
  if (rule.action == Action::kAutoDeny) {
    return Refuse(request, kPhaseDenied, rule_name, "denied by AuthorityPolicy rule " + rule_name);
  }
  json approvals_given = json::array();  // in the grant record, when approvals granted it
  if (rule.action == Action::kRequireApprovals) {
    // An approval object the ledger's tail may hold the record of.
    if (deps_.approvals) {
      for (const auto& obj : deps_.approvals->List()) {
        if (api::NamespaceOf(*obj) == ns && api::StringAt(*obj, {"spec", "requestUID"}) == uid &&
            !deps_.index->HasApproval(api::UidOf(*obj))) {
          if (Status st = deps_.ledger->CatchUp(); !st.ok()) return st.WithContext("reading the ledger's tail");
          break;
        }
      }
    }
    const ApprovalTally tally =
        TallyApprovals(deps_.index->Approvals(uid), rule, initiator, deps_.index->AdmittedUser(uid), *digest);
    if (tally.denial) {
      const RecordedApproval& d = *tally.denial;
      return Refuse(request, kPhaseDenied, rule_name,
                    "denied by " + d.approver + " under AuthorityPolicy rule " + rule_name +
                        (d.reason.empty() ? std::string() : ": " + d.reason),
                    {{"approver", d.approver},
                     {"approval", {{"kind", kApprovalKind}, {"name", d.approval_name}, {"uid", d.approval_uid}}},
                     {"approverReason", d.reason}});
    }
    if (tally.approvers.size() < static_cast<size_t>(rule.approvals)) {
      EXECGOV_RETURN_IF_ERROR(ShowWaiting(request, rule_name, WaitingForApprovals(rule, tally.approvers.size()), deadline));
      return runtime::ReconcileResult{Until(deadline, now)};
    }
    for (const auto& a : tally.counted) {
      approvals_given.push_back({{"approver", a.approver}, {"name", a.approval_name}, {"uid", a.approval_uid}});
    }
  }
  if (rule.rate_count > 0 &&
      deps_.index->CountGrants(rule_name, initiator, now - rule.rate_per_seconds) >= rule.rate_count) {
    return Refuse(request, kPhaseDenied, rule_name,
                  "initiator " + initiator + " reached the rate limit of AuthorityPolicy rule " + rule_name + " (" +
                      std::to_string(rule.rate_count) + " grants per " + std::to_string(rule.rate_per_seconds) + "s)");
  }

  // The parent: the lineage of the request spec.parentRef names.
  std::string parent;
  const json spec = request.value("spec", json::object());
  if (auto ref = spec.find("parentRef"); ref != spec.end() && ref->is_object()) {
    runtime::ObjectPtr p = deps_.requests->Get(ref->value("namespace", ns) + "/" + ref->value("name", ""));
    if (p) parent = api::StringAt(*p, {"status", "lineage", "hash"});
    if (parent.empty()) return runtime::ReconcileResult{kWaitForParent};
  }
  int64_t ttl = rule.ttl_seconds;
  if (auto bound = MaxTTLFor(ns); bound && *bound < ttl) ttl = *bound;
  GrantIndex::Grant grant;
  grant.rule = rule_name;
  grant.initiator = initiator;
  grant.iat = now;
  grant.exp = now + ttl;
  grant.claims = {{"iss", deps_.signer->issuer},
                  {"sub", initiator},
                  {"aud", deps_.signer->audience},
                  {"iat", now},
                  {"nbf", now},
                  {"exp", now + ttl},
                  {"jti", crypto::Base64UrlEncode(crypto::RandomBytes(16))},
                  {"scope",
                   {{"projection", api::kExecutionScopeProjection},
                    {"namespace", ns},
                    {"kind", scope_kind},
                    {"name", scope_name},
                    {"digest", scope_digest}}}};
  if (spec.contains("intent") && spec["intent"].is_string() && !spec["intent"].get<std::string>().empty() &&
      spec["intent"].get<std::string>().size() <= kMaxIntentBytes) {
    grant.claims["intent"] = spec["intent"];
  }
  if (!parent.empty()) grant.claims["parent"] = parent;
  // Recorded before anything is signed: a restart finds it and signs these
  // claims again instead of granting anew.
  json record = {{"type", "grant"},
                 {"authority", deps_.identity},
                 {"kid", deps_.signer->kid},
                 {"rule", {{"policy", match->policy->name}, {"name", rule.name}, {"generation", match->policy->generation}}},
                 {"jti", grant.claims["jti"]},
                 {"initiator", initiator},
                 {"object", ObjectRecord(request)},
                 {"digest", *digest},
                 {"claims", grant.claims}};
  if (!approvals_given.empty()) record["approvals"] = approvals_given;
  if (*relay) {
    // The artifact goes to the HTTPS caller, for the Job or Pod relayed.
    record["via"] = "https";
    record["requester"] = {{"username", initiator}};
    record["relayed"] = {{"kind", scope_kind}, {"namespace", ns}, {"name", scope_name}, {"digest", scope_digest}};
  }
  auto appended = deps_.ledger->Append(record);
  if (!appended.ok()) return appended.status().WithContext("recording the grant in the ledger");
  deps_.index->NoteGrant(uid, grant);
  log::Info("authority: granted", {{"namespace", ns},
                                   {"name", api::NameOf(request)},
                                   {"uid", uid},
                                   {"rule", rule_name},
                                   {"jti", grant.claims["jti"].get<std::string>()},
                                   {"ledgerSeq", appended->seq}});
  if (*relay) return MarkGranted(request, grant);
  return Attach(request, grant);
}

StatusOr<runtime::ReconcileResult> AuthorityController::MarkGranted(const json& request, const GrantIndex::Grant& grant) {
  const std::string uid = api::UidOf(request);
  const std::string jti = grant.claims.value("jti", "");
  const std::string message = "granted by AuthorityPolicy rule " + grant.rule + " (artifact " + jti +
                              ") to the caller of the authority's HTTPS endpoint; nothing runs from this request";
  auto written = kube::UpdateWithRetry(
      *deps_.client, RequestPath(request),
      [&](json& obj) {
        if (api::UidOf(obj) != uid || api::StringAt(obj, {"status", "phase"}) != kPhaseAwaiting) return false;
        json& status = obj["status"];
        status["phase"] = kPhaseGranted;
        status["observedGeneration"] = obj["metadata"].value("generation", int64_t{0});
        status["authorization"] = {{"rule", grant.rule}, {"jti", jti}};
        controllers::SetCondition(status["conditions"],
                                  {"Authorized", "True", "GrantedOverHTTPS", message,
                                   status["observedGeneration"].get<int64_t>()},
                                  deps_.clock->Now());
        return true;
      },
      /*status=*/true);
  if (!written.ok() && written.status().code() != StatusCode::kNotFound) {
    return written.status().WithContext("writing the relayed request's Granted status");
  }
  if (written.ok() && api::StringAt(*written, {"status", "phase"}) == kPhaseGranted && deps_.events) {
    deps_.events->Record(request, kube::EventType::kNormal, "Granted", message);
  }
  return runtime::ReconcileResult{};
}

StatusOr<runtime::ReconcileResult> AuthorityController::Attach(const json& request, const GrantIndex::Grant& grant) {
  auto token = crypto::SignJws(grant.claims, deps_.signer->kid, deps_.signer->key);
  if (!token.ok()) return token.status().WithContext("signing the grant");
  const std::string uid = api::UidOf(request);
  bool replaced = false;
  auto written = kube::UpdateWithRetry(*deps_.client, RequestPath(request), [&](json& obj) {
    if (api::UidOf(obj) != uid) {  // deleted and made again under the same name: not what was granted
      replaced = true;
      return false;
    }
    if (api::ArtifactOf(obj)) return false;
    obj["metadata"]["annotations"][std::string(api::kArtifactAnnotation)] = *token;
    return true;
  });
  if (!written.ok()) {
    if (written.status().code() == StatusCode::kNotFound) return runtime::ReconcileResult{};
    AttachFailed(uid);
    if (deps_.events) {
      deps_.events->Record(request, kube::EventType::kWarning, "GrantNotAttached",
                           "the grant of rule " + grant.rule + " could not be attached: " + written.status().message());
    }
    return written.status().WithContext("attaching the grant");
  }
  AttachDone(uid);
  if (replaced) return runtime::ReconcileResult{};
  if (deps_.events) {
    deps_.events->Record(request, kube::EventType::kNormal, "Granted",
                         "authorized by AuthorityPolicy rule " + grant.rule + " (artifact " +
                             grant.claims.value("jti", "") + ")");
  }
  // The request waits for nothing any more: say which rule granted it.
  const json shown = {{"rule", grant.rule}, {"jti", grant.claims.value("jti", "")}};
  auto noted = kube::UpdateWithRetry(
      *deps_.client, RequestPath(request),
      [&](json& obj) {
        if (api::UidOf(obj) != uid || obj.value("status", json::object()).value("authorization", json()) == shown) {
          return false;
        }
        obj["status"]["authorization"] = shown;
        return true;
      },
      /*status=*/true);
  if (!noted.ok() && noted.status().code() != StatusCode::kNotFound) {
    log::Warn("authority: cannot note the grant in the request's status", {{"error", noted.status().message()}});
  }
  return runtime::ReconcileResult{};
}

std::chrono::milliseconds AuthorityController::AttachWait(const std::string& uid) const {
  std::lock_guard lock(backoff_mu_);
  auto it = attach_backoff_.find(uid);
  if (it == attach_backoff_.end()) return milliseconds(0);
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(it->second.next - deps_.clock->Now()));
}

void AuthorityController::AttachFailed(const std::string& uid) {
  // Bounded: past this many requests failing at once, forgetting them all
  // only makes their next attempts sooner.
  constexpr size_t kMaxTracked = 4096;
  std::lock_guard lock(backoff_mu_);
  if (attach_backoff_.size() >= kMaxTracked && !attach_backoff_.count(uid)) attach_backoff_.clear();
  AttachBackoff& b = attach_backoff_[uid];
  b.failures = std::min(b.failures + 1, 30);
  milliseconds delay = kAttachBackoffBase;
  for (int i = 1; i < b.failures && delay < kAttachBackoffMax; ++i) delay *= 2;
  b.next = deps_.clock->Now() + std::min(delay, kAttachBackoffMax);
}

void AuthorityController::AttachDone(const std::string& uid) {
  std::lock_guard lock(backoff_mu_);
  attach_backoff_.erase(uid);
}

Status AuthorityController::ShowWaiting(const json& request, const std::string& rule, const std::string& waiting_for,
                                       int64_t deadline) {
  json shown = {{"waitingFor", waiting_for},
                {"deadline", FormatRfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(deadline)))}};
  if (!rule.empty()) shown["rule"] = rule;
  if (request.value("status", json::object()).value("authorization", json()) == shown) return Status::Ok();
  const std::string uid = api::UidOf(request);
  auto written = kube::UpdateWithRetry(
      *deps_.client, RequestPath(request),
      [&](json& obj) {
        if (api::UidOf(obj) != uid || api::StringAt(obj, {"status", "phase"}) != kPhaseAwaiting) return false;
        if (obj["status"].value("authorization", json()) == shown) return false;
        obj["status"]["authorization"] = shown;
        return true;
      },
      /*status=*/true);
  if (!written.ok() && written.status().code() != StatusCode::kNotFound) {
    return written.status().WithContext("showing what the request waits for");
  }
  return Status::Ok();
}

StatusOr<runtime::ReconcileResult> AuthorityController::Refuse(const json& request, const std::string& phase,
                                                               const std::string& rule, const std::string& message,
                                                               const json& extra) {
  const std::string uid = api::UidOf(request);
  AttachDone(uid);  // nothing more is attached to it
  if (!deps_.index->Refused(uid)) {
    json record = {{"type", "denial"},
                   {"reason", phase},
                   {"authority", deps_.identity},
                   {"initiator", api::StringAt(request, {"spec", "initiator"})},
                   {"object", ObjectRecord(request)},
                   {"message", message}};
    if (!rule.empty()) record["rule"] = rule;
    for (auto it = extra.begin(); it != extra.end(); ++it) {
      if (!record.contains(it.key())) record[it.key()] = it.value();
    }
    auto appended = deps_.ledger->Append(record);
    if (!appended.ok()) return appended.status().WithContext("recording the refusal in the ledger");
    deps_.index->NoteRefusal(uid);
  }
  const std::string reason = phase == kPhaseExpired ? "AuthorizationExpired" : "AuthorityDenied";
  auto written = kube::UpdateWithRetry(
      *deps_.client, RequestPath(request),
      [&](json& obj) {
        // Only a request still waiting: one that moved on (an artifact came
        // after all, or someone else decided) is left as it is.
        if (api::UidOf(obj) != uid || api::StringAt(obj, {"status", "phase"}) != kPhaseAwaiting || api::ArtifactOf(obj)) {
          return false;
        }
        json& status = obj["status"];
        status["phase"] = phase;
        status["observedGeneration"] = obj["metadata"].value("generation", int64_t{0});
        controllers::SetCondition(status["conditions"],
                                  {"Authorized", "False", reason, message, status["observedGeneration"].get<int64_t>()},
                                  deps_.clock->Now());
        return true;
      },
      /*status=*/true);
  if (!written.ok() && written.status().code() != StatusCode::kNotFound) {
    return written.status().WithContext("writing the request's " + phase + " status");
  }
  if (written.ok() && api::StringAt(*written, {"status", "phase"}) == phase && deps_.events) {
    deps_.events->Record(request, kube::EventType::kWarning, reason, message);
  }
  log::Info("authority: refused", {{"namespace", api::NamespaceOf(request)},
                                   {"name", api::NameOf(request)},
                                   {"uid", uid},
                                   {"phase", phase},
                                   {"rule", rule},
                                   {"message", message}});
  return runtime::ReconcileResult{};
}

StatusOr<runtime::ReconcileResult> AuthorityController::ReconcilePolicy(const std::string& key) {
  runtime::ObjectPtr cached = deps_.authority_policies->Get(key);
  if (!cached) return runtime::ReconcileResult{};
  auto compiled = CompileAuthorityPolicy(*cached);
  const int64_t generation = cached->value("metadata", json::object()).value("generation", int64_t{0});
  auto written = kube::UpdateWithRetry(
      *deps_.client, kube::ResourcePath(std::string(api::kApiVersion), "authoritypolicies", "", api::NameOf(*cached)),
      [&](json& obj) {
        json status = obj.value("status", json::object());
        const json before = status;
        status["observedGeneration"] = generation;
        status["rules"] = compiled.ok() ? static_cast<int64_t>((*compiled)->rules.size()) : int64_t{0};
        const size_t rules = compiled.ok() ? (*compiled)->rules.size() : 0;
        controllers::SetCondition(status["conditions"],
                                  compiled.ok() ? controllers::Condition{"Ready", "True", "Valid",
                                                                         std::to_string(rules) + (rules == 1 ? " rule" : " rules"),
                                                                         generation}
                                                : controllers::Condition{"Ready", "False", "InvalidSpec",
                                                                         compiled.status().message(), generation},
                                  deps_.clock->Now());
        if (status == before) return false;
        obj["status"] = std::move(status);
        return true;
      },
      /*status=*/true);
  if (!written.ok() && written.status().code() != StatusCode::kNotFound) return written.status();
  return runtime::ReconcileResult{};
}

}  // namespace execgov::authority
