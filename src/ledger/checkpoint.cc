#include "ledger/checkpoint.h"

#include <charconv>
#include <cstring>
#include <vector>

#include "crypto/encoding.h"
#include "ledger/record.h"

namespace execgov::ledger {
namespace {

constexpr std::string_view kSigPrefix = "\xe2\x80\x94 ";  // "— " (U+2014, space)
constexpr uint8_t kAlgEd25519 = 0x01;

// The 4-byte key hash of signed-note: SHA-256(name || "\n" || 0x01 || key)[:4].
std::string KeyHash(std::string_view name, const std::string& raw_public) {
  std::string buf(name);
  buf.push_back('\n');
  buf.push_back(static_cast<char>(kAlgEd25519));
  buf += raw_public;
  crypto::Hash h = crypto::Sha256(buf);
  return std::string(reinterpret_cast<const char*>(h.data()), 4);
}

bool ParseDecimal(std::string_view s, uint64_t* out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;  // canonical: no leading zeros
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

struct SplitNote {
  std::string_view body;  // up to and including the newline before the blank line
  std::vector<std::string_view> signature_lines;
};

StatusOr<SplitNote> Split(std::string_view note) {
  if (note.empty() || note.back() != '\n') return InvalidArgument("a signed note must end with a newline");
  size_t blank = note.find("\n\n");
  if (blank == std::string_view::npos) return InvalidArgument("a signed note needs a blank line before its signatures");
  SplitNote s;
  s.body = note.substr(0, blank + 1);
  for (char c : s.body) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\n') || c == 0x7f) {
      return InvalidArgument("a signed note's text may not hold control characters");
    }
  }
  s.signature_lines = SplitLines(note.substr(blank + 2));
  if (s.signature_lines.empty()) return InvalidArgument("a signed note needs at least one signature");
  for (auto line : s.signature_lines) {
    if (line.substr(0, kSigPrefix.size()) != kSigPrefix) {
      return InvalidArgument("signature lines of a signed note start with an em dash");
    }
  }
  return s;
}

StatusOr<Checkpoint> ParseBody(std::string_view body) {
  auto lines = SplitLines(body);
  if (lines.size() < 3) return InvalidArgument("a checkpoint has an origin, a size and a root hash line");
  Checkpoint c;
  c.origin = std::string(lines[0]);
  if (!ValidOrigin(c.origin)) return InvalidArgument("the checkpoint origin is empty or has spaces or '+'");
  if (!ParseDecimal(lines[1], &c.size)) return InvalidArgument("the checkpoint size is not a decimal number");
  auto root = crypto::Base64Decode(lines[2]);
  if (!root || root->size() != 32) return InvalidArgument("the checkpoint root is not base64 of 32 bytes");
  std::memcpy(c.root.data(), root->data(), 32);
  return c;
}

}  // namespace

bool ValidOrigin(std::string_view origin) {
  if (origin.empty()) return false;
  for (char c : origin) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '+') return false;
  }
  return true;
}

std::string CheckpointBody(const Checkpoint& c) {
  return c.origin + "\n" + std::to_string(c.size) + "\n" + crypto::Base64Encode(crypto::HashBytes(c.root)) + "\n";
}

StatusOr<std::string> SignCheckpoint(const Checkpoint& c, const crypto::PrivateKey& key) {
  if (key.algorithm() != crypto::KeyAlgorithm::kEd25519) return InvalidArgument("checkpoints are signed with Ed25519");
  if (!ValidOrigin(c.origin)) return InvalidArgument("the ledger origin \"" + c.origin + "\" cannot be a note key name");
  std::string body = CheckpointBody(c);
  EXECGOV_ASSIGN_OR_RETURN(std::string sig, key.Sign(body));
  std::string blob = KeyHash(c.origin, key.Public().Ed25519Raw()) + sig;
  return body + "\n" + std::string(kSigPrefix) + c.origin + " " + crypto::Base64Encode(blob) + "\n";
}

StatusOr<Checkpoint> ParseCheckpoint(std::string_view note) {
  EXECGOV_ASSIGN_OR_RETURN(SplitNote s, Split(note));
  return ParseBody(s.body);
}

StatusOr<Checkpoint> OpenCheckpoint(std::string_view note, const crypto::PublicKey& key) {
  if (key.algorithm() != crypto::KeyAlgorithm::kEd25519) return InvalidArgument("checkpoint keys are Ed25519");
  EXECGOV_ASSIGN_OR_RETURN(SplitNote s, Split(note));
  EXECGOV_ASSIGN_OR_RETURN(Checkpoint c, ParseBody(s.body));
  std::string want_hash = KeyHash(c.origin, key.Ed25519Raw());
  bool found = false;
  for (auto line : s.signature_lines) {
    line.remove_prefix(kSigPrefix.size());
    size_t sp = line.rfind(' ');
    if (sp == std::string_view::npos) return InvalidArgument("a signature line has no key name");
    std::string_view name = line.substr(0, sp);
    auto blob = crypto::Base64Decode(line.substr(sp + 1));
    if (!blob || blob->size() < 5) return InvalidArgument("a signature line is not base64 of a key hash and signature");
    // Signatures by other keys (witnesses, say) are allowed and ignored.
    if (name != c.origin || blob->substr(0, 4) != want_hash) continue;
    found = true;
    if (!key.Verify(s.body, blob->substr(4))) {
      return PermissionDenied("the checkpoint signature by \"" + c.origin + "\" does not verify");
    }
  }
  if (!found) {
    return PermissionDenied("the checkpoint is not signed by the checkpoint key under the name \"" + c.origin + "\"");
  }
  return c;
}

StatusOr<std::string> NoteVerifierKey(std::string_view name, const crypto::PublicKey& key) {
  if (key.algorithm() != crypto::KeyAlgorithm::kEd25519) return InvalidArgument("note keys are Ed25519");
  if (!ValidOrigin(name)) return InvalidArgument("invalid note key name");
  std::string raw = key.Ed25519Raw();
  std::string kh = KeyHash(name, raw);
  return std::string(name) + "+" + crypto::HexEncode(kh) + "+" +
         crypto::Base64Encode(std::string(1, static_cast<char>(kAlgEd25519)) + raw);
}

}  // namespace execgov::ledger
