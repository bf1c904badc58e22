// Which Jobs the webhook admitted under break-glass (door_guard.h), so that
// their Pods are admitted as break-glass too (issue 21). A break-glass Job
// carries no artifact, so its Pods, made by the Job controller, would carry
// none either and be refused for it; the Job controller is not in any
// break-glass group. A Pod is admitted only when a trusted controller of a
// policy that still names the group makes it, and its controller owner is a
// Job whose uid this index holds: the ledger is the proof, never the Job
// object (whose annotations anyone who may edit it can set).
//
// Fed from the ledger: every record other writers stored (LedgerOptions::
// observe, which also replays the whole ledger at start) and this process's
// own break-glass admissions once their record is durable (Note). A Job is
// forgotten only when the index is full (the oldest first): its next Pods
// are then refused, as before this index existed (fail closed).
#pragma once

#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace execgov::webhook {

class BreakGlassIndex {
 public:
  struct Entry {
    std::string policy;  // the ExecutionPolicy whose spec.runtime.breakGlass admitted the Job
    std::string group;   // the group it named
  };

  static constexpr size_t kDefaultCapacity = 100000;
  explicit BreakGlassIndex(size_t capacity = kDefaultCapacity);

  // Folds one ledger record: an allowed CREATE of a Job with a breakGlass
  // member is noted; anything else (other kinds, denials, malformed or
  // oversized records) is ignored. Cheap for records without "breakGlass".
  void Observe(std::string_view record);
  // Notes a Job this process admitted under break-glass, once its record is durable.
  void Note(const std::string& job_uid, Entry entry);
  std::optional<Entry> Find(const std::string& job_uid) const;
  size_t size() const;

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> by_uid_;
  std::deque<std::string> order_;  // insertion order, for eviction when full
};

}  // namespace execgov::webhook
