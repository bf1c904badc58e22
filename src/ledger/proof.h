// Inclusion proofs as the auditor carries them (docs/design.md §9.1): one JSON object
// with everything needed to check, offline, that a record is in the ledger
// that signed the checkpoint:
//
//   {"origin", "seq", "size", "leafHash": base64, "proof": [base64 ...],
//    "record": "<canonical JSON of the record>", "checkpoint": "<signed note>"}
//
// The proof is RFC 9162 (lowest level first), the checkpoint a C2SP signed
// note, so Go's golang.org/x/mod/sumdb/{tlog,note} check it as well.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "crypto/keys.h"
#include "ledger/backend.h"
#include "ledger/checkpoint.h"

namespace execgov::ledger {

// Proves record `seq` against the latest checkpoint record in the ledger.
// FailedPrecondition when no checkpoint covers seq yet; NotFound past the end.
StatusOr<nlohmann::json> ProveInclusion(Backend& backend, uint64_t seq);

// Checks a proof: the checkpoint's signature by `key`, that the record hashes
// to leafHash and carries seq, and the Merkle path to the signed root.
// Returns the checkpoint on success; PermissionDenied (or InvalidArgument for
// a malformed document) otherwise.
StatusOr<Checkpoint> VerifyInclusionProof(const nlohmann::json& proof, const crypto::PublicKey& key);

}  // namespace execgov::ledger
