#include "ledger/offset_index.h"

#include <limits>

namespace execgov::ledger {
namespace {

constexpr size_t kInitialSlots = 1024;

}  // namespace

bool OffsetIndex::Insert(const Hash& h, uint64_t offset) {
  if (entries_.size() >= std::numeric_limits<uint32_t>::max() - 1) return false;
  entries_.push_back({Prefix(h), offset});
  // At most 3/4 full: linear probing's runs stay short up to there with
  // uniform keys. Doubling keeps the table 3/8 to 3/4 full, 5 to 11 bytes
  // per record.
  if (slots_.empty() || entries_.size() * 4 > slots_.size() * 3) {
    Grow();
  } else {
    Place(static_cast<uint32_t>(entries_.size()));
  }
  return true;
}

void OffsetIndex::Place(uint32_t number) {
  const uint64_t mask = slots_.size() - 1;
  uint64_t i = entries_[number - 1].prefix & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = number;
}

void OffsetIndex::Grow() {
  size_t n = slots_.empty() ? kInitialSlots : slots_.size() * 2;
  slots_.clear();
  slots_.shrink_to_fit();  // the old table goes before the new one comes
  slots_.assign(n, 0);
  for (size_t k = 1; k <= entries_.size(); ++k) Place(static_cast<uint32_t>(k));
}

}  // namespace execgov::ledger
