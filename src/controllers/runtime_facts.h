// What the runtime verifier (runtime_verifier.h) needs from the lineage
// ledger, per object uid: the admission that let it in (the execution-scope
// digest, the artifact's kid and jti, the policy, whether it consumed or
// inherited the jti, break-glass), which object consumed each jti, and the
// enforcement records already written (so a restart never acts twice).
// Fed record by record from the LedgerIndex's reads (LedgerIndex::AddObserver),
// so it costs no read of its own; thread-safe.
//
// Only records that admit count: an allowed admission, not a denied one. A
// record the lineage controller derived for an object found without one
// (derived: true) is kept apart (`derived`): it says the object exists, not
// that anything verified it.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <set>
#include <functional>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "policy/decision.h"

namespace execgov::controllers {

class RuntimeFacts : public policy::ReplayView {
 public:
  struct Admission {
    std::string kind, ns, name;
    std::string digest;         // the object's execution-scope digest as admitted ("" if not recorded)
    std::string jti, kid;       // of the artifact it was admitted with ("" if none)
    std::string signed_digest;  // the artifact's scope.digest
    std::string policy;         // the first matching policy's name
    bool consumed = false;      // it consumed the jti (replay op consume)
    bool inherited = false;     // it inherited the jti (replay op inherit)
    bool derived = false;       // only derived records were found: never verified by the webhook
    bool break_glass = false;   // admitted without an artifact by a break-glass group
    uint64_t seq = 0;           // of the record that set the above
    std::chrono::system_clock::time_point read;  // when this process read it (for pruning)
  };

  // `clock` (null: the system clock) must outlive this.
  explicit RuntimeFacts(const Clock* clock = nullptr);

  // Folds one ledger record (any type; what does not concern objects is ignored).
  void Observe(uint64_t seq, const nlohmann::json& record);

  std::optional<Admission> Find(const std::string& uid) const;
  // The uid that consumed `jti`, if recorded.
  std::optional<std::string> ConsumerOf(const std::string& jti) const;
  bool Enforced(const std::string& uid, const std::string& action) const;
  // Notes an enforcement this process wrote, before its record is read back.
  void NoteEnforced(const std::string& uid, const std::string& action);

  // policy::ReplayView, for verifying an object the ledger has no admission
  // for: the consumption of `jti`, and whether `inheritor_uid` inherited it.
  std::optional<policy::Consumption> Find(const std::string& jti, const std::string& inheritor_uid) const override;

  // Forgets objects read before `cutoff` for which `alive` is false (gone
  // from the cluster), with their consumptions and enforcements. An object
  // appears within seconds of its admission record; `cutoff` keeps recent
  // records for objects the caches have not delivered yet.
  size_t Prune(std::chrono::system_clock::time_point cutoff, const std::function<bool(const std::string& uid)>& alive);

  size_t size() const;
  // Bumped by every fold that changed something: cached verdicts keyed on it
  // are recomputed only when the facts changed.
  uint64_t generation() const;

 private:
  const Clock* clock_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Admission> by_uid_;
  std::unordered_map<std::string, std::string> consumer_;  // jti -> uid
  std::unordered_map<std::string, std::set<std::string>> enforced_;  // uid -> actions
  uint64_t generation_ = 0;
};

}  // namespace execgov::controllers
