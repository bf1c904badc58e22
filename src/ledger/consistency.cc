#include "ledger/consistency.h"

#include <vector>

#include "crypto/encoding.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

namespace execgov::ledger {
namespace {

std::string B64(const Hash& h) { return crypto::Base64Encode(crypto::HashBytes(h)); }

StatusOr<Checkpoint> Read(std::string_view note, const crypto::PublicKey* key, const char* which) {
  auto cp = key ? OpenCheckpoint(note, *key) : ParseCheckpoint(note);
  if (!cp.ok()) return Status(cp.status().code(), std::string(which) + ": " + cp.status().message());
  return cp;
}

}  // namespace

StatusOr<CheckpointedTree> ReadCheckpointedTree(Backend& backend) {
  CheckpointedTree out;
  Status st = backend.Scan(0, UINT64_MAX, [&](uint64_t i, std::string_view bytes) -> Status {
    auto hdr = ScanRecord(bytes);
    if (hdr.ok() && hdr->type == "checkpoint") {
      auto text = CheckpointNoteOf(*hdr);
      auto cp = text.ok() ? ParseCheckpoint(*text) : text.status();
      if (cp.ok() && cp->size == i) {
        out.note = *text;
        out.checkpoint = *cp;
      }
    }
    out.leaves.push_back(LeafHash(bytes));
    return Status::Ok();
  });
  EXECGOV_RETURN_IF_ERROR(st);
  if (out.note.empty()) return FailedPrecondition("the ledger has no checkpoint yet");
  const auto size = static_cast<ptrdiff_t>(out.checkpoint.size);
  if (RootOf({out.leaves.begin(), out.leaves.begin() + size}) != out.checkpoint.root) {
    return DataLoss("the ledger's latest checkpoint is not for its records: run ledger verify");
  }
  return out;
}

StatusOr<nlohmann::json> ProveConsistency(Backend& backend, std::string_view old_note, const crypto::PublicKey* key) {
  EXECGOV_ASSIGN_OR_RETURN(Checkpoint old, Read(old_note, key, "the earlier checkpoint"));
  if (old.size == 0) return InvalidArgument("a checkpoint of size 0 is consistent with anything; nothing to prove");
  EXECGOV_ASSIGN_OR_RETURN(CheckpointedTree tree, ReadCheckpointedTree(backend));
  const std::vector<Hash>& leaves = tree.leaves;
  const std::string& note = tree.note;
  EXECGOV_ASSIGN_OR_RETURN(Checkpoint now, Read(note, key, "the ledger's latest checkpoint"));
  if (now.origin != old.origin) {
    return PermissionDenied("the ledger is " + now.origin + ", the earlier checkpoint is of " + old.origin);
  }
  if (now.size < old.size) {
    return PermissionDenied("rolled back: the ledger's latest checkpoint is for size " + std::to_string(now.size) +
                            ", below the earlier checkpoint's " + std::to_string(old.size));
  }
  if (leaves.size() < old.size) {
    return PermissionDenied("rolled back: the ledger has " + std::to_string(leaves.size()) +
                            " records, the earlier checkpoint signed " + std::to_string(old.size));
  }
  Hash root1 = RootOf({leaves.begin(), leaves.begin() + static_cast<ptrdiff_t>(old.size)});
  if (root1 != old.root) {
    return PermissionDenied("fork: the ledger's records 0.." + std::to_string(old.size - 1) + " have root " + B64(root1) +
                            ", the earlier checkpoint for size " + std::to_string(old.size) + " signed " +
                            B64(old.root) + " (the history it signed was rewritten or forked)");
  }
  nlohmann::json path = nlohmann::json::array();
  if (old.size < now.size) {
    for (const auto& h : ConsistencyProof(old.size, now.size, leaves)) path.push_back(B64(h));
  }
  return nlohmann::json{{"origin", now.origin}, {"size1", old.size},  {"root1", B64(old.root)},
                        {"size2", now.size},    {"root2", B64(now.root)}, {"proof", path},
                        {"checkpoint1", std::string(old_note)}, {"checkpoint2", note}};
}

StatusOr<ConsistencyResult> VerifyConsistencyProof(const nlohmann::json& proof, const crypto::PublicKey& key,
                                                   std::string_view kept) {
  std::string origin, root1, root2, note1, note2;
  uint64_t size1 = 0, size2 = 0;
  std::vector<std::string> path;
  try {
    origin = proof.at("origin").get<std::string>();
    size1 = proof.at("size1").get<uint64_t>();
    size2 = proof.at("size2").get<uint64_t>();
    root1 = proof.at("root1").get<std::string>();
    root2 = proof.at("root2").get<std::string>();
    note1 = proof.at("checkpoint1").get<std::string>();
    note2 = proof.at("checkpoint2").get<std::string>();
    const auto& hashes = proof.at("proof");
    if (!hashes.is_array() || hashes.size() > 128) return InvalidArgument("proof is not an array of at most 128 hashes");
    for (const auto& p : hashes) {
      auto raw = crypto::Base64Decode(p.get<std::string>());
      if (!raw) return InvalidArgument("a proof hash is not base64");
      path.push_back(*raw);
    }
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("not a consistency proof: ") + e.what());
  }
  ConsistencyResult r;
  EXECGOV_ASSIGN_OR_RETURN(r.from, Read(note1, &key, "checkpoint1"));
  EXECGOV_ASSIGN_OR_RETURN(r.to, Read(note2, &key, "checkpoint2"));
  if (r.from.origin != origin || r.to.origin != origin) {
    return PermissionDenied("the checkpoints are of " + r.from.origin + " and " + r.to.origin + ", the proof of " + origin);
  }
  if (r.from.size != size1 || r.to.size != size2 || B64(r.from.root) != root1 || B64(r.to.root) != root2) {
    return PermissionDenied("the proof's sizes or roots are not its checkpoints'");
  }
  if (!kept.empty()) {
    EXECGOV_ASSIGN_OR_RETURN(Checkpoint k, Read(kept, &key, "the kept checkpoint"));
    if (k.origin != r.from.origin || k.size != r.from.size || k.root != r.from.root) {
      return PermissionDenied("checkpoint1 (size " + std::to_string(r.from.size) +
                              ") is not the kept checkpoint (size " + std::to_string(k.size) + ")");
    }
  }
  if (r.to.size < r.from.size) {
    return PermissionDenied("rolled back: checkpoint2 is for size " + std::to_string(r.to.size) + ", below checkpoint1's " +
                            std::to_string(r.from.size));
  }
  if (r.from.size == 0) return InvalidArgument("a checkpoint of size 0 is consistent with anything");
  Status st = VerifyConsistency(size1, size2, path, crypto::HashBytes(r.from.root), crypto::HashBytes(r.to.root));
  if (!st.ok()) {
    return PermissionDenied("fork: checkpoint2 (size " + std::to_string(size2) + ", root " + root2 +
                            ") does not extend checkpoint1 (size " + std::to_string(size1) + ", root " + root1 +
                            "): " + st.message());
  }
  return r;
}

}  // namespace execgov::ledger
