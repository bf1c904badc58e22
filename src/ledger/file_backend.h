// file:PATH — the embedded default: one canonical JSON record per line.
//
// Durability: an append returns only after write() and fdatasync() of its
// whole batch. Concurrency: processes serialize appends with flock() on the
// ledger file and read whatever others appended before writing their own, so
// several processes can share one file. Recovery: a process killed inside
// write() can leave a partial last line; it was never acknowledged, so the
// next writer (holding the lock, hence sure no write is in flight) truncates
// it and logs that it did. Complete lines are never removed.
#pragma once

#include <memory>
#include <string>

#include "ledger/backend.h"

namespace execgov::ledger {

StatusOr<std::unique_ptr<Backend>> OpenFileBackend(const std::string& path, const BackendOptions& options);

}  // namespace execgov::ledger
