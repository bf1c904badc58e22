// What the operator needs to know about the lineage ledger, read
// incrementally (docs/design.md §7): which objects have an admission record (by
// object uid) and which execution steps each ExecutionRequest has recorded
// (by request uid and phase). CatchUp reads only the records appended since
// the last call, so a periodic pass costs what was appended, not the whole
// ledger.
//
// The operator appends through ledger::Ledger and notes what it appended
// here at once (NoteStep / NoteAdmission), so its own next decision never
// waits for a re-read; a record written by an earlier leader is found by the
// first CatchUp after start (EnsureLoaded), which is what keeps a step from
// being appended twice across a restart.
//
// It also keeps the allowed CREATE admissions whose object has not been seen
// yet (UnmatchedCreate), for the lineage controller's phantom check
// (lineage_controller.h, docs/operator.md#phantom-admissions): only from the
// seq TrackCreatesFromHere names on, and at most max_unmatched of them.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/status.h"
#include "ledger/backend.h"

namespace execgov::controllers {

class LedgerIndex {
 public:
  struct Step {
    uint64_t seq = 0;
    std::string hash;  // "sha256:<hex>"
  };

  // An allowed, recorded (not derived) CREATE of a Pod, Job or
  // ExecutionRequest whose object has not been reported seen.
  struct UnmatchedCreate {
    uint64_t seq = 0;
    std::string hash;      // "sha256:<hex>" of the admission record
    std::string recorded;  // the record's `time` (the writer's clock)
    // When this index read the record (its own clock): the writer's clock may
    // be skewed, and the record was durable before the object could exist,
    // so a grace counted from here is never short.
    std::chrono::system_clock::time_point read;
    std::string kind, ns, name, uid;
  };

  // The most unmatched creates kept by default. Past the cap a new one is
  // not kept (counted in untracked_creates()): it is never judged, which
  // errs toward no mark; an entry costs a few hundred bytes.
  static constexpr size_t kDefaultMaxUnmatched = 50000;

  // `backend` (opened read-only by the caller) must outlive the index. Null:
  // an index fed only by Add/Note (unit tests). `clock` (null: the system
  // clock) stamps UnmatchedCreate::read and must outlive the index.
  explicit LedgerIndex(ledger::Backend* backend, const Clock* clock = nullptr);

  // Folds every record appended since the last CatchUp. Callers are
  // serialized; readers of the index are not blocked while it reads.
  Status CatchUp();
  // CatchUp unless one has already succeeded.
  Status EnsureLoaded();
  bool loaded() const;

  // Folds one stored record. Records that are not JSON objects, checkpoints,
  // and records of other types are counted but otherwise ignored.
  void Add(uint64_t seq, std::string_view bytes);

  // Also shows every record folded from here on (parsed, with its bytes) to
  // `observer`, outside the index's lock, in seq order: another view of the
  // ledger (the runtime verifier's facts) then costs no second read of it.
  // Only before the first CatchUp or Add.
  using RecordObserver = std::function<void(uint64_t seq, const nlohmann::json& record, std::string_view bytes)>;
  void AddObserver(RecordObserver observer);

  bool HasAdmission(const std::string& uid) const;
  std::optional<Step> FindStep(const std::string& request_uid, const std::string& phase) const;
  void NoteAdmission(const std::string& uid);
  void NoteStep(const std::string& request_uid, const std::string& phase, Step step);

  // Unmatched creates: kept from the returned seq (next_seq() now) on; any
  // kept from before it are dropped. Until the first call none are kept, so
  // an index that never judges (a standby, the request controller's) holds
  // none. A record folded later with a lower seq is never kept.
  uint64_t TrackCreatesFromHere();
  // Drops the unmatched creates for which `appeared` is true (their objects
  // were seen); returns how many.
  size_t MatchCreates(const std::function<bool(const UnmatchedCreate&)>& appeared);
  // The unmatched creates read at or before `t`, in seq order.
  std::vector<UnmatchedCreate> UnmatchedReadBy(std::chrono::system_clock::time_point t) const;
  // Forgets one (marked, or not this operator's to judge).
  void DropUnmatched(const std::string& uid);
  void set_max_unmatched(size_t n);
  size_t unmatched_count() const;
  uint64_t untracked_creates() const;

  // The seq the next CatchUp starts from.
  uint64_t next_seq() const;
  // When the store began past seq 0 as this index first read it (older
  // records moved to an archive by ledger retention, Backend::First): the
  // `time` of the first record read. Admissions recorded before it are not
  // in the index. nullopt when the index read from seq 0.
  std::optional<std::chrono::system_clock::time_point> trimmed_before() const;
  size_t admission_count() const;
  size_t step_count() const;

 private:
  // Folds what a record says about unmatched creates; mu_ held.
  void FoldCreateLocked(uint64_t seq, std::string_view bytes, const nlohmann::json& record, const std::string& type,
                        const std::string& uid);

  ledger::Backend* backend_;
  const Clock* clock_;
  std::vector<RecordObserver> observers_;
  std::mutex catch_up_mu_;  // one reader of the backend at a time
  mutable std::mutex mu_;   // guards everything below
  uint64_t next_seq_ = 0;
  bool loaded_ = false;
  std::optional<std::chrono::system_clock::time_point> trimmed_before_;
  std::unordered_set<std::string> admitted_;
  std::map<std::pair<std::string, std::string>, Step> steps_;
  uint64_t track_from_ = UINT64_MAX;  // none kept until TrackCreatesFromHere
  size_t max_unmatched_ = kDefaultMaxUnmatched;
  uint64_t untracked_ = 0;
  std::unordered_map<std::string, UnmatchedCreate> unmatched_;  // by object uid
};

}  // namespace execgov::controllers
