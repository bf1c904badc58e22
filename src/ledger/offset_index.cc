#include "ledger/offset_index.h"

#include <limits>

namespace execgov::ledger {
namespace {

constexpr size_t kInitialSlots = 16;  // per table: 1,024 in all

}  // namespace

bool OffsetIndex::Insert(const Hash& h, uint64_t offset) {
  if (entries_.size() >= std::numeric_limits<uint32_t>::max() - 1) return false;
  const uint64_t prefix = Prefix(h);
  entries_.push_back({prefix, offset});
  Table& t = tables_[TableOf(prefix)];
  ++t.used;
  // At most 3/4 full: linear probing's runs stay short up to there with
  // uniform keys. Doubling keeps a table 3/8 to 3/4 full, 5 to 11 bytes
  // per record.
  if (t.slots.empty() || t.used * 4 > t.slots.size() * 3) Grow(t);
  Place(t.slots, static_cast<uint32_t>(entries_.size()));
  return true;
}

void OffsetIndex::Place(std::vector<uint32_t>& slots, uint32_t number) const {
  const uint64_t mask = slots.size() - 1;
  uint64_t i = entries_[number - 1].prefix & mask;
  while (slots[i] != 0) i = (i + 1) & mask;
  slots[i] = number;
}

void OffsetIndex::Grow(Table& t) {
  // The old table names exactly this table's records: only they move.
  std::vector<uint32_t> old = std::move(t.slots);
  t.slots.assign(old.empty() ? kInitialSlots : old.size() * 2, 0);
  for (uint32_t number : old) {
    if (number != 0) Place(t.slots, number);
  }
}

}  // namespace execgov::ledger
