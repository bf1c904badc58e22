// What a writer must know about the end of the ledger to append to it: the
// next seq, the last record's hash (the next `prev`), the Merkle frontier
// (for checkpoint roots) and when the last checkpoint was written. Every
// backend folds records into it the same way, so the chain rules live here once.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

namespace execgov::ledger {

struct ChainState {
  uint64_t size = 0;              // records in the ledger = the next seq
  Hash last = kGenesisPrev;       // hash of record size-1
  MerkleFrontier tree;            // over records 0..size-1
  uint64_t since_checkpoint = 0;  // records after the last checkpoint record
  // Time of the last checkpoint record (or of record 0 before the first one),
  // in milliseconds since the epoch.
  int64_t checkpoint_time_ms = 0;

  // Folds the next record in: its seq must be `size` and its prev `last`;
  // DataLoss otherwise (the stored ledger is corrupt, so writing must stop).
  // Returns the record's hash.
  StatusOr<Hash> Apply(std::string_view record);

  // Whether a checkpoint is due after the records folded in so far.
  bool CheckpointDue(uint64_t every_records, std::chrono::milliseconds every,
                     std::chrono::system_clock::time_point now) const;

  // A compact JSON form for backends that keep the head beside the records.
  nlohmann::json ToJson() const;
  static StatusOr<ChainState> FromJson(const nlohmann::json& j);
};

}  // namespace execgov::ledger
