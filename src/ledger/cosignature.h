// C2SP signed-note verifier keys and tlog-cosignature/v1 cosignatures
// (https://c2sp.org/signed-note, https://c2sp.org/tlog-cosignature): what a
// witness signs and what a log or an auditor checks.
//
// A cosignature line is "— <witness name> base64(key ID || timestamp || sig)"
// with the 4-byte key ID SHA-256(name || "\n" || 0x04 || key)[:4], the
// timestamp 8 bytes big-endian (Unix seconds), and sig the Ed25519 signature of
//
//   cosignature/v1\ntime <timestamp>\n<checkpoint text>
//
// where the checkpoint text is the note's body (origin, size, root and any
// extension lines, each ending in a newline).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "crypto/keys.h"

namespace execgov::ledger {

// The signature types of signed-note keys that this project uses.
inline constexpr uint8_t kNoteAlgEd25519 = 0x01;
inline constexpr uint8_t kNoteAlgCosignatureV1 = 0x04;

// A parsed verifier key "<name>+<hex key ID>+<base64(type || key)>".
struct NoteVerifierKeyParts {
  std::string name;
  uint8_t type = 0;
  std::string key_id;  // 4 bytes
  crypto::PublicKey key;
};
// Refuses anything but an Ed25519 (0x01) or cosignature/v1 (0x04) key whose
// key ID matches its name and key.
StatusOr<NoteVerifierKeyParts> ParseNoteVerifierKey(std::string_view vkey);
// "<name>+<hex key ID>+<base64(type || key)>" for an Ed25519 public key.
StatusOr<std::string> FormatNoteVerifierKey(std::string_view name, uint8_t type, const crypto::PublicKey& key);

// The text of a signed note (everything before the blank line, with its
// final newline) and its signature lines (without their newlines).
struct NoteParts {
  std::string text;
  std::vector<std::string> signatures;
};
// InvalidArgument unless `note` is a signed note: text lines, a blank line,
// one or more "— " signature lines, each line ending in a newline.
StatusOr<NoteParts> SplitNote(std::string_view note);

// A cosignature line (with its final newline) by `name`'s Ed25519 key over
// the checkpoint text, at `timestamp` (Unix seconds).
StatusOr<std::string> Cosign(std::string_view name, const crypto::PrivateKey& key, std::string_view checkpoint_text,
                             uint64_t timestamp);

// Among `signature_lines`, finds the one by the cosignature/v1 key `vkey`
// over `checkpoint_text` and returns its timestamp; NotFound if there is
// none, PermissionDenied if one by that key does not verify.
StatusOr<uint64_t> VerifyCosignature(const NoteVerifierKeyParts& vkey, std::string_view checkpoint_text,
                                     const std::vector<std::string>& signature_lines);

// Whether the note carries a valid Ed25519 signature by `vkey` (type 0x01)
// over its text: OK, NotFound (no signature by that key), PermissionDenied.
Status VerifyNoteSignature(const NoteVerifierKeyParts& vkey, const NoteParts& note);

}  // namespace execgov::ledger
