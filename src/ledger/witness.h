// A C2SP tlog-witness (https://c2sp.org/tlog-witness): it cosigns a log's
// checkpoint (tlog-cosignature/v1, ledger/cosignature.h) only if it is
// consistent with the latest checkpoint it cosigned for that origin, so no
// log can show two parties two histories both carrying its cosignature.
//
// The protocol is one call, POST /add-checkpoint with the body
//
//   old <size>\n<base64 proof hash>\n ... \n<signed checkpoint note>
//
// answered (AddCheckpoint) with, in the order the checks run:
//   400 a malformed request, more than 63 proof lines, old size above the
//       checkpoint's, or a proof with old size 0
//   404 an origin the witness does not know
//   403 no signature by a key the witness trusts for that origin
//   409 old size is not the size it last cosigned (body: that size and a
//       newline, Content-Type text/x.tlog.size), or the same size with
//       another root: a fork
//   422 the consistency proof does not verify: a fork or a rollback
//   200 the cosignature line(s), once the new state is durable.
//
// State: the latest cosigned size and root per origin, in one JSON file
// replaced atomically (write, fsync, rename) before any cosignature leaves,
// and held under an exclusive flock for the life of the witness, so a second
// witness on the same file is refused rather than racing it. Check and
// update run under one lock: no two requests can both extend one state.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/status.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"
#include "ledger/cosignature.h"

namespace execgov::ledger {

// At most this many proof lines (tlog-witness: clients send at most 63).
inline constexpr size_t kMaxWitnessProofLines = 63;
// A request body: 63 proof lines and a checkpoint with a few signatures.
inline constexpr size_t kMaxWitnessRequestBytes = 64 * 1024;

struct WitnessOptions {
  std::string name;            // the witness's note key name, e.g. "witness.cluster-b.example/w1"
  crypto::PrivateKey key;      // its Ed25519 key
  std::string state_path;      // the durable state file (created mode 0600)
  // The logs it witnesses: Ed25519 note verifier keys whose name is the
  // log's origin (several keys per origin are allowed: a rotation).
  std::vector<NoteVerifierKeyParts> logs;
  const Clock* clock = nullptr;  // cosignature timestamps; nullptr: the system clock
};

struct WitnessResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct WitnessedLog {
  uint64_t size = 0;
  crypto::Hash root{};
};

class Witness {
 public:
  // Loads the state (a missing file is an empty state) and takes its lock.
  // FailedPrecondition when another witness holds it; DataLoss for a
  // state file that is not this format.
  static StatusOr<std::unique_ptr<Witness>> Open(WitnessOptions options);
  ~Witness();

  // The tlog-witness add-checkpoint call on a request body.
  WitnessResponse AddCheckpoint(std::string_view body);

  // The witness's cosignature/v1 verifier key, for logs and auditors.
  const std::string& VerifierKey() const { return vkey_; }
  // The latest cosigned state of each origin.
  std::map<std::string, WitnessedLog> State() const;

 private:
  explicit Witness(WitnessOptions options) : options_(std::move(options)) {}
  Status Load();
  Status SaveLocked(const std::map<std::string, WitnessedLog>& state) const;

  WitnessOptions options_;
  std::string vkey_;
  int lock_fd_ = -1;
  mutable std::mutex mu_;
  std::map<std::string, WitnessedLog> state_;
};

}  // namespace execgov::ledger
