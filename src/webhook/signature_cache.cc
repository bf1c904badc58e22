#include "webhook/signature_cache.h"

#include <algorithm>
#include <limits>

namespace execgov::webhook {
namespace {

constexpr size_t kInitialTable = 64;

// Whether `home` lies in the cyclic range (from, to] of a table.
bool Between(size_t from, size_t home, size_t to) {
  return from <= to ? from < home && home <= to : home > from || home <= to;
}

}  // namespace

LruSignatureCache::LruSignatureCache(size_t capacity)
    : capacity_(static_cast<uint32_t>(std::min<size_t>(capacity, std::numeric_limits<uint32_t>::max() - 1))) {}

size_t LruSignatureCache::Find(const crypto::Hash& d) const {
  if (table_.empty()) return SIZE_MAX;
  const size_t mask = table_.size() - 1;
  for (size_t i = Home(d) & mask; table_[i] != 0; i = (i + 1) & mask) {
    if (slots_[table_[i] - 1].digest == d) return i;
  }
  return SIZE_MAX;
}

void LruSignatureCache::Link(uint32_t slot) const {
  Slot& s = slots_[slot];
  s.newer = kNone;
  s.older = newest_;
  if (newest_ != kNone) slots_[newest_].newer = slot;
  newest_ = slot;
  if (oldest_ == kNone) oldest_ = slot;
}

void LruSignatureCache::Unlink(uint32_t slot) const {
  Slot& s = slots_[slot];
  (s.newer != kNone ? slots_[s.newer].older : newest_) = s.older;
  (s.older != kNone ? slots_[s.older].newer : oldest_) = s.newer;
}

void LruSignatureCache::Remove(size_t pos) const {
  uint32_t slot = table_[pos] - 1;
  Unlink(slot);
  free_.push_back(slot);
  --size_;
  // Backward-shift deletion: move later entries of the probe run into the
  // hole unless their home lies after it, so every entry stays reachable
  // from its home without tombstones.
  const size_t mask = table_.size() - 1;
  size_t hole = pos;
  for (size_t j = (hole + 1) & mask; table_[j] != 0; j = (j + 1) & mask) {
    size_t home = Home(slots_[table_[j] - 1].digest) & mask;
    if (Between(hole, home, j)) continue;
    table_[hole] = table_[j];
    hole = j;
  }
  table_[hole] = 0;
}

void LruSignatureCache::Place(uint32_t slot) const {
  const size_t mask = table_.size() - 1;
  size_t i = Home(slots_[slot].digest) & mask;
  while (table_[i] != 0) i = (i + 1) & mask;
  table_[i] = slot + 1;
}

void LruSignatureCache::GrowTable() const {
  size_t n = std::max(kInitialTable, table_.size() * 2);
  table_.assign(n, 0);
  for (uint32_t s = newest_; s != kNone; s = slots_[s].older) Place(s);
}

bool LruSignatureCache::Contains(const std::string& key, int64_t now) const {
  crypto::Hash digest = crypto::Sha256(key);  // hashed before taking the lock
  std::lock_guard<std::mutex> lock(mu_);
  size_t pos = Find(digest);
  if (pos == SIZE_MAX) return false;
  uint32_t slot = table_[pos] - 1;
  if (now >= slots_[slot].expires_at) {
    Remove(pos);
    return false;
  }
  Unlink(slot);
  Link(slot);
  return true;
}

void LruSignatureCache::Insert(const std::string& key, int64_t expires_at) {
  if (capacity_ == 0) return;
  crypto::Hash digest = crypto::Sha256(key);
  std::lock_guard<std::mutex> lock(mu_);
  if (size_t pos = Find(digest); pos != SIZE_MAX) {
    uint32_t slot = table_[pos] - 1;
    slots_[slot].expires_at = expires_at;
    Unlink(slot);
    Link(slot);
    return;
  }
  if (size_ >= capacity_) Remove(Find(slots_[oldest_].digest));  // the least recently used
  uint32_t slot;
  if (!free_.empty()) {
    slot = free_.back();
    free_.pop_back();
  } else {
    slot = static_cast<uint32_t>(slots_.size());
    slots_.push_back({});
  }
  slots_[slot].digest = digest;
  slots_[slot].expires_at = expires_at;
  Link(slot);
  ++size_;
  if (table_.size() < 2 * size_) {
    GrowTable();  // places every linked slot, this one included
  } else {
    Place(slot);
  }
}

size_t LruSignatureCache::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return size_;
}

}  // namespace execgov::webhook
