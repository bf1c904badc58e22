#include "ledger/cosignature.h"

#include "crypto/encoding.h"
#include "crypto/sha256.h"
#include "ledger/checkpoint.h"

namespace execgov::ledger {
namespace {

constexpr std::string_view kSigPrefix = "\xe2\x80\x94 ";  // "— "
// Far above any checkpoint this project writes or a witness should sign.
constexpr size_t kMaxNoteBytes = 16 * 1024;
constexpr size_t kMaxSignatures = 64;

std::string KeyId(std::string_view name, uint8_t type, const std::string& raw) {
  std::string buf(name);
  buf.push_back('\n');
  buf.push_back(static_cast<char>(type));
  buf += raw;
  crypto::Hash h = crypto::Sha256(buf);
  return std::string(reinterpret_cast<const char*>(h.data()), 4);
}

std::string CosignedMessage(uint64_t timestamp, std::string_view text) {
  return "cosignature/v1\ntime " + std::to_string(timestamp) + "\n" + std::string(text);
}

// The name and decoded blob of a signature line.
bool ParseSignatureLine(std::string_view line, std::string_view* name, std::string* blob) {
  if (line.substr(0, kSigPrefix.size()) != kSigPrefix) return false;
  line.remove_prefix(kSigPrefix.size());
  size_t sp = line.rfind(' ');
  if (sp == std::string_view::npos || sp == 0) return false;
  auto raw = crypto::Base64Decode(line.substr(sp + 1));
  if (!raw || raw->size() < 5) return false;
  *name = line.substr(0, sp);
  *blob = std::move(*raw);
  return true;
}

}  // namespace

StatusOr<NoteVerifierKeyParts> ParseNoteVerifierKey(std::string_view vkey) {
  size_t p1 = vkey.find('+');
  size_t p2 = p1 == std::string_view::npos ? p1 : vkey.find('+', p1 + 1);
  // The base64 key may hold '+' itself; the name and the ID cannot.
  if (p2 == std::string_view::npos) {
    return InvalidArgument("a verifier key is <name>+<hex key ID>+<base64 key>");
  }
  std::string name(vkey.substr(0, p1));
  if (!ValidOrigin(name)) return InvalidArgument("a verifier key's name has no spaces or '+'");
  auto id = crypto::HexDecode(vkey.substr(p1 + 1, p2 - p1 - 1));
  auto key = crypto::Base64Decode(vkey.substr(p2 + 1));
  if (!id || id->size() != 4 || vkey.substr(p1 + 1, p2 - p1 - 1).size() != 8) {
    return InvalidArgument("a verifier key's ID is 8 hex digits");
  }
  if (!key || key->size() != 33) return InvalidArgument("a verifier key is base64 of a type byte and 32 key bytes");
  auto type = static_cast<uint8_t>((*key)[0]);
  if (type != kNoteAlgEd25519 && type != kNoteAlgCosignatureV1) {
    return InvalidArgument("only Ed25519 (0x01) and cosignature/v1 (0x04) verifier keys are supported");
  }
  auto pub = crypto::PublicKey::FromEd25519Raw(key->substr(1));
  if (!pub.ok()) return InvalidArgument("a verifier key: " + pub.status().message());
  if (KeyId(name, type, key->substr(1)) != *id) {
    return InvalidArgument("a verifier key's ID does not match its name and key");
  }
  return NoteVerifierKeyParts{std::move(name), type, *id, *pub};
}

StatusOr<std::string> FormatNoteVerifierKey(std::string_view name, uint8_t type, const crypto::PublicKey& key) {
  if (key.algorithm() != crypto::KeyAlgorithm::kEd25519) return InvalidArgument("note keys are Ed25519");
  if (!ValidOrigin(name)) return InvalidArgument("a note key name has no spaces or '+'");
  std::string raw = key.Ed25519Raw();
  return std::string(name) + "+" + crypto::HexEncode(KeyId(name, type, raw)) + "+" +
         crypto::Base64Encode(std::string(1, static_cast<char>(type)) + raw);
}

StatusOr<NoteParts> SplitNote(std::string_view note) {
  if (note.size() > kMaxNoteBytes) return InvalidArgument("the note is larger than " + std::to_string(kMaxNoteBytes) + " bytes");
  if (note.empty() || note.back() != '\n') return InvalidArgument("a signed note ends with a newline");
  size_t blank = note.find("\n\n");
  if (blank == std::string_view::npos) return InvalidArgument("a signed note has a blank line before its signatures");
  NoteParts out;
  out.text = std::string(note.substr(0, blank + 1));
  for (char c : out.text) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) {
      return InvalidArgument("a signed note's text may not hold control characters");
    }
  }
  std::string_view rest = note.substr(blank + 2);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) return InvalidArgument("a signature line starts with an em dash");
    if (out.signatures.size() == kMaxSignatures) return InvalidArgument("a signed note with too many signatures");
    out.signatures.emplace_back(line);
    rest.remove_prefix(nl + 1);
  }
  if (out.signatures.empty()) return InvalidArgument("a signed note has at least one signature");
  return out;
}

StatusOr<std::string> Cosign(std::string_view name, const crypto::PrivateKey& key, std::string_view checkpoint_text,
                             uint64_t timestamp) {
  if (key.algorithm() != crypto::KeyAlgorithm::kEd25519) return InvalidArgument("cosignatures are Ed25519");
  if (!ValidOrigin(name)) return InvalidArgument("a witness name has no spaces or '+'");
  EXECGOV_ASSIGN_OR_RETURN(std::string sig, key.Sign(CosignedMessage(timestamp, checkpoint_text)));
  std::string blob = KeyId(name, kNoteAlgCosignatureV1, key.Public().Ed25519Raw());
  for (int shift = 56; shift >= 0; shift -= 8) blob.push_back(static_cast<char>((timestamp >> shift) & 0xff));
  blob += sig;
  return std::string(kSigPrefix) + std::string(name) + " " + crypto::Base64Encode(blob) + "\n";
}

StatusOr<uint64_t> VerifyCosignature(const NoteVerifierKeyParts& vkey, std::string_view checkpoint_text,
                                     const std::vector<std::string>& signature_lines) {
  if (vkey.type != kNoteAlgCosignatureV1) return InvalidArgument("not a cosignature/v1 key");
  for (const auto& line : signature_lines) {
    std::string_view name;
    std::string blob;
    if (!ParseSignatureLine(line, &name, &blob) || name != vkey.name || blob.substr(0, 4) != vkey.key_id) continue;
    if (blob.size() != 4 + 8 + 64) return PermissionDenied("a cosignature by " + vkey.name + " is malformed");
    uint64_t t = 0;
    for (int i = 0; i < 8; ++i) t = (t << 8) | static_cast<unsigned char>(blob[4 + i]);
    if (!vkey.key.Verify(CosignedMessage(t, checkpoint_text), blob.substr(12))) {
      return PermissionDenied("the cosignature by " + vkey.name + " does not verify");
    }
    return t;
  }
  return NotFound("no cosignature by " + vkey.name);
}

Status VerifyNoteSignature(const NoteVerifierKeyParts& vkey, const NoteParts& note) {
  if (vkey.type != kNoteAlgEd25519) return InvalidArgument("not an Ed25519 note key");
  bool found = false;
  for (const auto& line : note.signatures) {
    std::string_view name;
    std::string blob;
    if (!ParseSignatureLine(line, &name, &blob) || name != vkey.name || blob.substr(0, 4) != vkey.key_id) continue;
    found = true;
    if (blob.size() == 4 + 64 && vkey.key.Verify(note.text, blob.substr(4))) return Status::Ok();
  }
  return found ? PermissionDenied("the signature by " + vkey.name + " does not verify")
               : NotFound("no signature by " + vkey.name);
}

}  // namespace execgov::ledger
