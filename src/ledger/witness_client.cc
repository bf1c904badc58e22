#include "ledger/witness_client.h"

#include "crypto/encoding.h"
#include "ledger/checkpoint.h"

namespace execgov::ledger {
namespace {

std::string RequestBody(uint64_t old_size, const std::vector<Hash>& proof, std::string_view note) {
  std::string body = "old " + std::to_string(old_size) + "\n";
  for (const auto& h : proof) body += crypto::Base64Encode(crypto::HashBytes(h)) + "\n";
  body += "\n";
  body += note;
  return body;
}

std::string FirstLine(const std::string& s) { return s.substr(0, std::min<size_t>(s.find('\n'), 300)); }

}  // namespace

StatusOr<CosignOutcome> RequestCosignature(kube::HttpClient& http, const NoteVerifierKeyParts& witness,
                                           std::string_view note, const std::vector<Hash>& leaves, uint64_t hint,
                                           int* http_status, uint64_t* known_size) {
  if (http_status) *http_status = 0;
  if (witness.type != kNoteAlgCosignatureV1) return InvalidArgument("witness key " + witness.name + " is not a cosignature/v1 key");
  EXECGOV_ASSIGN_OR_RETURN(NoteParts parts, SplitNote(note));
  EXECGOV_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpoint(note));
  if (cp.size > leaves.size()) return InvalidArgument("the checkpoint is for more records than given");
  uint64_t old_size = std::min<uint64_t>(hint, cp.size);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<Hash> proof;
    if (old_size > 0 && old_size < cp.size) proof = ConsistencyProof(old_size, cp.size, leaves);
    auto resp = http.Request("POST", "/add-checkpoint", RequestBody(old_size, proof, note), "text/plain");
    if (!resp.ok()) return Unavailable("witness " + witness.name + ": " + resp.status().message());
    if (http_status) *http_status = resp->status;
    if (resp->status == 200) {
      std::vector<std::string> lines;
      std::string_view rest = resp->body;
      while (!rest.empty() && lines.size() < 16) {
        size_t nl = rest.find('\n');
        if (nl == std::string_view::npos) break;
        lines.emplace_back(rest.substr(0, nl));
        rest.remove_prefix(nl + 1);
      }
      auto t = VerifyCosignature(witness, parts.text, lines);
      if (!t.ok()) return PermissionDenied("witness " + witness.name + " answered 200 without a valid cosignature: " + t.status().message());
      for (const auto& l : lines) {
        if (VerifyCosignature(witness, parts.text, {l}).ok()) return CosignOutcome{l + "\n", *t, old_size};
      }
    }
    if (resp->status == 409 && attempt == 0) {
      uint64_t known = 0;
      std::string text = resp->body;
      if (!text.empty() && text.back() == '\n') text.pop_back();
      bool numeric = !text.empty() && text.size() <= 20 && text.find_first_not_of("0123456789") == std::string::npos;
      if (numeric) {
        known = std::stoull(text);
        if (known_size) *known_size = known;
        if (known > cp.size) {
          return PermissionDenied("witness " + witness.name + " has cosigned size " + std::to_string(known) +
                                  ", above this checkpoint's " + std::to_string(cp.size) +
                                  ": the ledger was rolled back or forked");
        }
        old_size = known;
        continue;
      }
    }
    return PermissionDenied("witness " + witness.name + " refused the checkpoint for size " + std::to_string(cp.size) +
                            " (HTTP " + std::to_string(resp->status) + "): " + FirstLine(resp->body));
  }
  return PermissionDenied("witness " + witness.name + " kept answering 409");
}

std::string AddCosignatures(std::string_view note, const std::vector<std::string>& lines) {
  std::string out(note);
  for (const auto& l : lines) {
    out += l;
    if (out.back() != '\n') out += "\n";
  }
  return out;
}

StatusOr<size_t> CountCosignatures(std::string_view note, const std::vector<NoteVerifierKeyParts>& witnesses) {
  EXECGOV_ASSIGN_OR_RETURN(NoteParts parts, SplitNote(note));
  size_t n = 0;
  for (const auto& w : witnesses) {
    auto t = VerifyCosignature(w, parts.text, parts.signatures);
    if (t.ok()) {
      ++n;
    } else if (t.status().code() != StatusCode::kNotFound) {
      return t.status();
    }
  }
  return n;
}

}  // namespace execgov::ledger
