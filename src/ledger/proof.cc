#include "ledger/proof.h"

#include <cstring>
#include <vector>

#include "crypto/encoding.h"
#include "ledger/merkle.h"
#include "ledger/record.h"

namespace execgov::ledger {

StatusOr<nlohmann::json> ProveInclusion(Backend& backend, uint64_t seq) {
  std::vector<Hash> leaves;
  std::string record, note;
  uint64_t checkpoint_size = 0;
  EXECGOV_RETURN_IF_ERROR(backend.Scan(0, UINT64_MAX, [&](uint64_t i, std::string_view bytes) -> Status {
    leaves.push_back(LeafHash(bytes));
    if (i == seq) record = std::string(bytes);
    auto hdr = ScanRecord(bytes);
    if (hdr.ok() && hdr->type == "checkpoint") {
      auto text = CheckpointNoteOf(*hdr);
      auto cp = text.ok() ? ParseCheckpoint(*text) : text.status();
      if (cp.ok() && cp->size == i) {
        note = *text;
        checkpoint_size = cp->size;
      }
    }
    return Status::Ok();
  }));
  if (seq >= leaves.size()) {
    return NotFound("the ledger has " + std::to_string(leaves.size()) + " records; there is no seq " +
                    std::to_string(seq));
  }
  if (checkpoint_size <= seq) {
    return FailedPrecondition("no checkpoint covers seq " + std::to_string(seq) + " yet (the latest covers " +
                              std::to_string(checkpoint_size) + " records)");
  }
  EXECGOV_ASSIGN_OR_RETURN(Checkpoint cp, ParseCheckpoint(note));
  if (RootOf({leaves.begin(), leaves.begin() + static_cast<ptrdiff_t>(cp.size)}) != cp.root) {
    return DataLoss("the latest checkpoint's root is not the root of the ledger's records: run ledger verify");
  }
  nlohmann::json path = nlohmann::json::array();
  for (const auto& h : InclusionProof(seq, cp.size, leaves)) path.push_back(crypto::Base64Encode(crypto::HashBytes(h)));
  return nlohmann::json{{"origin", cp.origin},
                        {"seq", seq},
                        {"size", cp.size},
                        {"leafHash", crypto::Base64Encode(crypto::HashBytes(leaves[seq]))},
                        {"proof", path},
                        {"record", record},
                        {"checkpoint", note}};
}

StatusOr<Checkpoint> VerifyInclusionProof(const nlohmann::json& proof, const crypto::PublicKey& key) {
  std::string origin, leaf_b64, record, note;
  uint64_t seq = 0, size = 0;
  std::vector<std::string> path;
  try {
    origin = proof.at("origin").get<std::string>();
    seq = proof.at("seq").get<uint64_t>();
    size = proof.at("size").get<uint64_t>();
    leaf_b64 = proof.at("leafHash").get<std::string>();
    record = proof.at("record").get<std::string>();
    note = proof.at("checkpoint").get<std::string>();
    for (const auto& p : proof.at("proof")) {
      auto raw = crypto::Base64Decode(p.get<std::string>());
      if (!raw) return InvalidArgument("a proof hash is not base64");
      path.push_back(*raw);
    }
  } catch (const nlohmann::json::exception& e) {
    return InvalidArgument(std::string("not an inclusion proof: ") + e.what());
  }
  EXECGOV_ASSIGN_OR_RETURN(Checkpoint cp, OpenCheckpoint(note, key));
  if (cp.origin != origin) return PermissionDenied("the proof's origin is not the checkpoint's");
  if (cp.size != size) return PermissionDenied("the proof's size is not the checkpoint's");
  auto leaf = crypto::Base64Decode(leaf_b64);
  if (!leaf) return InvalidArgument("leafHash is not base64");
  if (*leaf != crypto::HashBytes(LeafHash(record))) return PermissionDenied("the record does not hash to leafHash");
  auto hdr = ScanRecord(record);
  if (!hdr.ok()) return InvalidArgument("the record: " + hdr.status().message());
  if (hdr->seq != seq) return PermissionDenied("the record's seq is not the proof's seq");
  EXECGOV_RETURN_IF_ERROR(VerifyInclusion(seq, size, *leaf, path, crypto::HashBytes(cp.root)));
  return cp;
}

}  // namespace execgov::ledger
