// The log's side of C2SP tlog-witness: asking a witness to cosign the
// ledger's latest checkpoint, with the consistency proof from whatever size
// the witness last cosigned, and checking the cosignature that comes back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "kube/http.h"
#include "ledger/cosignature.h"
#include "ledger/merkle.h"

namespace execgov::ledger {

struct CosignOutcome {
  std::string line;         // the witness's verified cosignature line (with its newline)
  uint64_t timestamp = 0;   // when the witness signed
  uint64_t witness_size = 0;  // the size it had cosigned before
};

// POSTs /add-checkpoint to `http` (a client for the witness's submission
// prefix) for the signed checkpoint `note`, whose tree is over the first
// cp.size of `leaves`. Starts from old size `hint` (0 if unknown) and, on a
// 409 naming another size below the checkpoint's, sends the proof from that
// size once more. The cosignature must verify under `witness` (a
// cosignature/v1 key). PermissionDenied naming the witness's answer when
// it refuses (a fork or rollback: 409 or 422; an untrusted log: 403/404),
// or when it has cosigned a larger size than this checkpoint's; Unavailable
// when it cannot be reached. `http_status` (when not null) receives the
// witness's last HTTP status (0: no answer), which callers that count
// refusals by cause use; `known_size` the size the witness said it had
// cosigned in a 409 (unchanged without one).
StatusOr<CosignOutcome> RequestCosignature(kube::HttpClient& http, const NoteVerifierKeyParts& witness,
                                           std::string_view note, const std::vector<Hash>& leaves, uint64_t hint = 0,
                                           int* http_status = nullptr, uint64_t* known_size = nullptr);

// The checkpoint note with the cosignature lines added after its own
// signatures (a cosigned checkpoint, as auditors keep it).
std::string AddCosignatures(std::string_view note, const std::vector<std::string>& lines);

// How many of `witnesses` (cosignature/v1 keys) validly cosigned the note.
// PermissionDenied when a cosignature by one of them does not verify.
StatusOr<size_t> CountCosignatures(std::string_view note, const std::vector<NoteVerifierKeyParts>& witnesses);

}  // namespace execgov::ledger
