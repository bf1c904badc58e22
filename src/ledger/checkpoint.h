// Checkpoints in the C2SP tlog-checkpoint form, wrapped in a C2SP signed note
// (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note):
//
//   <origin>\n<size>\n<base64 root>\n\n— <origin> <base64(key hash || Ed25519 signature)>\n
//
// The note key name is the ledger's origin, so a checkpoint of one ledger
// cannot be passed off as another's, and the format is the one Go's
// golang.org/x/mod/sumdb/note and every tlog witness already verify.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/status.h"
#include "crypto/keys.h"
#include "crypto/sha256.h"

namespace execgov::ledger {

struct Checkpoint {
  std::string origin;
  uint64_t size = 0;
  crypto::Hash root{};
};

// True if `origin` can be a note key name: printable, no spaces or '+'.
bool ValidOrigin(std::string_view origin);

// The checkpoint body: "<origin>\n<size>\n<base64 root>\n".
std::string CheckpointBody(const Checkpoint& c);

// Signs the checkpoint with an Ed25519 key under the note key name
// c.origin. Returns the whole note text.
StatusOr<std::string> SignCheckpoint(const Checkpoint& c, const crypto::PrivateKey& key);

// Parses the body of a signed checkpoint without checking any signature
// (InvalidArgument on a malformed note). For display and for finding which
// checkpoint to check; never trust the result without OpenCheckpoint.
StatusOr<Checkpoint> ParseCheckpoint(std::string_view note);

// Parses and verifies: the note must carry a valid Ed25519 signature by `key`
// under the key name equal to its own origin. PermissionDenied when it
// does not, InvalidArgument when it is not a checkpoint at all.
StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, const crypto::PublicKey& key);

// The signed-note verifier key string "<name>+<hex key hash>+<base64(0x01 || key)>",
// as golang.org/x/mod/sumdb/note.NewVerifier takes it.
StatusOr<std::string> NoteVerifierKey(std::string_view name, const crypto::PublicKey& key);

}  // namespace execgov::ledger
