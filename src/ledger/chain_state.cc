#include "ledger/chain_state.h"

#include <cstring>

#include "core/clock.h"
#include "crypto/encoding.h"

namespace execgov::ledger {

StatusOr<Hash> ChainState::Apply(std::string_view record) {
  auto header = ScanRecord(record);
  if (!header.ok()) return DataLoss("record " + std::to_string(size) + ": " + header.status().message());
  if (header->seq != size) {
    return DataLoss("record " + std::to_string(size) + " has seq " + std::to_string(header->seq));
  }
  if (header->prev != last) return DataLoss("record " + std::to_string(size) + ": prev is not the previous hash");
  Hash h = LeafHash(record);
  bool is_checkpoint = header->type == "checkpoint";
  if (is_checkpoint || size == 0) {
    auto t = ParseRfc3339(header->time);
    if (!t) return DataLoss("record " + std::to_string(size) + ": time is not RFC 3339");
    checkpoint_time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count();
  }
  since_checkpoint = is_checkpoint ? 0 : since_checkpoint + 1;
  tree.Append(h);
  last = h;
  ++size;
  return h;
}

bool ChainState::CheckpointDue(uint64_t every_records, std::chrono::milliseconds every,
                               std::chrono::system_clock::time_point now) const {
  if (since_checkpoint == 0) return false;
  if (since_checkpoint >= every_records) return true;
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  return now_ms - checkpoint_time_ms >= every.count();
}

nlohmann::json ChainState::ToJson() const {
  nlohmann::json subtrees = nlohmann::json::array();
  for (const auto& h : tree.subtrees()) subtrees.push_back(crypto::Base64Encode(crypto::HashBytes(h)));
  return {{"size", size},
          {"last", crypto::HashToSha256Ref(last)},
          {"subtrees", subtrees},
          {"sinceCheckpoint", since_checkpoint},
          {"checkpointTimeMs", checkpoint_time_ms}};
}

StatusOr<ChainState> ChainState::FromJson(const nlohmann::json& j) {
  ChainState s;
  try {
    s.size = j.at("size").get<uint64_t>();
    if (!crypto::ParseSha256Ref(j.at("last").get<std::string>(), &s.last)) return DataLoss("head: bad last hash");
    std::vector<Hash> subtrees;
    for (const auto& e : j.at("subtrees")) {
      auto raw = crypto::Base64Decode(e.get<std::string>());
      if (!raw || raw->size() != 32) return DataLoss("head: bad subtree hash");
      Hash h;
      std::memcpy(h.data(), raw->data(), 32);
      subtrees.push_back(h);
    }
    auto tree = MerkleFrontier::FromParts(s.size, std::move(subtrees));
    if (!tree.ok()) return DataLoss("head: " + tree.status().message());
    s.tree = std::move(tree).value();
    s.since_checkpoint = j.at("sinceCheckpoint").get<uint64_t>();
    s.checkpoint_time_ms = j.at("checkpointTimeMs").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    return DataLoss(std::string("head: ") + e.what());
  }
  return s;
}

}  // namespace execgov::ledger
