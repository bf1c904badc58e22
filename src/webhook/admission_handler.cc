#include "webhook/admission_handler.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "api/object.h"
#include "core/log.h"
#include "webhook/door_guard.h"

namespace execgov::webhook {
namespace {

// Looks parents up in the ledger; an unreachable ledger reads as "absent",
// which denies with LineageDiscontinuity rather than allowing blind.
class LedgerLineage : public policy::LineageView {
 public:
  explicit LedgerLineage(ledger::Ledger* ledger) : ledger_(ledger) {}
  bool HasRecord(const std::string& ref) const override {
    auto r = ledger_->Contains(ref);
    if (!r.ok()) log::Warn("ledger lookup failed", {{"error", r.status().message()}});
    return r.ok() && *r;
  }

 private:
  ledger::Ledger* ledger_;
};

// How often the whole replay store is walked for expired consumptions: in
// the store's PruneParts() steps, spread over this time, each run by an
// admission on its own thread (a full walk at once held that thread ~95 ms
// at 150,000 consumptions, a burst of late answers every time).
constexpr auto kPruneEvery = std::chrono::seconds(30);

// In ledger mode a successful Consume/Inherit is a reservation the
// decision's ledger record settles; this settles it as not durable on any
// path that leaves before that (a denial, an exception).
struct Reservation {
  ReplayStore* store = nullptr;
  std::string jti, uid;
  policy::ReplayAction action = policy::ReplayAction::kNone;
  void Settle(bool durable) {
    if (store) store->Settle(jti, uid, action, durable);
    store = nullptr;
  }
  ~Reservation() { Settle(false); }
};

}  // namespace

std::optional<api::GovernedKind> GovernedKindOf(const GroupVersionResource& r, const std::string& sub_resource) {
  if (r == GroupVersionResource{"", "v1", "pods"} && (sub_resource.empty() || sub_resource == "ephemeralcontainers")) {
    return api::GovernedKind::kPod;
  }
  if (!sub_resource.empty()) return std::nullopt;
  if (r == GroupVersionResource{"batch", "v1", "jobs"}) return api::GovernedKind::kJob;
  if (r == GroupVersionResource{std::string(api::kGroup), std::string(api::kVersion), "executionrequests"}) {
    return api::GovernedKind::kExecutionRequest;
  }
  return std::nullopt;
}

namespace {

std::string Shown(const GroupVersionKind& k) {
  return "\"" + (k.group.empty() ? "" : k.group + "/") + k.version + ", Kind=" + k.kind + "\"";
}

}  // namespace

std::string KindConflict(api::GovernedKind kind, const AdmissionRequest& req) {
  // Group and kind, not version: requestKind's version is the one the client
  // used, which the API server may have converted for the webhook.
  const std::string group = kind == api::GovernedKind::kPod   ? ""
                            : kind == api::GovernedKind::kJob ? "batch"
                                                              : std::string(api::kGroup);
  auto agrees = [&](const GroupVersionKind& k) { return k.group == group && k.kind == api::GovernedKindName(kind); };
  std::string what = std::string("the request is for ") + (kind == api::GovernedKind::kExecutionRequest ? "an " : "a ") +
                     api::GovernedKindName(kind) + " (resource " +
                     req.resource.resource + (req.sub_resource.empty() ? "" : "/" + req.sub_resource) + ")";
  if (!agrees(req.kind)) return what + " but its kind is " + Shown(req.kind);
  if (req.request_kind && !agrees(*req.request_kind)) return what + " but its requestKind is " + Shown(*req.request_kind);
  return "";
}

// A request between its decision and its answer. Holds what the answer, the
// metrics and the log line need, none of it pointing into the request.
struct AdmissionHandler::InFlight {
  ResponseCallback done;
  std::atomic<bool> answered{false};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string request_uid;
  std::string kind, ns, name, uid, user;
  policy::Operation operation = policy::Operation::kCreate;
  bool dry_run = false;
  policy::Decision decision;
  Reservation reservation;
  std::optional<BreakGlass> break_glass;  // admitted without an artifact (door_guard.h)

  // Answers once; a second answer (after an exception) is dropped.
  void Answer(AdmissionResponse resp) {
    if (!answered.exchange(true)) done(std::move(resp));
  }
};

namespace {

AdmissionResponse InternalErrorResponse(const std::string& uid) {
  return {uid, false, 403, policy::FormatReason(policy::Reason::kInternalError, "unexpected error; denied"), {}, {}};
}

}  // namespace

AdmissionHandler::AdmissionHandler(HandlerDeps deps) : deps_(std::move(deps)) {
  if (!deps_.clock) deps_.clock = &SystemClock::Get();
}

AdmissionHandler::~AdmissionHandler() {
  std::unique_lock lock(waiting_mu_);
  waiting_cv_.wait(lock, [this] { return waiting_ == 0; });
}

AdmissionResponse AdmissionHandler::Handle(const AdmissionRequest& request) {
  std::promise<AdmissionResponse> answer;
  auto result = answer.get_future();
  Handle(request, [&answer](AdmissionResponse r) { answer.set_value(std::move(r)); });
  return result.get();
}

void AdmissionHandler::Handle(const AdmissionRequest& request, ResponseCallback done) {
  auto state = std::make_shared<InFlight>();
  state->done = std::move(done);
  state->request_uid = request.uid;
  try {
    HandleImpl(request, state);
  } catch (const std::exception& e) {
    log::Error("admission: unexpected error", {{"uid", request.uid}, {"error", e.what()}});
    state->Answer(InternalErrorResponse(request.uid));
  }
}

void AdmissionHandler::HandleImpl(const AdmissionRequest& req, const std::shared_ptr<InFlight>& state) {
  // The namespace guard (door_guard.h) records synchronously: before the
  // announcement below, which a ledger writer may wait on.
  if (IsNamespaceRequest(req)) {
    std::shared_ptr<const policy::PolicySet> policies = deps_.policies ? deps_.policies() : nullptr;
    return state->Answer(GuardNamespace(req, policies.get(), deps_.ledger, deps_.install_namespace, deps_.metrics));
  }
  if (IsApprovalRequest(req)) {  // issue 20: recorded synchronously too, before the announcement
    return state->Answer(GuardApproval(req, deps_.approvals, deps_.ledger, *deps_.clock, deps_.metrics));
  }
  // Until this returns (its record queued, or none to come), a ledger writer
  // gathering a batch may wait for this decision's record.
  ledger::Announcement announced(deps_.ledger);
  std::shared_ptr<const policy::PolicySet> policies = deps_.policies ? deps_.policies() : nullptr;
  policy::PolicySet not_ready;

  // One kind for everything below (the digest, the scope check, the ledger
  // and replay records): the one the request is for, by its resource.
  policy::AdmissionAttributes a;
  const std::optional<api::GovernedKind> governed_kind = GovernedKindOf(req.resource, req.sub_resource);
  const std::string kind_conflict = governed_kind ? KindConflict(*governed_kind, req) : "";
  if (governed_kind) {
    a.kind = api::GovernedKindName(*governed_kind);
  } else {  // never the name of a governed kind, so Decide refuses it
    a.kind = (req.resource.group.empty() ? "" : req.resource.group + "/") + req.resource.version + "/" +
             req.resource.resource + (req.sub_resource.empty() ? "" : "/" + req.sub_resource);
  }
  a.operation = req.operation;
  a.ns = req.ns;
  a.name = req.name;
  a.uid = api::UidOf(req.object.is_null() ? req.old_object : req.object);
  a.object = req.object.is_null() ? nullptr : &req.object;
  a.old_object = req.old_object.is_null() ? nullptr : &req.old_object;
  a.user = req.user;
  a.groups = req.groups;
  a.dry_run = req.dry_run;
  // kube-system and the install namespace are never governed (Decide allows
  // them first), so their labels are never needed: a failed lookup must not
  // lock them. Nor are they needed before the policies are ready: the answer
  // then is PolicyNotReady.
  Status labels_status;
  if (deps_.namespace_labels && policies && policies->ready && !a.ns.empty() &&
      !api::IsNeverGovernedNamespace(a.ns, deps_.install_namespace) &&
      (a.operation == policy::Operation::kCreate || a.operation == policy::Operation::kUpdate)) {
    auto labels = deps_.namespace_labels(a.ns);
    if (labels.ok()) {
      a.namespace_labels = std::move(labels).value();
    } else {
      labels_status = labels.status();
    }
  }

  LedgerLineage lineage(deps_.ledger);
  policy::DecisionInputs in;
  in.policies = policies ? policies.get() : &not_ready;
  in.now = deps_.clock->NowUnix();
  in.replay = deps_.replay;
  in.lineage = deps_.ledger ? &lineage : nullptr;
  in.signature_cache = deps_.signature_cache;
  in.install_namespace = deps_.install_namespace;

  policy::Decision& d = state->decision;
  if (!kind_conflict.empty()) {
    // ScopeMismatch: what the request says it is for is not one thing.
    d.governed = true;
    d.reason = policy::Reason::kScopeMismatch;
    d.message = kind_conflict;
  } else if (!labels_status.ok()) {
    d.governed = true;
    d.reason = policy::Reason::kInternalError;
    d.message = "cannot read the labels of namespace " + a.ns + ": " + labels_status.message();
  }
  const bool decide = kind_conflict.empty() && labels_status.ok();
  const bool journal_in_ledger = deps_.replay && deps_.replay->JournaledInLedger();
  Reservation& reservation = state->reservation;
  for (int attempt = 0; attempt < 2 && decide; ++attempt) {
    d = policy::Decide(a, in);
    // A jti the record would cut short (ledger::kMaxClaimBytes) could not be
    // found again when the replay store is rebuilt from the ledger.
    if (d.allowed && d.artifact && d.artifact->jti.size() > ledger::kMaxClaimBytes) {
      d.allowed = false;
      d.reason = policy::Reason::kMalformedArtifact;
      d.message = "the artifact's jti is longer than " + std::to_string(ledger::kMaxClaimBytes) +
                  " bytes, the most a ledger record carries";
      break;
    }
    if (!d.allowed || req.dry_run || d.replay_action == policy::ReplayAction::kNone || !d.artifact) break;
    if (journal_in_ledger && !deps_.ledger) {
      d.allowed = false;
      d.reason = policy::Reason::kInternalError;
      d.message = "the replay store records consumptions in the ledger, and there is no ledger";
      break;
    }
    Status st = d.replay_action == policy::ReplayAction::kConsume
                    ? deps_.replay->Consume(d.artifact->jti, {a.kind, a.ns, a.name, a.uid},
                                            policy::ConsumptionExpiry(*d.artifact))
                    : deps_.replay->Inherit(d.artifact->jti, a.uid);
    if (st.ok() && journal_in_ledger) {
      reservation.store = deps_.replay;
      reservation.jti = d.artifact->jti;
      reservation.uid = a.uid;
      reservation.action = d.replay_action;
    }
    if (st.ok()) {
      // Pruning runs on a timer, not per consumption: one step (a part of
      // the store) at most every kPruneEvery / PruneParts().
      if (d.replay_action == policy::ReplayAction::kConsume) {
        const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   deps_.clock->Now().time_since_epoch()).count();
        const int64_t step_ms = std::chrono::duration_cast<std::chrono::milliseconds>(kPruneEvery).count() /
                                std::max(1, deps_.replay->PruneParts());
        int64_t due = next_prune_ms_.load(std::memory_order_relaxed);
        if (now_ms >= due && next_prune_ms_.compare_exchange_strong(due, now_ms + step_ms)) {
          deps_.replay->PruneStep(in.now);  // the stored expiry has the skew grace already
        }
      }
      break;
    }
    if (st.code() == StatusCode::kAlreadyExists && attempt == 0) continue;  // lost a race: decide again
    d.allowed = false;
    d.reason = policy::Reason::kInternalError;
    d.message = "cannot record the artifact's use: " + st.message();
    break;
  }

  // Break-glass: refused only for want of an artifact, by a member of a group
  // a matching policy names. Admitted, and recorded as such.
  if (decide && !d.allowed && d.reason == policy::Reason::kMissingArtifact &&
      a.operation == policy::Operation::kCreate && policies && policies->ready) {
    std::optional<BreakGlass> bg = FindBreakGlass(*policies, a);
    // A Pod of a break-glass Job. Another replica's Job may not be read yet:
    // this denial's record makes the ledger read what others wrote first, so
    // the Job controller's next try finds it.
    if (!bg && deps_.break_glass) bg = FindInheritedBreakGlass(*policies, a, *deps_.break_glass);
    if (bg) {
      d.allowed = true;
      d.message = bg->job.empty()
                      ? "admitted without an artifact under break-glass: " + a.user + " is in group " + bg->group +
                            ", which ExecutionPolicy " + bg->policy + " names in spec.runtime.breakGlass"
                      : "admitted without an artifact under break-glass: its Job (uid " + bg->job +
                            ") was admitted under break-glass for group " + bg->group + " of ExecutionPolicy " +
                            bg->policy + ", and " + a.user + " is a trusted controller";
      d.warnings.push_back("execgov: BreakGlass: " + d.message + "; it is reported until it is gone");
      state->break_glass = std::move(bg);
    }
  }
  state->kind = a.kind;
  state->ns = a.ns;
  state->name = a.name;
  state->uid = a.uid;
  state->user = a.user;
  state->operation = a.operation;
  state->dry_run = req.dry_run;
  if (!d.governed || req.dry_run || !deps_.ledger) return Finish(*state, nullptr);

  auto built = DecisionRecord(*state);
  if (!built.ok()) {  // a bug of ours, not the request's: deny, record nothing
    state->reservation.Settle(false);
    d.allowed = false;
    d.reason = policy::Reason::kInternalError;
    d.message = "cannot build the decision's ledger record: " + built.status().message();
    return Finish(*state, nullptr);
  }
  auto queued = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(waiting_mu_);
    ++waiting_;
  }
  // Judged again as the record's batch is built on the stored tail: another
  // replica may have recorded this jti's consumption since Decide looked.
  ledger::Ledger::Guard guard;
  if (state->reservation.store && d.replay_action == policy::ReplayAction::kConsume) {
    guard = [store = deps_.replay, jti = d.artifact->jti, uid = a.uid] { return store->Recheck(jti, uid); };
  }
  // The ledger calls this exactly once, whatever happens to the record.
  deps_.ledger->AppendEntryAsync(std::move(built).value(), [this, state, queued](StatusOr<ledger::Appended> r) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - queued).count();
    if (deps_.metrics) deps_.metrics->RecordLedgerAppend(r.ok(), secs, r.ok() ? r->seq : 0);
    try {
      if (!r.ok() && r.status().code() == StatusCode::kAlreadyExists && RecordReplay(state, r.status())) return;
    } catch (const std::exception& e) {  // answered below, as denied: the record was refused
      log::Error("admission: cannot record a replay", {{"uid", state->request_uid}, {"error", e.what()}});
    }
    Answer(state, r);
  }, std::move(guard));
}

void AdmissionHandler::Answer(const std::shared_ptr<InFlight>& state, const StatusOr<ledger::Appended>& r) {
  try {
    Finish(*state, &r);
  } catch (const std::exception& e) {
    log::Error("admission: unexpected error", {{"uid", state->request_uid}, {"error", e.what()}});
    state->reservation.Settle(false);
    state->Answer(InternalErrorResponse(state->request_uid));
  }
  std::lock_guard lock(waiting_mu_);
  if (--waiting_ == 0) waiting_cv_.notify_all();
}

bool AdmissionHandler::RecordReplay(const std::shared_ptr<InFlight>& state, const Status& refused) {
  // The guard found the jti consumed by another object: a replay that
  // another replica recorded first. The denial is recorded in its place.
  policy::Decision& d = state->decision;
  if (!d.allowed || d.replay_action != policy::ReplayAction::kConsume) return false;
  state->reservation.Settle(false);
  d.allowed = false;
  d.reason = policy::Reason::kReplayDetected;
  d.message = refused.message() + "; every execution needs a freshly signed artifact";
  auto built = DecisionRecord(*state);
  if (!built.ok()) return false;
  deps_.ledger->AppendEntryAsync(std::move(built).value(),
                                 [this, state](StatusOr<ledger::Appended> r) { Answer(state, r); });
  return true;
}

// The decision's record, built straight into canonical form: the ledger
// splices it as it is. With a replay member while the reservation is held.
StatusOr<ledger::Entry> AdmissionHandler::DecisionRecord(const InFlight& state) {
  const policy::Decision& d = state.decision;
  ledger::EntryBuilder entry;
  entry.Str("type", "admission")
      .Str("decision", d.allowed ? "allowed" : "denied")
      .Str("reason", policy::ReasonName(d.reason))
      .Obj("object", std::move(ledger::EntryBuilder()
                                   .Str("kind", state.kind, ledger::kMaxKindBytes)
                                   .Str("namespace", state.ns, ledger::kMaxNamespaceBytes)
                                   .Str("name", state.name, ledger::kMaxNameBytes)
                                   .Str("uid", state.uid, ledger::kMaxUidBytes)
                                   .Str("operation", policy::OperationName(state.operation))))
      .Str("user", state.user);
  if (!d.object_digest.empty()) entry.Str("digest", d.object_digest);
  if (d.artifact) {
    entry.Obj("artifact", std::move(ledger::EntryBuilder()
                                        .Str("iss", d.artifact->iss, ledger::kMaxClaimBytes)
                                        .Str("sub", d.artifact->sub, ledger::kMaxClaimBytes)
                                        .Str("kid", d.artifact->kid, ledger::kMaxClaimBytes)
                                        .Str("jti", d.artifact->jti, ledger::kMaxClaimBytes)
                                        .Str("digest", d.artifact->digest, ledger::kMaxClaimBytes)));
    if (!d.artifact->parent.empty()) entry.Str("parent", d.artifact->parent, ledger::kMaxClaimBytes);
    if (!d.artifact->intent.empty()) entry.Str("intent", d.artifact->intent);
  }
  // A request admitted to wait for its artifact, and the UPDATE that brings
  // it (issue 20): the initiator it was admitted for is the story's subject.
  if (d.awaiting_authorization || d.artifact_attached) {
    entry.Str("authorization", d.awaiting_authorization ? "awaiting" : "attach")
        .Str("initiator", d.initiator, ledger::kMaxNameBytes);
  }
  if (state.break_glass) {
    ledger::EntryBuilder bg;
    bg.Str("policy", state.break_glass->policy, ledger::kMaxNameBytes)
        .Str("group", state.break_glass->group, ledger::kMaxClaimBytes);
    if (!state.break_glass->job.empty()) bg.Str("job", state.break_glass->job, ledger::kMaxUidBytes);
    entry.Obj("breakGlass", std::move(bg));
  }
  if (state.reservation.store) {
    ledger::EntryBuilder replay;
    replay.Str("op", d.replay_action == policy::ReplayAction::kConsume ? "consume" : "inherit");
    if (d.replay_action == policy::ReplayAction::kConsume) replay.Int("exp", policy::ConsumptionExpiry(*d.artifact));
    entry.Obj("replay", std::move(replay));
  }
  if (!d.verdicts.empty()) {
    const auto& v = d.verdicts.front();
    entry.Obj("policy", std::move(ledger::EntryBuilder()
                                      .Str("name", v.policy, ledger::kMaxNameBytes)
                                      .Int("generation", v.generation)
                                      .Str("enforcement", policy::EnforcementName(v.enforcement))));
  }
  return std::move(entry).Build();
}

void AdmissionHandler::Finish(InFlight& state, const StatusOr<ledger::Appended>* appended) {
  policy::Decision& d = state.decision;
  if (appended) {
    state.reservation.Settle(appended->ok());
    if (!appended->ok()) {
      log::Error("ledger append failed", {{"uid", state.request_uid}, {"error", appended->status().message()}});
      if (d.allowed) {
        // An unrecorded execution is not allowed to run.
        d.allowed = false;
        d.reason = policy::Reason::kInternalError;
        d.message = "cannot write the decision to the lineage ledger: " + appended->status().message();
      }
    }
  }
  const bool recorded = appended && appended->ok();
  // A break-glass Job, durable now: its Pods may come (before the answer, so
  // none can arrive first).
  if (recorded && d.allowed && state.break_glass && state.kind == "Job" && deps_.break_glass) {
    deps_.break_glass->Note(state.uid, {state.break_glass->policy, state.break_glass->group});
  }

  AdmissionResponse resp;
  resp.uid = state.request_uid;
  resp.allowed = d.allowed;
  if (!d.allowed) {
    resp.code = 403;
    resp.message = d.StatusMessage();
  }
  resp.warnings = d.warnings;
  resp.audit_annotations["decision"] = d.allowed ? "allowed" : "denied";
  resp.audit_annotations["reason"] = policy::ReasonName(d.reason);
  if (recorded) resp.audit_annotations["ledger-seq"] = std::to_string((*appended)->seq);

  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - state.start).count();
  if (deps_.metrics) {
    deps_.metrics->RecordAdmission(state.kind, d.allowed ? "allowed" : "denied", policy::ReasonName(d.reason), secs);
    for (const auto& c : d.signature_checks) deps_.metrics->RecordSignatureCheck(crypto::KeyAlgorithmName(c.algorithm), c.result);
  }
  if (d.governed) {
    log::Fields fields;
    fields.Str("uid", state.request_uid)
        .Str("kind", state.kind)
        .Str("namespace", state.ns)
        .Str("name", state.name)
        .Str("operation", policy::OperationName(state.operation))
        .Str("user", state.user)
        .Str("decision", d.allowed ? "allowed" : "denied")
        .Str("reason", policy::ReasonName(d.reason))
        .Str("message", d.message)
        .Bool("dryRun", state.dry_run)
        .Num("latencySeconds", secs);
    if (d.artifact) fields.Str("jti", d.artifact->jti);
    if (recorded) fields.Uint("ledgerSeq", (*appended)->seq);
    log::Info("admission", fields);
  }
  state.Answer(std::move(resp));
}

}  // namespace execgov::webhook
