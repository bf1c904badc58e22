// Lineage completeness (docs/design.md §7.4): every admitted governed
// object — a Pod, Job or ExecutionRequest carrying the artifact annotation
// in a governed namespace — has an admission record in the ledger, even
// when the webhook replica that admitted it died before its record was
// durable, or the object was made while the webhook was not called.
//
// A pass (as the leader, periodically) snapshots the objects from the
// informers first and then catches the LedgerIndex up: the webhook appends
// before it answers, so any object already in the snapshot has its record
// in the ledger by then unless it is really missing. Missing ones get an
// admission record derived from the object itself (marked "derived": true,
// decision "allowed" because the API server holds the object, the
// artifact's claims unverified), appended once by uid: the index remembers
// the uid at once, and the next leader finds the record in the ledger.
//
// The reverse, phantom admissions (docs/operator.md#phantom-admissions): the
// webhook records an allow before the API server stores the object, which
// may then never happen (the API server gave up waiting for the webhook,
// another admission step refused it, the write failed). The informers' add
// events are sightings; an allowed CREATE whose object was not sighted
// within phantom_after of the index reading its record gets one `outcome`
// record, `not-created`, naming the admission record by hash.
//
// It judges only what its watches could have seen: admissions recorded
// after the first pass as leader (the informers have synced by then) and
// after the last relist of any object informer or the last time sightings
// overflowed. Each of those starts tracking from the ledger's end after a
// CatchUp that began after it: a record there became durable later, so its
// object, if made, was made while the watch ran. Older admissions are left
// alone, never marked.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/object.h"
#include "controllers/ledger_index.h"
#include "core/clock.h"
#include "core/status.h"
#include "ledger/ledger.h"
#include "metrics/metrics.h"
#include "runtime/informer.h"
#include "runtime/manager.h"

namespace execgov::controllers {

// The admission record for an object found without one (pure).
// InvalidArgument for an object that is not a governed kind.
StatusOr<nlohmann::json> DerivedAdmissionRecord(const nlohmann::json& object);

// Whether the Namespace object is governed: labelled execgov.io/governed=true
// and not one api::IsNeverGovernedNamespace names.
bool IsGovernedNamespace(const nlohmann::json& ns, std::string_view install_namespace = api::kInstallNamespace);

// The `outcome` record marking an allowed CREATE whose object never appeared
// (pure): type, outcome "not-created", admission (the admission record's
// hash), admissionSeq, object {kind, namespace, name, uid}, message (naming
// `after`), and operator (when not empty).
nlohmann::json NotCreatedRecord(const LedgerIndex::UnmatchedCreate& create, std::chrono::milliseconds after,
                                const std::string& operator_identity);

struct LineageControllerDeps {
  std::vector<runtime::Informer*> objects;  // Pods, Jobs, ExecutionRequests (all namespaces)
  runtime::Informer* namespaces = nullptr;
  std::set<std::string> watch_namespaces;  // empty: every namespace
  ledger::Ledger* ledger = nullptr;
  LedgerIndex* index = nullptr;
  metrics::Metrics* metrics = nullptr;  // optional
  // The namespace the operator runs in (--namespace): never governed.
  std::string install_namespace = std::string(api::kInstallNamespace);
  // How long after the index read an allowed CREATE's record its object may
  // first be seen; later, it is marked not-created. Zero: no phantom check.
  // Keep it well above the webhooks' timeoutSeconds (at most 30 s).
  std::chrono::milliseconds phantom_after{0};
  const Clock* clock = nullptr;    // null: the system clock
  std::string operator_identity;   // the `operator` of the records it writes
  // Sightings kept at most; past it they are dropped and tracking restarts
  // (what was pending is left alone).
  size_t max_sightings = 200000;
};

class LineageController {
 public:
  struct PassResult {
    int derived = 0;      // admission records derived
    int not_created = 0;  // phantom admissions marked
  };

  // Adds its handlers to deps.objects: construct it before they start.
  explicit LineageController(LineageControllerDeps deps);
  // One pass (as the leader).
  StatusOr<PassResult> Pass();
  // What the informers' handlers call for each added object (public for tests).
  void ObjectSeen(const std::string& uid);

 private:
  // Object uids the informers delivered as added, with when. Shared with the
  // handlers, which may outlive a pass; thread-safe.
  class Sightings {
   public:
    explicit Sightings(size_t max) : max_(max) {}
    // Until enabled nothing is kept: a standby that never passes keeps none.
    void Enable();
    void Saw(const std::string& uid, std::chrono::system_clock::time_point at);
    bool Contains(const std::string& uid) const;
    // Forgets those seen before `t`.
    void ForgetBefore(std::chrono::system_clock::time_point t);
    // Whether some were dropped (the cap) since the last call.
    bool TakeOverflowed();

   private:
    mutable std::mutex mu_;
    size_t max_;
    bool enabled_ = false;
    bool overflowed_ = false;
    std::unordered_map<std::string, std::chrono::system_clock::time_point> last_;
    std::deque<std::pair<std::chrono::system_clock::time_point, std::string>> order_;
  };

  Status MarkPhantoms(std::chrono::system_clock::time_point pass_began, PassResult& result);
  bool Watched(const std::string& ns) const;

  LineageControllerDeps deps_;
  const Clock* clock_;
  std::shared_ptr<Sightings> sightings_;
  bool tracking_ = false;  // TrackCreatesFromHere called by this controller
  bool restart_tracking_ = false;
  uint64_t relists_ = 0;   // of deps_.objects, summed, at the last pass
};

// A runnable calling `fn` at start and then every `interval` on its own
// thread until stopped (the leader's periodic chores: lineage passes,
// pruning expired replay records).
runtime::Runnable PeriodicRunnable(std::string name, std::chrono::milliseconds interval, std::function<void()> fn);

}  // namespace execgov::controllers
