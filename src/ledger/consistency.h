// Consistency proofs as an auditor carries them: one JSON object that shows,
// offline, that the ledger's current checkpoint extends one kept from
// earlier (nothing before it was removed, changed or reordered):
//
//   {"origin", "size1", "root1": base64, "size2", "root2": base64,
//    "proof": [base64 ...], "checkpoint1": "<signed note>", "checkpoint2": "<signed note>"}
//
// The proof is RFC 9162 §2.1.4 (Go's tlog.CheckTree checks it too); both
// checkpoints are C2SP signed notes under the ledger's key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/checkpoint.h"
#include "ledger/merkle.h"

namespace execgov::ledger {

// Proves that the ledger's latest checkpoint record extends the signed
// checkpoint `old_note`. With a key, both checkpoints' signatures are checked
// first. PermissionDenied naming the fork when the ledger does not extend it:
// it is of another origin, it was rolled back below the old size, or its
// records 0..size1-1 have another root than the old checkpoint signed.
// FailedPrecondition when the ledger has no checkpoint yet; InvalidArgument
// for a malformed old checkpoint or one of size 0.
StatusOr<nlohmann::json> ProveConsistency(Backend& backend, std::string_view old_note,
                                          const crypto::PublicKey* key = nullptr);

// The ledger's latest checkpoint record (its note) and the leaf hashes of
// every record (at least the checkpoint's size of them). FailedPrecondition
// when it has no checkpoint yet; DataLoss when that checkpoint is not for
// its records.
struct CheckpointedTree {
  std::string note;
  Checkpoint checkpoint;
  std::vector<Hash> leaves;
};
StatusOr<CheckpointedTree> ReadCheckpointedTree(Backend& backend);

struct ConsistencyResult {
  Checkpoint from, to;
};

// Checks a proof offline: both checkpoints signed by `key` under the same
// origin, the sizes and roots the document states are theirs, and the
// Merkle proof from one to the other. With `kept` (a checkpoint the auditor
// kept), checkpoint1 must be for its size and root. PermissionDenied (naming
// what did not match) or InvalidArgument for a malformed document.
StatusOr<ConsistencyResult> VerifyConsistencyProof(const nlohmann::json& proof, const crypto::PublicKey& key,
                                                   std::string_view kept = {});

}  // namespace execgov::ledger
