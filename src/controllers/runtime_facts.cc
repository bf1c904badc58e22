#include "controllers/runtime_facts.h"

#include <utility>

namespace execgov::controllers {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

const json* Member(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_object() ? &*it : nullptr;
}

}  // namespace

RuntimeFacts::RuntimeFacts(const Clock* clock) : clock_(clock ? clock : &SystemClock::Get()) {}

void RuntimeFacts::Observe(uint64_t seq, const json& record) {
  const json* object = Member(record, "object");
  if (!object) return;
  const std::string uid = Str(*object, "uid");
  if (uid.empty()) return;
  const std::string type = Str(record, "type");
  if (type == "enforcement") {
    const std::string action = Str(record, "action");
    if (action.empty()) return;
    std::lock_guard lock(mu_);
    if (enforced_[uid].insert(action).second) ++generation_;
    return;
  }
  if (type != "admission" || Str(record, "decision") != "allowed") return;
  const bool derived = record.value("derived", false) == true;
  Admission a;
  a.kind = Str(*object, "kind");
  a.ns = Str(*object, "namespace");
  a.name = Str(*object, "name");
  a.digest = Str(record, "digest");
  if (const json* artifact = Member(record, "artifact")) {
    a.jti = Str(*artifact, "jti");
    a.kid = Str(*artifact, "kid");
    a.signed_digest = Str(*artifact, "digest");
  }
  if (const json* policy = Member(record, "policy")) a.policy = Str(*policy, "name");
  std::string op;
  if (const json* replay = Member(record, "replay")) op = Str(*replay, "op");
  a.consumed = op == "consume";
  a.inherited = op == "inherit";
  a.derived = derived;
  a.break_glass = Member(record, "breakGlass") != nullptr;  // {policy, group}
  a.seq = seq;
  a.read = clock_->Now();

  // An UPDATE allowed without an artifact was allowed for leaving the scope
  // unchanged: it verified nothing, so it admits nothing. Taken as an
  // admission, one label on a Pod made while the webhook was bypassed
  // would end its Unadmitted finding.
  const bool unverified_update = Str(*object, "operation") == "UPDATE" && a.jti.empty() && !a.break_glass;

  std::lock_guard lock(mu_);
  auto it = by_uid_.find(uid);
  if (unverified_update && (it == by_uid_.end() || it->second.derived)) return;
  if (it == by_uid_.end()) {
    if (a.consumed && !a.jti.empty()) consumer_.emplace(a.jti, uid);  // the first consumer is the consumer
    by_uid_.emplace(uid, std::move(a));
    ++generation_;
    return;
  }
  Admission& known = it->second;
  // A derived record never replaces what the webhook recorded.
  if (derived && !known.derived) return;
  // The latest allowed admission says what was admitted (an UPDATE that
  // changed the scope was verified anew); the replay role is kept from any.
  a.consumed = a.consumed || known.consumed;
  a.inherited = a.inherited || known.inherited;
  // An UPDATE allowed because it left the execution scope unchanged (a
  // label, a finalizer, the garbage collector removing an owner) carries no
  // artifact and no policy: what the object was admitted with still holds.
  // Dropping it would stop the Revoked and LineageDiscontinuity checks for
  // every object touched once after its creation.
  if (a.jti.empty() && a.kid.empty()) {
    a.jti = known.jti;
    a.kid = known.kid;
    a.signed_digest = known.signed_digest;
  }
  if (a.policy.empty()) a.policy = known.policy;
  if (a.digest.empty()) a.digest = known.digest;
  a.break_glass = a.break_glass || known.break_glass;
  if (a.consumed && !a.jti.empty()) consumer_.emplace(a.jti, uid);
  known = std::move(a);
  ++generation_;
}

std::optional<RuntimeFacts::Admission> RuntimeFacts::Find(const std::string& uid) const {
  std::lock_guard lock(mu_);
  auto it = by_uid_.find(uid);
  if (it == by_uid_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> RuntimeFacts::ConsumerOf(const std::string& jti) const {
  std::lock_guard lock(mu_);
  auto it = consumer_.find(jti);
  if (it == consumer_.end()) return std::nullopt;
  return it->second;
}

bool RuntimeFacts::Enforced(const std::string& uid, const std::string& action) const {
  std::lock_guard lock(mu_);
  auto it = enforced_.find(uid);
  return it != enforced_.end() && it->second.count(action) > 0;
}

void RuntimeFacts::NoteEnforced(const std::string& uid, const std::string& action) {
  std::lock_guard lock(mu_);
  if (enforced_[uid].insert(action).second) ++generation_;
}

std::optional<policy::Consumption> RuntimeFacts::Find(const std::string& jti, const std::string& inheritor_uid) const {
  std::lock_guard lock(mu_);
  auto c = consumer_.find(jti);
  if (c == consumer_.end()) return std::nullopt;
  policy::Consumption out;
  out.uid = c->second;
  if (auto a = by_uid_.find(c->second); a != by_uid_.end()) {
    out.kind = a->second.kind;
    out.ns = a->second.ns;
    out.name = a->second.name;
  }
  if (!inheritor_uid.empty()) {
    auto i = by_uid_.find(inheritor_uid);
    out.inherited = i != by_uid_.end() && i->second.inherited && i->second.jti == jti;
  }
  return out;
}

size_t RuntimeFacts::Prune(std::chrono::system_clock::time_point cutoff,
                           const std::function<bool(const std::string& uid)>& alive) {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (auto it = by_uid_.begin(); it != by_uid_.end();) {
    if (it->second.read < cutoff && !alive(it->first)) {
      const std::string& uid = it->first;
      if (!it->second.jti.empty()) {
        auto c = consumer_.find(it->second.jti);
        if (c != consumer_.end() && c->second == uid) consumer_.erase(c);
      }
      enforced_.erase(uid);
      it = by_uid_.erase(it);
      ++n;
    } else {
      ++it;
    }
  }
  // Enforcements of objects the ledger never admitted (an Unadmitted Pod).
  n += std::erase_if(enforced_, [&](const auto& kv) { return !by_uid_.count(kv.first) && !alive(kv.first); });
  if (n) ++generation_;
  return n;
}

size_t RuntimeFacts::size() const {
  std::lock_guard lock(mu_);
  return by_uid_.size();
}

uint64_t RuntimeFacts::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

}  // namespace execgov::controllers
