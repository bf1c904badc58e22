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
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "core/status.h"
#include "ledger/backend.h"

namespace execgov::controllers {

class LedgerIndex {
 public:
  struct Step {
    uint64_t seq = 0;
    std::string hash;  // "sha256:<hex>"
  };

  // `backend` (opened read-only by the caller) must outlive the index. Null:
  // an index fed only by Add/Note (unit tests).
  explicit LedgerIndex(ledger::Backend* backend);

  // Folds every record appended since the last CatchUp. Callers are
  // serialized; readers of the index are not blocked while it reads.
  Status CatchUp();
  // CatchUp unless one has already succeeded.
  Status EnsureLoaded();
  bool loaded() const;

  // Folds one stored record. Records that are not JSON objects, checkpoints,
  // and records of other types are counted but otherwise ignored.
  void Add(uint64_t seq, std::string_view bytes);

  bool HasAdmission(const std::string& uid) const;
  std::optional<Step> FindStep(const std::string& request_uid, const std::string& phase) const;
  void NoteAdmission(const std::string& uid);
  void NoteStep(const std::string& request_uid, const std::string& phase, Step step);

  // The seq the next CatchUp starts from.
  uint64_t next_seq() const;
  size_t admission_count() const;
  size_t step_count() const;

 private:
  ledger::Backend* backend_;
  std::mutex catch_up_mu_;  // one reader of the backend at a time
  mutable std::mutex mu_;   // guards everything below
  uint64_t next_seq_ = 0;
  bool loaded_ = false;
  std::unordered_set<std::string> admitted_;
  std::map<std::pair<std::string, std::string>, Step> steps_;
};

}  // namespace execgov::controllers
